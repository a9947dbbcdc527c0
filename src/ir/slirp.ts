/**
 * libslirp port forwards (VirtualBox/QEMU NAT, semantics.md 5), as both engines model them.
 */
import { sameIP } from "../net/addr.js";
import type { Machine, Socket } from "./types.js";

/**
 * Is this UDP port forward of a NAT engine shadowed by a later one? libslirp keeps its UDP
 * sockets newest first and sends a guest's answer out of the first one for the guest's address
 * and port, so of several UDP forwards of one engine to the same guest address and port only the
 * one added last answers its clients; the others' clients get the answer from another port and
 * drop it (measured with slirp4netns, forwards added in file order; docs/semantics.md 10).
 */
export function shadowedUdpForward(host: Machine, socket: Socket): boolean {
  const r = socket.role;
  if (socket.proto !== "udp" || r.kind !== "relay" || r.gateway === undefined) return false;
  const later = host.sockets.slice(host.sockets.indexOf(socket) + 1);
  return later.some(
    (s) =>
      s.proto === "udp" &&
      s.role.kind === "relay" &&
      s.role.gateway !== undefined &&
      s.role.engine === r.engine &&
      s.role.toPort === r.toPort &&
      sameIP(s.role.to, r.to),
  );
}
