/**
 * Lowering stage: VirtualBox. Host-only interfaces of the hosts, then each VM adapter: the VM's
 * interface on the adapter's segment, the default route its DHCP lease would give, and for NAT
 * and NAT Network the engine machine and the host's relay sockets of the port forwards.
 *
 * - NAT: a private segment `VM/natN` with a NAT engine machine (`VM-nat`, 10.0.x.2 and DNS .3)
 *   and the guest at .15 with a default route via .2; with IPv6 on (QEMU's user network unless
 *   `ipv6=off`) also fec0::2 and ::3, the guest's SLAAC address and a default route via ::2. The engine is a user-space process of the
 *   host: what the guest sends through it leaves as a new connection of the host, and each port
 *   forward is a listening socket of the host that relays to the guest from the engine
 *   (semantics.md section 5). A NAT Network is the same, shared, gateway .1.
 * - Host-only: the host gets `vboxnetN` (192.168.(56+N).1/24) on segment `HOST/vboxnetN`.
 * - Bridged: the VM joins the segment of the host interface it bridges to.
 * - Internal: segment `HOST/intnet:NAME`, VMs only.
 */
import { prefixOf, type IfAddr, type IP } from "../net/addr.js";
import type { Origin, Route, Socket } from "../ir/types.js";
import type { Path } from "../topology/load.js";
import type { AdapterDoc, ForwardDoc, MachineDoc } from "../topology/schema.js";
import {
  adapterInterfaceName,
  DEFAULT_NATNETWORK,
  engineNames,
  FIRST_UNPRIVILEGED_PORT,
  hostInNet,
  HOSTONLY_DHCP_FIRST,
  hostOnlyDefault,
  NAT_DNS,
  NAT_ENGINE_WORDS,
  NAT_GATEWAY,
  NAT_GUEST,
  natGuest6,
  natIpv6Network,
  natIpv6On,
  natLocalhostReachable,
  NATNET_GATEWAY,
  NATNET_LOOPBACK_OFFSET,
  natAdapterNetwork,
  segmentNames,
} from "../topology/vbox.js";
import {
  addSegment,
  cidrOf,
  ipOf,
  machineOf,
  must,
  newMachine,
  portOf,
  reworded,
  SERVICE_ROLE,
  type LowerCtx,
  type MutableMachine,
  sub,
} from "./context.js";

/** Host-only interfaces the hosts declare, then every adapter of every VM, in file order. */
export function lowerVirtualBox(ctx: LowerCtx): void {
  // indexed: a for-of with destructuring over 10,000 machines makes an iterator result a step until optimized
  const docs = ctx.machineDocs;
  for (let i = 0; i < docs.length; i++) {
    const hostonly = docs[i]![1].hostonly;
    if (hostonly) for (const net of Object.keys(hostonly)) hostOnly(ctx, docs[i]![0], net);
  }
  for (let i = 0; i < docs.length; i++) {
    const name = docs[i]![0];
    const md = docs[i]![1];
    if (!md.vm) continue;
    const vm = machineOf(ctx, name);
    const host = machineOf(ctx, md.vm.on);
    md.vm.adapters.forEach((a, slot) => lowerAdapter(ctx, { name, md, vm, host, a, slot }));
  }
}

/** One adapter of one VM, and what each of its parts is called. */
interface Adapter {
  readonly name: string;
  readonly md: MachineDoc;
  readonly vm: MutableMachine;
  readonly host: MutableMachine;
  readonly a: AdapterDoc;
  readonly slot: number;
}

const adapterPath = (ad: Adapter): Path => ["machines", ad.name, "vm", "adapters", ad.slot];
const adapterWhat = (ad: Adapter) => `${ad.name}'s ${ad.a.mode} adapter ${ad.slot + 1}`;

/** The VM's interface for this adapter. */
function adapterIface(ctx: LowerCtx, ad: Adapter, segment: string, addrs: IfAddr[]): void {
  ad.vm.interfaces.push({ name: adapterInterfaceName(ad.a, ad.slot), segment, addrs, origin: ctx.o(adapterPath(ad), adapterWhat(ad)) });
}

/** The default route a DHCP lease (or the adapter's `gateway`) gives; finish() keeps the first per family. */
function defaultVia(ad: Adapter, gw: IP, origin: Origin): void {
  ad.vm.implicitDefaults.push({
    dst: { v: gw.v, n: 0n, len: 0 },
    via: gw,
    dev: adapterInterfaceName(ad.a, ad.slot),
    type: "static",
    origin,
  });
}

function lowerAdapter(ctx: LowerCtx, ad: Adapter): void {
  const { a } = ad;
  switch (a.mode) {
    case "nat":
      return natAdapter(ctx, ad, a);
    case "natnetwork":
      return natNetworkAdapter(ctx, ad, a);
    case "bridged": {
      const hostIf = must(
        ad.host.interfaces.find((i) => i.name === a.bridge),
        a.bridge,
      );
      adapterIface(ctx, ad, must(hostIf.segment ?? undefined, "bridge segment"), a.addresses.map(cidrOf));
      if (a.gateway !== undefined) defaultVia(ad, ipOf(a.gateway), ctx.o(sub(adapterPath(ad), "gateway"), `gateway of ${adapterWhat(ad)}`));
      return;
    }
    case "hostonly":
      return hostOnlyAdapter(ctx, ad, a);
    case "internal": {
      const seg = segmentNames.internal(ad.md.vm!.on, a.network ?? "intnet");
      addSegment(ctx, seg, [], ctx.o(adapterPath(ad), `internal network '${a.network ?? "intnet"}'`), "vbox-internal");
      adapterIface(ctx, ad, seg, a.addresses.map(cidrOf));
      return;
    }
    case "none":
      return;
  }
}

type ModeDoc<M extends AdapterDoc["mode"]> = Extract<AdapterDoc, { mode: M }>;

function natAdapter(ctx: LowerCtx, ad: Adapter, a: ModeDoc<"nat">): void {
  const ap = adapterPath(ad);
  const what = adapterWhat(ad);
  const kind = a.engine ?? "virtualbox";
  const words = NAT_ENGINE_WORDS[kind];
  const net = must(natAdapterNetwork(a.network, ad.slot, kind), "nat network");
  const net6 = natIpv6On(a) ? must(natIpv6Network(a.ipv6Network), "nat IPv6 network") : undefined;
  const seg = segmentNames.nat(ad.name, ad.slot);
  const gw = hostInNet(net, NAT_GATEWAY);
  const gw6 = net6 && hostInNet(net6, NAT_GATEWAY);
  const engineName = engineNames.nat(ad.name, ad.slot);
  const engine = newMachine(ctx, engineName, "nat-engine", ctx.o(ap, `${words.engine} of ${what}`));
  const served = [net, ...(net6 ? [net6] : [])];
  engine.interfaces.push({
    name: "nat",
    segment: seg,
    addrs: served.flatMap((p) => [NAT_GATEWAY, NAT_DNS].map((h) => ({ ip: hostInNet(p, h), len: p.len }))),
    origin: engine.origin,
  });
  for (const v of [4, 6] as const) if (v === 4 || net6) engine.staticRoutes.push(engineOnLink(engine.origin, v));
  // The NAT engine's DNS proxy on .3 (::3) relays queries to the host's resolvers (assumed to answer).
  for (const p of served)
    for (const proto of ["udp", "tcp"] as const) engine.sockets.push(dnsProxy(words.dns, proto, hostInNet(p, NAT_DNS), engine.origin));
  const reach = natLocalhostReachable(a);
  engine.engine = {
    kind,
    host: ad.md.vm!.on,
    gateway: gw,
    loopbackAddress: gw,
    ...(gw6 ? { loopbackAddress6: gw6 } : {}),
    loopbackReachable: reach,
    origin: ctx.o(a.localhostReachable !== undefined ? sub(ap, "localhostReachable") : ap, `localhost-reachable of ${what}`),
  };
  addSegment(ctx, seg, served, engine.origin, "vbox-nat");
  const guest = hostInNet(net, NAT_GUEST);
  adapterIface(ctx, ad, seg, [{ ip: guest, len: net.len }, ...(net6 ? [{ ip: natGuest6(net6, ad.slot), len: net6.len }] : [])]);
  defaultVia(ad, gw, ctx.o(ap, `default route of ${what} (DHCP from the NAT engine)`));
  if (gw6) defaultVia(ad, gw6, ctx.o(ap, `IPv6 default route of ${what} (router advertisement of the NAT engine)`));
  // A forward below port 1024 never listens unless VirtualBox runs as root (the checker warns).
  (a.forwards ?? []).forEach(
    (f, k) =>
      (ad.md.vm!.asRoot || portOf(f.hostPort) >= FIRST_UNPRIVILEGED_PORT) &&
      ad.host.sockets.push(
        relaySocket(
          f,
          { engine: engineName, owner: words.forward },
          guest,
          gw,
          ctx.o(
            sub(ap, "forwards", k),
            `${kind === "qemu" ? "hostfwd" : "port forward"} ${f.name ? `"${f.name}" ` : ""}of ${ad.name}'s NAT adapter ${ad.slot + 1}`,
          ),
        ),
      ),
  );
}

const dnsProxy = (owner: string, proto: "udp" | "tcp", bind: IP, origin: Origin): Socket => ({
  owner,
  proto,
  bind,
  port: 53,
  v6only: false,
  pktinfo: true,
  role: SERVICE_ROLE,
  origin,
});

function natNetworkAdapter(ctx: LowerCtx, ad: Adapter, a: ModeDoc<"natnetwork">): void {
  const nn = must(ctx.doc.natnetworks?.[a.network], a.network);
  const net = prefixOf(cidrOf(nn.network ?? DEFAULT_NATNETWORK).ip, cidrOf(nn.network ?? DEFAULT_NATNETWORK).len);
  const hosts = new Set(
    Object.values(ctx.doc.machines)
      .filter((x) => x.vm?.adapters.some((y) => y.mode === "natnetwork" && y.network === a.network))
      .map((x) => x.vm!.on),
  );
  const hostName = ad.md.vm!.on;
  const perHost = hosts.size > 1 ? hostName : undefined;
  const seg = segmentNames.natnetwork(a.network, perHost);
  const gw = hostInNet(net, NATNET_GATEWAY);
  const engineName = engineNames.natnetwork(a.network, perHost);
  if (!ctx.natNetEngines.has(engineName)) {
    const np: Path = ["natnetworks", a.network];
    const engine = newMachine(ctx, engineName, "nat-engine", ctx.o(np, `VirtualBox NAT Network '${a.network}'`));
    // `VBoxManage natnetwork list` shows the default "loopback mappings (ipv4) 127.0.0.1=2":
    // offset 2 of the network stands for the host's loopback.
    const loop = hostInNet(net, NATNET_LOOPBACK_OFFSET);
    engine.interfaces.push({
      name: "nat",
      segment: seg,
      addrs: [
        { ip: gw, len: net.len },
        { ip: loop, len: net.len },
      ],
      origin: engine.origin,
    });
    engine.staticRoutes.push(engineOnLink(engine.origin, 4));
    engine.engine = {
      kind: "virtualbox",
      host: hostName,
      gateway: gw,
      loopbackAddress: loop,
      loopbackReachable: true,
      origin: engine.origin,
    };
    addSegment(ctx, seg, [net], engine.origin, "vbox-natnetwork");
    (nn.forwards ?? []).forEach((f, k) =>
      ad.host.sockets.push(
        relaySocket(
          f,
          { engine: engineName, owner: NAT_ENGINE_WORDS.virtualbox.forward },
          undefined,
          gw,
          ctx.o(sub(np, "forwards", k), `port forward ${f.name ? `"${f.name}" ` : ""}of NAT Network '${a.network}'`),
        ),
      ),
    );
    ctx.natNetEngines.set(engineName, engine);
  }
  adapterIface(ctx, ad, seg, a.addresses.map(cidrOf));
  defaultVia(ad, gw, ctx.o(adapterPath(ad), `default route of ${adapterWhat(ad)} (DHCP from the NAT Network)`));
}

function hostOnlyAdapter(ctx: LowerCtx, ad: Adapter, a: ModeDoc<"hostonly">): void {
  const net = a.network ?? "vboxnet0";
  const h = hostOnly(ctx, ad.md.vm!.on, net);
  const hostIf = must(
    h.interfaces.find((i) => i.name === net),
    net,
  );
  const addrs = a.addresses ? a.addresses.map(cidrOf) : [dhcpLease(ctx, ad.md.vm!.on, net, hostIf.addrs)];
  adapterIface(ctx, ad, must(hostIf.segment ?? undefined, "host-only segment"), addrs);
}

/** The DHCP server hands out the next pool address that no VM on this network has set statically. */
function dhcpLease(ctx: LowerCtx, hostName: string, net: string, hostAddrs: readonly IfAddr[]): IfAddr {
  const first = must(
    hostAddrs.find((x) => x.ip.v === 4),
    "host-only IPv4",
  );
  const key = `${hostName}/${net}`;
  const p = prefixOf(first.ip, first.len);
  const taken = Object.values(ctx.doc.machines)
    .filter((x) => x.vm?.on === hostName)
    .flatMap((x) => x.vm!.adapters.flatMap((y) => (y.mode === "hostonly" && (y.network ?? "vboxnet0") === net ? (y.addresses ?? []) : [])))
    .map((t) => cidrOf(t).ip);
  let k = ctx.dhcpNext.get(key) ?? 0;
  while (taken.some((t) => t.n === hostInNet(p, HOSTONLY_DHCP_FIRST + k).n)) k++;
  ctx.dhcpNext.set(key, k + 1);
  return { ip: hostInNet(p, HOSTONLY_DHCP_FIRST + k), len: first.len };
}

/** The host's host-only interface `net` (declared, or implied by a VM's adapter) and its segment, made once. */
function hostOnly(ctx: LowerCtx, host: string, net: string): MutableMachine {
  const h = machineOf(ctx, host);
  if (!h.interfaces.some((i) => i.name === net)) {
    const decl = ctx.doc.machines[host]?.hostonly?.[net];
    const addrs = decl ? decl.addresses.map(cidrOf) : [must(hostOnlyDefault(net), net)];
    const origin = decl ? ctx.o(["machines", host, "hostonly", net], `host-only network ${net}`) : h.origin;
    h.interfaces.push({ name: net, segment: segmentNames.hostonly(host, net), addrs, origin });
    addSegment(
      ctx,
      segmentNames.hostonly(host, net),
      addrs.map((a) => prefixOf(a.ip, a.len)),
      origin,
      "vbox-hostonly",
    );
  }
  return h;
}

/**
 * A NAT engine answers a guest on its link whatever the guest's source address (libslirp
 * resolves any address by ARP on its network; measured with slirp4netns: a guest that SNATs
 * its connection to another of its addresses still gets the answer). Kernel-tested by
 * `reach emulate`, 2026-11-23.
 */
const engineOnLink = (origin: Origin, v: 4 | 6): Route => ({
  dst: { v, n: 0n, len: 0 },
  dev: "nat",
  type: "static",
  origin: reworded(origin, `${origin.what}: answers its guests on the link`),
});

function relaySocket(
  f: ForwardDoc,
  by: { engine: string; owner: string },
  defaultGuest: IP | undefined,
  gateway: IP,
  origin: Origin,
): Socket {
  return {
    owner: `${by.owner}${f.name ? ` "${f.name}"` : ""}`,
    proto: f.proto ?? "tcp",
    bind: f.hostIp ? ipOf(f.hostIp) : ipOf("0.0.0.0"),
    port: portOf(f.hostPort),
    v6only: false,
    role: {
      kind: "relay",
      engine: by.engine,
      to: f.guestIp ? ipOf(f.guestIp) : must(defaultGuest, "guest ip of a NAT Network forward"),
      toPort: portOf(f.guestPort),
      gateway,
    },
    origin,
  };
}
