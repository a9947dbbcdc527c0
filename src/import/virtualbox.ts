/**
 * `reach import virtualbox FILE...`: VirtualBox's own descriptions of VMs and
 * networks. Each file's format is recognised by its content; all files of one
 * import make one fragment (a VM from a .vbox file and the host-only networks
 * of `VBoxManage list hostonlyifs` end up together).
 *
 * Formats (VirtualBox sources: VBoxManageInfo.cpp, VBoxManageList.cpp,
 * VBoxManageNATNetwork.cpp, Main/xml/Settings.cpp; the manual's "Virtual
 * Networking" chapter):
 * - `VBoxManage showvminfo --machinereadable VM`: `key="value"` lines;
 * - a machine settings file (`VM.vbox`, XML);
 * - `VBoxManage list hostonlyifs`: blank-line separated `Key: value` blocks;
 * - `VBoxManage natnetwork list` (and the older `list natnets`): `Key: value`
 *   blocks with indented port-forward and loopback-mapping lists.
 *
 * What VirtualBox files never say is assumed and noted: the addresses a guest
 * gets by DHCP on bridged, NAT Network and internal adapters (left empty for
 * the merger), and what listens behind a port forward's guest port.
 */
import { SaxesParser } from "saxes";
import { diagnostic, type Code, type Diagnostic, type Span } from "../diagnostics/diagnostic.js";
import { formatIP, parseCidr, parseIP, prefixOf, type IP } from "../net/addr.js";
import type { AdapterDoc, ForwardDoc, MachineDoc, ServiceDoc, TopologyDoc } from "../topology/schema.js";
import { hostOnlyDefault, NATNET_GATEWAY, NATNET_LOOPBACK_OFFSET, natAdapterNetwork } from "../topology/vbox.js";
import { Findings, spanAt, spanLine, type Importer, type ImportOptions, type ImportResult, type Source } from "./types.js";

type NatNetworkDoc = NonNullable<TopologyDoc["natnetworks"]>[string];

const FORMATS =
  "VBoxManage showvminfo --machinereadable output, a .vbox machine settings file, VBoxManage list hostonlyifs output, or VBoxManage natnetwork list output";

/** A Linux interface name as the topology language accepts it (IFNAMSIZ, no spaces, '/' or ':'). */
const IFNAME = /^[^\s/:]{1,15}$/;

/** Everything read from all files of one import, before it becomes a fragment. */
class Reader extends Findings {
  readonly vms = new Map<string, { machine: MachineDoc; span: Span }>();
  readonly hostonly: Record<string, { addresses: string[] }> = {};
  readonly natnetworks: Record<string, NatNetworkDoc> = {};
  /** NAT Networks VMs use, with where the first use was read. */
  readonly natnetworkUses = new Map<string, Span>();

  constructor(readonly options: ImportOptions) {
    super();
  }
}

// ---------------------------------------------------------------------------
// Adapters, forwards and VMs, whatever file they came from

/** A NAT port forward's six fields as VirtualBox stores them (all text, empty when not set). */
interface RawForward {
  readonly name: string;
  readonly proto: "tcp" | "udp";
  readonly hostIp: string;
  readonly hostPort: string;
  readonly guestIp: string;
  readonly guestPort: string;
}

type Field = "name" | "proto" | "hostIp" | "hostPort" | "guestIp" | "guestPort";

function port(r: Reader, text: string, span: Span, what: string): number | undefined {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (n >= 1 && n <= 65535) return n;
  r.report("RCH012", span, `${what} '${text}' is not a port`, "an integer from 1 to 65535");
  return undefined;
}

function ipv4(r: Reader, text: string, span: Span, what: string): string | undefined {
  const ip = parseIP(text);
  if (ip?.v === 4) return text;
  r.report("RCH010", span, `${what} '${text}' is not an IPv4 address`, "an IPv4 address such as 127.0.0.1, or empty");
  return undefined;
}

/**
 * A port forward (`--natpf<N>` / `--port-forward-4`): empty host IP = every
 * host IPv4 address, empty guest IP = the guest's DHCP address (VirtualBox
 * manual, "Configuring Port Forwarding with NAT").
 */
function forwardDoc(r: Reader, f: RawForward, at: (field: Field) => Span): ForwardDoc | undefined {
  const hostPort = port(r, f.hostPort, at("hostPort"), "host port");
  const guestPort = port(r, f.guestPort, at("guestPort"), "guest port");
  const hostIp = f.hostIp === "" ? "" : ipv4(r, f.hostIp, at("hostIp"), "host IP");
  const guestIp = f.guestIp === "" ? "" : ipv4(r, f.guestIp, at("guestIp"), "guest IP");
  if (hostPort === undefined || guestPort === undefined || hostIp === undefined || guestIp === undefined) return undefined;
  return {
    ...(f.name ? { name: f.name } : {}),
    proto: f.proto,
    ...(hostIp ? { hostIp } : {}),
    hostPort,
    ...(guestIp ? { guestIp } : {}),
    guestPort,
  };
}

/** A bridged adapter's host interface: `en0` of "en0: Wi-Fi"; the first word of other names. */
function bridgeName(r: Reader, text: string, span: Span): string | undefined {
  const first = text.split(":")[0]!.trim().split(/\s+/)[0] ?? "";
  if (IFNAME.test(first)) return first;
  r.warn(
    span,
    `bridged adapter on host interface '${text}': no Linux-style interface name can be taken from it`,
    "a host interface name of 1 to 15 characters without spaces, '/' or ':' (e.g. en0, eth0, wlp2s0)",
  );
  return undefined;
}

/** A host-only adapter's network; the topology language knows host-only networks named vboxnetN. */
function hostOnlyName(r: Reader, text: string, span: Span): string | undefined {
  if (hostOnlyDefault(text)) return text;
  r.warn(
    span,
    `host-only network '${text}' is not named vboxnetN, which is all the topology language describes`,
    "vboxnet0, vboxnet1, ... (Linux and macOS host-only interfaces)",
  );
  return undefined;
}

/**
 * Adds a VM: drops disabled adapters after the last enabled one (positions
 * before it stay, since slot k's NAT network is 10.0.(k+2).0/24), notes the
 * addresses VirtualBox files do not hold, and assumes a service behind each
 * NAT forward's guest port.
 */
function addVm(r: Reader, name: string, span: Span, adapters: AdapterDoc[]): void {
  while (adapters.length && adapters[adapters.length - 1]!.mode === "none") adapters.pop();
  const services: ServiceDoc[] = [];
  const assumed: string[] = [];
  adapters.forEach((a, slot) => {
    const where = `${name}'s adapter ${slot + 1}`;
    if (a.mode === "nat") {
      const net = natAdapterNetwork(a.network, slot);
      const guest = net && formatIP({ v: 4, n: net.n + 15n });
      for (const f of a.forwards ?? []) {
        if (f.guestIp && f.guestIp !== guest) continue; // relayed to another address: nothing known listens there
        const proto = f.proto ?? "tcp";
        if (services.some((s) => (s.proto ?? "tcp") === proto && s.port === f.guestPort)) continue;
        services.push({ name: `${f.name ?? `${proto}/${String(f.guestPort)}`} (assumed)`, proto, port: f.guestPort });
        assumed.push(`${String(f.guestPort)}/${proto}`);
      }
    } else if (a.mode === "bridged") {
      r.note(`${where} is bridged to ${a.bridge}: the guest's LAN address (usually DHCP from the LAN) is not in VirtualBox's files.`);
    } else if (a.mode === "internal") {
      r.note(
        `${where} is on internal network ${a.network ?? "intnet"}: VirtualBox runs no DHCP there, the guest's address is configured inside the guest and not in VirtualBox's files.`,
      );
    } else if (a.mode === "natnetwork") {
      r.note(
        `${where} is on NAT Network ${a.network}: the guest's address comes from the NAT Network's DHCP server and is not in VirtualBox's files.`,
      );
    } else if (a.mode === "hostonly") {
      r.note(
        `${where} is on host-only network ${a.network ?? "vboxnet0"}: its address is not in VirtualBox's files; the host-only DHCP server's lease is assumed (the topology's default, from .101).`,
      );
    }
  });
  if (assumed.length)
    r.note(
      `${name}: the inputs do not say what listens behind its port forwards; assumed a service on ${assumed.join(", ")} bound to every address.`,
    );
  const machine: MachineDoc = { vm: { on: r.options.host, adapters }, ...(services.length ? { services } : {}) };
  const had = r.vms.get(name);
  if (!had) r.vms.set(name, { machine, span });
  else if (JSON.stringify(had.machine) !== JSON.stringify(machine)) {
    r.diagnostics.push(
      diagnostic(
        "RCH053",
        span,
        `VM '${name}' is described twice, differently; kept the description from ${had.span.file}:${had.span.line}`,
        {
          expected: "one description per VM",
          severity: "warning",
        },
      ),
    );
  }
}

function useNatNetwork(r: Reader, network: string, span: Span): void {
  if (!r.natnetworkUses.has(network)) r.natnetworkUses.set(network, span);
}

// ---------------------------------------------------------------------------
// VBoxManage showvminfo --machinereadable

/**
 * One `key="value"` line. Keys may be quoted ("SATA-0-0"="..."); values are
 * quoted with backslash escapes, or bare numbers (VBoxManageInfo.cpp,
 * outputMachineReadableString).
 */
const KV = /^("(?:[^"\\]|\\.)*"|[^="]+)=(.*)$/;

function unquote(text: string): string | undefined {
  if (!text.startsWith('"')) return text;
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(text);
  return m ? m[1]!.replace(/\\(.)/g, "$1") : undefined;
}

/** What one NIC line set: its attachment (`nicN`) and the mode's detail (`natnetN`, `bridgeadapterN`, ...). */
interface ShowNic {
  mode?: { value: string; span: Span };
  detail: Record<string, { value: string; span: Span }>;
  forwards: { value: string; line: number; col: number }[];
  cableOff?: Span;
}

/** nicN values (VBoxManageInfo.cpp): the mode's detail key, or undefined for "no connection". */
const SHOW_DETAIL: Record<string, string | undefined> = {
  nat: "natnet",
  bridged: "bridgeadapter",
  hostonly: "hostonlyadapter",
  intnet: "intnet",
  natnetwork: "nat-network",
  none: undefined,
  null: undefined,
};

function readShowvminfo(r: Reader, src: Source): void {
  const lines = src.text.split(/\r?\n/);
  const nics = new Map<number, ShowNic>();
  const nic = (n: number) => {
    let x = nics.get(n);
    if (!x) nics.set(n, (x = { detail: {}, forwards: [] }));
    return x;
  };
  let name: { value: string; span: Span } | undefined;
  let lastNic: number | undefined;
  lines.forEach((line, i) => {
    const m = KV.exec(line);
    if (!m) return;
    const key = m[1]!.startsWith('"') ? m[1]!.slice(1, -1) : m[1]!;
    const raw = m[2]!;
    const col = m[1]!.length + 2;
    const span = spanLine(src, i + 1, col);
    const relevant =
      key === "name" ||
      /^(nic|natnet|bridgeadapter|hostonlyadapter|intnet|nat-network|cableconnected)\d+$/.test(key) ||
      /^Forwarding\(\d+\)$/.test(key);
    if (!relevant) return;
    const value = unquote(raw);
    if (value === undefined) {
      r.report(
        "RCH055",
        span,
        `the value of ${key} is cut off (no closing quote)`,
        'key="value" lines as VBoxManage showvminfo --machinereadable prints them',
      );
      return;
    }
    if (key === "name") {
      name ??= { value, span };
      return;
    }
    if (key.startsWith("Forwarding(")) {
      if (lastNic === undefined)
        r.warn(span, `${key} before any nicN line: its adapter is unknown`, "Forwarding(i) lines after the nicN line of their NAT adapter");
      else nic(lastNic).forwards.push({ value, line: i + 1, col: col + 1 });
      return;
    }
    const km = /^([a-z-]+)(\d+)$/.exec(key)!;
    const n = Number(km[2]);
    if (n < 1 || n > 36) return;
    if (km[1] === "nic") {
      nic(n).mode = { value, span };
      lastNic = n;
    } else if (km[1] === "cableconnected") {
      if (value === "off") nic(n).cableOff = span;
    } else nic(n).detail[km[1]!] = { value, span };
  });
  if (!name) {
    r.report(
      "RCH055",
      spanLine(src, 1),
      'no name="..." line: the VM has no name',
      "the complete output of VBoxManage showvminfo --machinereadable VM",
    );
    return;
  }
  const count = Math.max(0, ...nics.keys());
  const adapters: AdapterDoc[] = [];
  for (let n = 1; n <= count; n++) adapters.push(showAdapter(r, src, n, nics.get(n)));
  if (adapters.some((a) => a.mode === "nat")) {
    r.note(
      "VBoxManage showvminfo --machinereadable does not print a NAT adapter's localhost-reachable setting: assumed off (VirtualBox 7's default for new VMs), so 10.0.x.2 does not reach the host's loopback.",
    );
  }
  addVm(r, name.value, name.span, adapters);
}

function showAdapter(r: Reader, src: Source, n: number, x: ShowNic | undefined): AdapterDoc {
  if (!x?.mode) return { mode: "none" };
  const mode = x.mode.value;
  if (!Object.hasOwn(SHOW_DETAIL, mode)) {
    r.warn(
      x.mode.span,
      `adapter ${n} is attached as '${mode}', which the topology language does not describe; imported as not attached`,
      "nat, bridged, hostonly, intnet, natnetwork, null or none",
    );
    return { mode: "none" };
  }
  const key = SHOW_DETAIL[mode];
  if (key === undefined) return { mode: "none" };
  if (x.cableOff)
    r.warn(
      x.cableOff,
      `adapter ${n}'s cable is disconnected; the topology language has no unplugged cable, imported as connected`,
      "cableconnected" + String(n) + '="on"',
    );
  const detail = x.detail[key];
  if (!detail && mode !== "nat") {
    r.report(
      "RCH055",
      x.mode.span,
      `nic${n}="${mode}" without its ${key}${n} line`,
      `${key}${n}="..." before nic${n} (VBoxManage prints both)`,
    );
    return { mode: "none" };
  }
  switch (mode) {
    case "nat": {
      let network: string | undefined;
      if (detail && detail.value !== "nat") {
        if (natAdapterNetwork(detail.value, n - 1)) network = detail.value;
        else
          r.report(
            "RCH011",
            detail.span,
            `NAT network '${detail.value}' is not an IPv4 network prefix of length 27 or less`,
            "NETWORK/LEN with zero host bits, e.g. 10.0.2.0/24",
          );
      }
      const forwards = x.forwards.flatMap((f) => showForward(r, src, f) ?? []);
      return { mode: "nat", ...(network ? { network } : {}), ...(forwards.length ? { forwards } : {}) };
    }
    case "bridged": {
      const bridge = bridgeName(r, detail!.value, detail!.span);
      return bridge ? { mode: "bridged", bridge, addresses: [] } : { mode: "none" };
    }
    case "hostonly": {
      const network = hostOnlyName(r, detail!.value, detail!.span);
      return network ? { mode: "hostonly", network } : { mode: "none" };
    }
    case "intnet":
      return { mode: "internal", network: detail!.value || "intnet", addresses: [] };
    default:
      if (!detail!.value) {
        r.warn(detail!.span, `adapter ${n} is on a NAT Network with no name`, `nat-network${n}="NAME"`);
        return { mode: "none" };
      }
      useNatNetwork(r, detail!.value, detail!.span);
      return { mode: "natnetwork", network: detail!.value, addresses: [] };
  }
}

/** `Forwarding(i)="name,tcp,hostip,hostport,guestip,guestport"` (proto printed as tcp, udp or unk). */
function showForward(r: Reader, src: Source, f: { value: string; line: number; col: number }): ForwardDoc | undefined {
  const parts = f.value.split(",");
  const at = (k: number): Span => spanLine(src, f.line, f.col + parts.slice(0, k).reduce((n, p) => n + p.length + 1, 0));
  if (parts.length !== 6) {
    r.warn(
      at(0),
      `port forward "${f.value}" does not have the six fields name,proto,hostip,hostport,guestip,guestport`,
      "name,tcp|udp,[hostip],hostport,[guestip],guestport",
    );
    return undefined;
  }
  const [name, proto, hostIp, hostPort, guestIp, guestPort] = parts as [string, string, string, string, string, string];
  if (proto !== "tcp" && proto !== "udp") {
    r.warn(at(1), `port forward "${name}" has protocol '${proto}'`, "tcp or udp");
    return undefined;
  }
  const index: Record<Field, number> = { name: 0, proto: 1, hostIp: 2, hostPort: 3, guestIp: 4, guestPort: 5 };
  return forwardDoc(r, { name, proto, hostIp, hostPort, guestIp, guestPort }, (field) => at(index[field]));
}

// ---------------------------------------------------------------------------
// .vbox machine settings (XML)

interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  readonly offset: number;
}

/** Thrown to stop saxes at the first problem. */
class StopXml extends Error {}

/**
 * Parses XML into a small element tree with saxes. A DOCTYPE declaring
 * entities is refused before anything is expanded (entity expansion attacks);
 * saxes expands no entity it was not told about.
 */
function parseXml(r: Reader, src: Source): XmlElement | undefined {
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let start = 0;
  const local = (n: string) => n.slice(n.indexOf(":") + 1);
  parser.on("doctype", (doctype) => {
    if (doctype.includes("<!ENTITY")) {
      r.report(
        "RCH052",
        spanAt(src, Math.max(0, src.text.indexOf("<!DOCTYPE"))),
        "the XML declares entities in its DOCTYPE; refused without expanding them",
        "a .vbox file as VirtualBox writes it (no DOCTYPE)",
      );
      throw new StopXml();
    }
  });
  parser.on("opentagstart", (t) => {
    start = parser.position - t.name.length - 2; // saxes has read "<", the name and the character after it
  });
  parser.on("opentag", (t) => {
    const el: XmlElement = { name: local(t.name), attrs: { ...(t.attributes as Record<string, string>) }, children: [], offset: start };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root ??= el;
    stack.push(el); // saxes reports a closetag for self-closing tags too
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  parser.on("error", (e) => {
    r.report(
      "RCH055",
      spanAt(src, parser.position),
      `the XML is not well-formed: ${e.message.replace(/^\d+:\d+: /, "")}`,
      "a complete, well-formed .vbox file",
    );
    throw new StopXml();
  });
  try {
    parser.write(src.text).close();
  } catch (e) {
    if (e instanceof StopXml) return undefined;
    throw e;
  }
  return root;
}

const child = (el: XmlElement, name: string) => el.children.find((c) => c.name === name);

/** XML booleans as VirtualBox's settings reader takes them (iprt xml.cpp). */
function xmlBool(text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  if (["true", "yes", "on", "1"].includes(text)) return true;
  if (["false", "no", "off", "0"].includes(text)) return false;
  return undefined;
}

/** "1.19-linux" -> 19 (settings format 1.x), undefined when unreadable. */
function settingsMinor(version: string | undefined): number | undefined {
  const m = /^1\.(\d+)/.exec(version ?? "");
  return m ? Number(m[1]) : undefined;
}

/** What every element of one .vbox file is read with. */
interface VboxFile {
  readonly src: Source;
  readonly vm: string;
  /** The settings format's minor version (VirtualBox/@version "1.19-linux"), when readable. */
  readonly minor: number | undefined;
}

function readVbox(r: Reader, src: Source): void {
  const root = parseXml(r, src);
  if (!root) return;
  const at = (el: XmlElement) => spanAt(src, el.offset);
  if (root.name !== "VirtualBox") {
    r.report("RCH050", at(root), `the XML's root element is <${root.name}>, not <VirtualBox>`, FORMATS);
    return;
  }
  const machine = child(root, "Machine");
  if (!machine) {
    const encrypted = child(root, "MachineEncrypted");
    r.report(
      "RCH050",
      at(encrypted ?? root),
      encrypted ? "the machine settings are encrypted" : "the file has no <Machine> (VirtualBox.xml, the global settings, describes no VM)",
      "a VM's .vbox file (unencrypted)",
    );
    return;
  }
  const name = machine.attrs["name"];
  if (!name) {
    r.report("RCH055", at(machine), "<Machine> has no name attribute", '<Machine name="..." ...>');
    return;
  }
  const file: VboxFile = { src, vm: name, minor: settingsMinor(root.attrs["version"]) };
  const hardware = child(machine, "Hardware");
  const network = hardware && child(hardware, "Network");
  const adapters: AdapterDoc[] = [];
  const seen = new Set<number>();
  for (const el of network?.children ?? []) {
    if (el.name !== "Adapter") continue;
    const slotText = el.attrs["slot"] ?? "";
    const slot = /^\d{1,2}$/.test(slotText) ? Number(slotText) : NaN;
    if (!(slot >= 0 && slot < 36) || seen.has(slot)) {
      r.report(
        "RCH055",
        at(el),
        `<Adapter> has ${seen.has(slot) ? "a repeated" : "no valid"} slot '${slotText}'`,
        'slot="0" to slot="35", each once',
      );
      continue;
    }
    seen.add(slot);
    while (adapters.length <= slot) adapters.push({ mode: "none" });
    adapters[slot] = vboxAdapter(r, file, el, slot);
  }
  addVm(r, name, at(machine), adapters);
}

/**
 * One <Adapter>: the mode element outside <DisabledModes> is the attachment
 * (Settings.cpp readAttachedNetworkMode); none means not attached.
 */
function vboxAdapter(r: Reader, file: VboxFile, el: XmlElement, slot: number): AdapterDoc {
  const at = (e: XmlElement) => spanAt(file.src, e.offset);
  const modes = el.children.filter((c) => c.name !== "DisabledModes");
  if (xmlBool(el.attrs["enabled"]) !== true) return { mode: "none" };
  // Settings before format 1.16 (VirtualBox 5.0) wrote cable="true" and left a disconnected cable out
  const cable = xmlBool(el.attrs["cable"]) ?? (file.minor === undefined || file.minor >= 16);
  if (!cable)
    r.warn(
      at(el),
      `adapter ${slot + 1}'s cable is disconnected; the topology language has no unplugged cable, imported as connected`,
      'cable="true"',
    );
  const mode = modes[0];
  if (!mode) return { mode: "none" };
  for (const extra of modes.slice(1))
    r.warn(at(extra), `a second attachment <${extra.name}> in adapter ${slot + 1}`, "one attachment element besides <DisabledModes>");
  const name = mode.attrs["name"] ?? "";
  switch (mode.name) {
    case "NAT":
      return vboxNat(r, file, mode, slot);
    case "BridgedInterface":
    case "HostInterface": {
      const bridge = bridgeName(r, name, at(mode));
      return bridge ? { mode: "bridged", bridge, addresses: [] } : { mode: "none" };
    }
    case "HostOnlyInterface": {
      const network = hostOnlyName(r, name, at(mode));
      return network ? { mode: "hostonly", network } : { mode: "none" };
    }
    case "InternalNetwork":
      return { mode: "internal", network: name || "intnet", addresses: [] };
    case "NATNetwork":
      if (!name) {
        r.warn(at(mode), `adapter ${slot + 1} is on a NAT Network with no name`, '<NATNetwork name="...">');
        return { mode: "none" };
      }
      useNatNetwork(r, name, at(mode));
      return { mode: "natnetwork", network: name, addresses: [] };
    default:
      r.warn(
        at(mode),
        `adapter ${slot + 1} is attached with <${mode.name}>, which the topology language does not describe; imported as not attached`,
        "<NAT>, <BridgedInterface>, <HostOnlyInterface>, <InternalNetwork> or <NATNetwork>",
      );
      return { mode: "none" };
  }
}

/**
 * <NAT network? hostip? localhost-reachable?> with <Forwarding name proto
 * hostip hostport guestip guestport/> children (proto 1 = TCP, 0 = UDP;
 * empty values are not written). DNS, Alias and TFTP settings do not change
 * what can connect to what and are not read.
 */
function vboxNat(r: Reader, file: VboxFile, el: XmlElement, slot: number): AdapterDoc {
  const at = (e: XmlElement) => spanAt(file.src, e.offset);
  let network: string | undefined;
  const net = el.attrs["network"];
  if (net) {
    if (natAdapterNetwork(net, slot)) network = net;
    else
      r.report(
        "RCH011",
        at(el),
        `NAT network '${net}' is not an IPv4 network prefix of length 27 or less`,
        "NETWORK/LEN with zero host bits, e.g. 10.0.2.0/24",
      );
  }
  if (el.attrs["hostip"])
    r.warn(
      at(el),
      `the NAT engine's outgoing address hostip="${el.attrs["hostip"]}" is not modelled: outgoing connections are taken to leave from the host's routed address`,
      "no hostip",
    );
  const lr = el.attrs["localhost-reachable"];
  let localhostReachable = xmlBool(lr);
  if (lr !== undefined && localhostReachable === undefined) r.warn(at(el), `localhost-reachable="${lr}" is not a boolean`, "true or false");
  if (localhostReachable === undefined) {
    // Written only when it differs from the settings format's default (Settings.cpp, NAT::areLocalhostReachableDefaultSettings)
    const old = file.minor !== undefined && file.minor < 19;
    if (old) localhostReachable = true;
    r.note(
      old
        ? `${file.vm}: its settings format 1.${String(file.minor)} predates VirtualBox 7, whose NAT let 10.0.x.2 reach the host's loopback by default: localhost-reachable imported as on.`
        : `${file.vm}: a NAT adapter without localhost-reachable has it off (VirtualBox 7's default, settings format 1.19 and later), so 10.0.x.2 does not reach the host's loopback.`,
    );
  }
  const forwards: ForwardDoc[] = [];
  for (const f of el.children) {
    if (f.name !== "Forwarding") continue;
    const a = f.attrs;
    const proto = a["proto"] === "1" ? "tcp" : a["proto"] === "0" ? "udp" : undefined;
    if (!proto) {
      r.warn(at(f), `port forward "${a["name"] ?? ""}" has protocol '${a["proto"] ?? ""}'`, 'proto="1" (TCP) or proto="0" (UDP)');
      continue;
    }
    const doc = forwardDoc(
      r,
      {
        name: a["name"] ?? "",
        proto,
        hostIp: a["hostip"] ?? "",
        hostPort: a["hostport"] ?? "",
        guestIp: a["guestip"] ?? "",
        guestPort: a["guestport"] ?? "",
      },
      () => at(f),
    );
    if (doc) forwards.push(doc);
  }
  return {
    mode: "nat",
    ...(network ? { network } : {}),
    ...(localhostReachable !== undefined ? { localhostReachable } : {}),
    ...(forwards.length ? { forwards } : {}),
  };
}

// ---------------------------------------------------------------------------
// VBoxManage list hostonlyifs

/** "255.255.255.0" -> 24; undefined unless the ones are contiguous. */
function maskLength(mask: string): number | undefined {
  const ip = parseIP(mask);
  if (ip?.v !== 4) return undefined;
  const len = ip.n.toString(2).replace(/0+$/, "").length;
  return ip.n === ((1n << BigInt(len)) - 1n) << BigInt(32 - len) ? len : undefined;
}

/** `Key: value` lines; blocks start at `Name:` (VBoxManageList.cpp listHostOnlyInterfaces). */
function readHostonlyifs(r: Reader, src: Source): void {
  type Block = { name: string; span: Span; fields: Map<string, { value: string; span: Span }> };
  const blocks: Block[] = [];
  src.text.split(/\r?\n/).forEach((line, i) => {
    const m = /^([A-Za-z0-9]+):\s*(.*?)\s*$/.exec(line);
    if (!m) {
      if (line.trim())
        r.warn(spanLine(src, i + 1), `line not understood: '${line.trim()}'`, "Key: value lines of VBoxManage list hostonlyifs");
      return;
    }
    const span = spanLine(src, i + 1, line.length - line.slice(m[1]!.length + 1).trimStart().length + 1);
    if (m[1] === "Name") blocks.push({ name: m[2]!, span, fields: new Map() });
    else if (blocks.length) blocks[blocks.length - 1]!.fields.set(m[1]!, { value: m[2]!, span });
  });
  for (const b of blocks) {
    const net = hostOnlyName(r, b.name, b.span);
    if (!net) continue;
    const addresses: string[] = [];
    const before = r.diagnostics.length;
    const ip4 = b.fields.get("IPAddress");
    const mask = b.fields.get("NetworkMask");
    if (ip4 && ip4.value !== "0.0.0.0") {
      const len = mask ? maskLength(mask.value) : undefined;
      if (parseIP(ip4.value)?.v !== 4)
        r.report("RCH010", ip4.span, `'${ip4.value}' is not an IPv4 address`, "an IPv4 address such as 192.168.56.1");
      else if (len === undefined)
        r.report(
          "RCH011",
          mask?.span ?? ip4.span,
          `network mask '${mask?.value ?? ""}' is not a contiguous IPv4 mask`,
          "a mask such as 255.255.255.0",
        );
      else addresses.push(`${ip4.value}/${len}`);
    }
    const ip6 = b.fields.get("IPV6Address");
    const len6 = b.fields.get("IPV6NetworkMaskPrefixLength");
    if (ip6?.value) {
      const ip = parseIP(ip6.value);
      const len = /^\d{1,3}$/.test(len6?.value ?? "") ? Number(len6!.value) : NaN;
      if (ip?.v !== 6)
        r.report("RCH010", ip6.span, `'${ip6.value}' is not an IPv6 address`, "an IPv6 address such as fe80::800:27ff:fe00:0");
      else if (!(len >= 1 && len <= 128))
        r.report(
          "RCH011",
          len6?.span ?? ip6.span,
          `IPv6 prefix length '${len6?.value ?? ""}' is not 1 to 128`,
          "a prefix length such as 64",
        );
      else addresses.push(`${formatIP(ip)}/${len}`);
    }
    if (!addresses.length) {
      if (r.diagnostics.length === before)
        r.warn(b.span, `host-only interface ${net} has no address`, "IPAddress and NetworkMask of the interface");
      continue;
    }
    r.hostonly[net] = { addresses };
  }
}

// ---------------------------------------------------------------------------
// VBoxManage natnetwork list / list natnets

interface NatBlock {
  readonly name: string;
  readonly span: Span;
  readonly fields: Map<string, { value: string; span: Span }>;
  readonly rules4: { text: string; span: Span }[];
  readonly rules6: { text: string; span: Span }[];
  readonly loopbacks: { text: string; span: Span }[];
}

/** Port-forward rules as NATNetworkImpl prints them: `name:proto:[hostip]:hostport:[guestip]:guestport`. */
const NAT_RULE = /^(.*):(tcp|udp):\[([^\]]*)\]:(\d*):\[([^\]]*)\]:(\d*)$/i;

/**
 * Blocks of `Key: value` lines starting at `Name:` (VirtualBox 7,
 * VBoxManageNATNetwork.cpp printNATNetwork) or `NetworkName:` (6.x `list
 * natnets`), each followed by indented lists under `Port-forwarding (ipv4)`,
 * `Port-forwarding (ipv6)` and `Loopback mappings (ipv4)`.
 */
function readNatnetworks(r: Reader, src: Source): void {
  const blocks: NatBlock[] = [];
  let list: { text: string; span: Span }[] | undefined;
  src.text.split(/\r?\n/).forEach((line, i) => {
    const text = line.trim();
    const span = spanLine(src, i + 1, line.length - line.trimStart().length + 1);
    const b = blocks[blocks.length - 1];
    if (!text || text === "NAT Networks:" || /^\d+ networks? found$/.test(text)) return;
    if (/^\s/.test(line) && list) {
      list.push({ text, span });
      return;
    }
    const header = /^(Port-forwarding|Loopback mappings) \((ipv4|ipv6)\)$/i.exec(text);
    if (header && b) {
      list = header[1]!.toLowerCase() === "loopback mappings" ? b.loopbacks : header[2] === "ipv4" ? b.rules4 : b.rules6;
      return;
    }
    list = undefined;
    const m = /^([A-Za-z][A-Za-z0-9 ]*?):\s*(.*)$/.exec(text);
    if (m && (m[1] === "Name" || m[1] === "NetworkName"))
      blocks.push({ name: m[2]!, span, fields: new Map(), rules4: [], rules6: [], loopbacks: [] });
    else if (m && b) b.fields.set(m[1]!, { value: m[2]!, span });
    else r.warn(span, `line not understood: '${text}'`, "the output of VBoxManage natnetwork list");
  });
  for (const b of blocks) readNatBlock(r, b);
}

function readNatBlock(r: Reader, b: NatBlock): void {
  const field = (...keys: string[]) => keys.map((k) => b.fields.get(k)).find((x) => x !== undefined);
  const netField = field("Network");
  const c = netField ? parseCidr(netField.value) : undefined;
  if (!netField || !c || c.ip.v !== 4 || c.len > 29 || prefixOf(c.ip, c.len).n !== c.ip.n) {
    r.report(
      "RCH011",
      netField?.span ?? b.span,
      `NAT Network ${b.name}'s network '${netField?.value ?? ""}' is not an IPv4 network prefix of length 29 or less`,
      "Network: NETWORK/LEN, e.g. 10.0.2.0/24",
    );
    return;
  }
  const gateway = field("Gateway", "IP");
  const expectedGateway = formatIP({ v: 4, n: c.ip.n + BigInt(NATNET_GATEWAY) });
  if (gateway && gateway.value !== expectedGateway) {
    r.warn(
      gateway.span,
      `NAT Network ${b.name}'s gateway is ${gateway.value}; the topology language puts it at ${expectedGateway}`,
      `the gateway ${expectedGateway}`,
    );
  }
  const yes = (f: { value: string } | undefined) => f?.value.toLowerCase() === "yes";
  const enabled = field("Enabled");
  if (enabled && !yes(enabled))
    r.warn(enabled.span, `NAT Network ${b.name} is disabled in VirtualBox; imported as running`, "Enabled: Yes");
  const ipv6 = field("IPv6", "IPv6 Enabled");
  if (yes(ipv6)) r.warn(ipv6!.span, `NAT Network ${b.name}'s IPv6 is not modelled; only its IPv4 network is imported`, "IPv6: No");
  const dhcp = field("DHCP Server", "DHCP Enabled");
  if (dhcp && !yes(dhcp)) r.note(`NAT Network ${b.name} has no DHCP server: its guests configure their addresses themselves.`);
  if (!enabled && b.fields.has("Gateway")) {
    r.warn(
      b.span,
      `NAT Network ${b.name} is listed without its port forwards and loopback mappings (the short form of VBoxManage list natnets)`,
      "the output of VBoxManage natnetwork list",
    );
  } else {
    const mappings = b.loopbacks.map((l) => l.text);
    for (const l of b.loopbacks) {
      if (l.text !== `127.0.0.1=${NATNET_LOOPBACK_OFFSET}`)
        r.warn(
          l.span,
          `loopback mapping ${l.text} of NAT Network ${b.name} is not modelled`,
          `the default mapping 127.0.0.1=${NATNET_LOOPBACK_OFFSET}`,
        );
    }
    if (!mappings.includes(`127.0.0.1=${NATNET_LOOPBACK_OFFSET}`)) {
      r.warn(
        b.span,
        `NAT Network ${b.name} has no loopback mapping 127.0.0.1=${NATNET_LOOPBACK_OFFSET}, but the topology language always maps .${NATNET_LOOPBACK_OFFSET} to the host's 127.0.0.1`,
        `Loopback mappings (ipv4): 127.0.0.1=${NATNET_LOOPBACK_OFFSET}`,
      );
    }
  }
  for (const f of b.rules6) r.warn(f.span, `IPv6 port forward '${f.text}' of NAT Network ${b.name} is not modelled`, "IPv4 port forwards");
  const forwards = natNetForwards(r, b, netField.value, c);
  r.natnetworks[b.name] = { network: netField.value, ...(forwards.length ? { forwards } : {}) };
}

/** A NAT Network's IPv4 port forwards (`network`: its Network field, `c` that parsed); each must go to a guest address inside it. */
function natNetForwards(r: Reader, b: NatBlock, network: string, c: { ip: IP; len: number }): ForwardDoc[] {
  const forwards: ForwardDoc[] = [];
  for (const f of b.rules4) {
    const m = NAT_RULE.exec(f.text);
    if (!m) {
      r.warn(f.span, `port forward '${f.text}' not understood`, "name:tcp|udp:[hostip]:hostport:[guestip]:guestport");
      continue;
    }
    if (!m[5]) {
      r.warn(f.span, `port forward '${m[1]!}' of NAT Network ${b.name} has no guest IP`, "[guestip] (mandatory for NAT Network forwards)");
      continue;
    }
    const doc = forwardDoc(
      r,
      { name: m[1]!, proto: m[2]!.toLowerCase() as "tcp" | "udp", hostIp: m[3]!, hostPort: m[4]!, guestIp: m[5]!, guestPort: m[6]! },
      () => f.span,
    );
    const guest = doc?.guestIp ? parseIP(doc.guestIp) : undefined;
    if (guest && prefixOf(guest, c.len).n !== c.ip.n)
      r.report(
        "RCH031",
        f.span,
        `port forward '${m[1]!}' goes to ${doc!.guestIp}, outside NAT Network ${b.name} (${network})`,
        `a guest address inside ${network}`,
      );
    else if (doc) forwards.push(doc);
  }
  return forwards;
}

// ---------------------------------------------------------------------------
// The importer

type Format = "showvminfo" | "vbox" | "hostonlyifs" | "natnetwork";

/** The format of one file, from its content. */
function detect(text: string): Format | "human showvminfo" | undefined {
  const t = text.replace(/^\uFEFF/, "").trimStart();
  if (t.startsWith("<")) return "vbox";
  if (/^(name|nic\d+|VMState|UUID|ostype)=/m.test(t)) return "showvminfo";
  if (/^(Name|NetworkName):/m.test(t) && /^Network:/m.test(t)) return "natnetwork";
  if (/^Name:/m.test(t) && /^(GUID|IPAddress|NetworkMask|VBoxNetworkName):/m.test(t)) return "hostonlyifs";
  if (/^(Guest OS|Config file|Memory size):/m.test(t)) return "human showvminfo";
  return undefined;
}

const READERS: Record<Format, (r: Reader, src: Source) => void> = {
  showvminfo: readShowvminfo,
  vbox: readVbox,
  hostonlyifs: readHostonlyifs,
  natnetwork: readNatnetworks,
};

/**
 * NAT Networks the VMs use but no input describes are declared with the
 * language's defaults (and a warning); a NAT Network forward's guest port is
 * assumed to have a listener only when exactly one VM of the inputs is on it.
 */
function completeNatNetworks(r: Reader): void {
  for (const [net, span] of r.natnetworkUses) {
    if (r.natnetworks[net]) continue;
    r.natnetworks[net] = {};
    r.warn(
      span,
      `NAT Network ${net} is not described by the inputs: its network and port forwards are unknown; assumed 10.0.2.0/24 without port forwards`,
      "the output of VBoxManage natnetwork list among the inputs",
    );
  }
  for (const [net, nn] of Object.entries(r.natnetworks)) {
    if (!nn.forwards?.length) continue;
    const on = [...r.vms].filter(([, v]) => v.machine.vm?.adapters.some((a) => a.mode === "natnetwork" && a.network === net));
    if (on.length !== 1) {
      r.note(
        `NAT Network ${net} forwards to ${[...new Set(nn.forwards.map((f) => f.guestIp))].join(", ")}; ${on.length ? "several VMs of the inputs are on it" : "no VM of the inputs is on it"}, so no listener is assumed behind its forwards.`,
      );
      continue;
    }
    const [name, v] = on[0]!;
    const services = [...(v.machine.services ?? [])];
    const added: string[] = [];
    for (const f of nn.forwards) {
      const proto = f.proto ?? "tcp";
      if (services.some((s) => (s.proto ?? "tcp") === proto && s.port === f.guestPort)) continue;
      services.push({ name: `${f.name ?? `${proto}/${String(f.guestPort)}`} (assumed)`, proto, port: f.guestPort });
      added.push(`${String(f.guestPort)}/${proto}`);
    }
    if (added.length) {
      v.machine.services = services;
      r.note(
        `${name} is the only VM of the inputs on NAT Network ${net}: assumed it is the guest its forwards reach, with a service on ${added.join(", ")} (the inputs do not say what listens there).`,
      );
    }
  }
}

export const importVirtualbox: Importer = (sources: readonly Source[], options: ImportOptions): ImportResult => {
  const r = new Reader(options);
  for (const src of sources) {
    const format = detect(src.text);
    if (format === undefined || format === "human showvminfo") {
      r.report(
        "RCH050",
        spanLine(src, 1),
        format ? "this is VBoxManage showvminfo's human-readable output" : "not a VirtualBox file this importer knows",
        format ? "the output of VBoxManage showvminfo --machinereadable VM" : FORMATS,
      );
      continue;
    }
    try {
      READERS[format](r, src);
    } catch (e) {
      r.report("RCH055", spanLine(src, 1), `cannot read this file: ${e instanceof Error ? e.message : String(e)}`, FORMATS);
    }
  }
  completeNatNetworks(r);
  const machines: Record<string, MachineDoc> = {};
  for (const [name, v] of r.vms) machines[name] = v.machine;
  if (Object.keys(r.hostonly).length) machines[options.host] = { ...machines[options.host], hostonly: r.hostonly };
  return {
    fragment: { machines, ...(Object.keys(r.natnetworks).length ? { natnetworks: r.natnetworks } : {}), notes: r.notes },
    diagnostics: byPosition(sources, r.diagnostics),
  };
};

/** Diagnostics in file order, then line and column. */
function byPosition(sources: readonly Source[], ds: readonly Diagnostic[]): Diagnostic[] {
  const file = (d: Diagnostic) => sources.findIndex((s) => s.file === d.span.file);
  return [...ds].sort((a, b) => file(a) - file(b) || a.span.line - b.span.line || a.span.col - b.span.col);
}
