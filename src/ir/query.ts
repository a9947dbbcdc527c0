/**
 * Query syntax:
 *   A -> B:PORT/PROTO        B a machine: any address or forward A could dial
 *   A -> ADDR:PORT/PROTO     A dials exactly ADDR (IPv6 in brackets: [::1]:22/tcp)
 *   A -> localhost:PORT/PROTO  each address localhost resolves to (127.0.0.1, ::1)
 *   A -> B/icmp, A -> ADDR/icmp   ping (echo request and reply)
 * PROTO defaults to tcp.
 */
import { formatIP, parseIP, type IP } from "../net/addr.js";

export type Target =
  { readonly kind: "machine"; readonly machine: string } | { readonly kind: "address"; readonly ip: IP } | { readonly kind: "localhost" };

export interface Query {
  readonly text: string;
  readonly from: string;
  readonly target: Target;
  readonly proto: "tcp" | "udp" | "icmp";
  /** undefined for icmp */
  readonly port?: number;
}

export type QueryParse = { ok: true; query: Query } | { ok: false; message: string; expected: string; offset: number };

const EXPECTED = '"A -> B:PORT/tcp", "A -> 10.0.2.15:22/udp", "A -> [::1]:22/tcp", "A -> localhost:8000/tcp" or "A -> B/icmp"';

/** A machine name a query can use: letters, digits, '_', '.', '-'. */
export const MACHINE_NAME = /^[A-Za-z0-9_.-]+$/;

export function parseQuery(text: string): QueryParse {
  const fail = (message: string, offset: number): QueryParse => ({ ok: false, message, expected: EXPECTED, offset });
  const arrow = text.indexOf("->");
  if (arrow < 0) return fail(`query "${text}" has no "->"`, 0);
  const from = text.slice(0, arrow).trim();
  let rest = text.slice(arrow + 2).trim();
  const restOffset = text.length - text.slice(arrow + 2).trimStart().length;
  if (!from) return fail("query has no source machine before '->'", 0);
  if (!MACHINE_NAME.test(from)) return fail(`'${from}' is not a machine name`, 0);
  let proto: Query["proto"] = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest
      .slice(slash + 1)
      .trim()
      .toLowerCase();
    if (p !== "tcp" && p !== "udp" && p !== "icmp") return fail(`unknown protocol '${p}'`, restOffset + slash + 1);
    proto = p;
    rest = rest.slice(0, slash).trim();
  }
  let host = rest;
  let portText: string | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) return fail("missing ']' after an IPv6 address", restOffset);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after) {
      if (!after.startsWith(":")) return fail(`unexpected '${after}' after ']'`, restOffset + close + 1);
      portText = after.slice(1);
    }
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon >= 0 && rest.indexOf(":") === colon) {
      host = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
    } else if (colon >= 0 && !(proto === "icmp" && parseIP(rest))) {
      return fail(`IPv6 address '${rest}' needs brackets when a port follows: [addr]:port`, restOffset);
    }
  }
  host = host.trim();
  if (!host) return fail("query has no destination after '->'", restOffset);
  let port: number | undefined;
  if (proto === "icmp") {
    if (portText !== undefined) return fail("icmp takes no port", restOffset);
  } else {
    if (portText === undefined) return fail(`a ${proto} query needs a port (${host}:PORT/${proto})`, restOffset);
    if (!/^\d+$/.test(portText.trim()) || Number(portText) < 1 || Number(portText) > 65535) {
      return fail(`'${portText}' is not a port (1-65535)`, restOffset);
    }
    port = Number(portText);
  }
  const ip = parseIP(host);
  let target: Target;
  if (ip) target = { kind: "address", ip };
  else if (host === "localhost") target = { kind: "localhost" };
  else if (MACHINE_NAME.test(host)) target = { kind: "machine", machine: host };
  else return fail(`'${host}' is neither a machine name nor an IP address`, restOffset);
  return { ok: true, query: { text: text.trim(), from, target, proto, ...(port !== undefined ? { port } : {}) } };
}

export function formatQuery(q: Query): string {
  const t = q.target;
  const host =
    t.kind === "machine"
      ? t.machine
      : t.kind === "localhost"
        ? "localhost"
        : t.ip.v === 6 && q.port !== undefined
          ? `[${formatIP(t.ip)}]`
          : formatIP(t.ip);
  return q.port === undefined ? `${q.from} -> ${host}/${q.proto}` : `${q.from} -> ${host}:${q.port}/${q.proto}`;
}
