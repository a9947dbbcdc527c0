// @ts-check
/**
 * The in-namespace agent of `reach emulate`: one Node process per emulated
 * machine, started by `ip netns exec NS node agent.js`, so that every socket it
 * creates lives in that machine's network namespace.
 *
 * It speaks newline-delimited JSON on stdin/stdout, one request per line:
 *   {"id":1,"op":"listen","token":"T","sockets":[{tag,proto,host,port,v6only,reuse,relay?}]}
 *     -> {"id":1,"ok":true,"result":[{tag,error?}]}
 *   {"id":2,"op":"probe","token":"T","probes":[{key,proto,dst,dport,sport,timeoutMs}]}
 *     -> {"id":2,"ok":true,"result":[{key,outcome,symptom,banner?,code?,connected,ms}]}
 * A listener answers every connection or datagram with one line
 * "REACH <token> <tag> <peer address> <peer port>" and closes: a probe counts as
 * answered only when that line comes back (a relay that accepts and then closes is
 * not an answer). A socket with `relay` {host, port, from?} is a relay process
 * (docker-proxy): it answers nothing itself and copies each connection (or UDP
 * client) to and from its own connection to host:port. The agent exits when its stdin closes. It never reads anything
 * but its own requests, and it only connects where a request tells it to.
 *
 * Plain JavaScript on purpose: it runs under bare `node` in a namespace, from the
 * sources (tests) and from dist/ (the installed CLI) alike.
 */
import net from "node:net";
import dgram from "node:dgram";
import readline from "node:readline";
import { spawn } from "node:child_process";

/**
 * Node cannot set SO_BINDTODEVICE, so device-bound listeners are served by a small Python
 * program started here (inside the namespace): it sets the option, binds, answers each
 * connection or datagram with the same banner, prints one JSON line with each socket's
 * result, and exits when its stdin closes (when the agent does).
 */
const BOUND_LISTENERS = `
import errno, json, os, socket, sys, threading
specs, token = json.loads(sys.argv[1]), sys.argv[2]
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
def banner(tag, peer):
    return ("REACH %s %s %s %d\\n" % (token, tag, peer[0].split("%")[0], peer[1])).encode()
def serve_tcp(s, tag):
    while True:
        c, peer = s.accept()
        try:
            c.sendall(banner(tag, peer))
        except OSError:
            pass
        c.close()
def serve_udp(s, tag):
    while True:
        _, peer = s.recvfrom(65535)
        try:
            s.sendto(banner(tag, peer), peer)
        except OSError:
            pass
out = []
for sp in specs:
    fam = socket.AF_INET6 if ":" in sp["host"] else socket.AF_INET
    tcp = sp["proto"] == "tcp"
    s = socket.socket(fam, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    try:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if sp["v6only"] else 0)
        if tcp or sp.get("reuse"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, sp["device"].encode())
        s.bind((sp["host"], sp["port"]))
        if tcp:
            s.listen(511)
        threading.Thread(target=serve_tcp if tcp else serve_udp, args=(s, sp["tag"]), daemon=True).start()
        out.append({"tag": sp["tag"]})
    except OSError as e:
        out.append({"tag": sp["tag"], "error": errno.errorcode.get(e.errno, str(e))})
print(json.dumps(out), flush=True)
sys.stdin.read()
os._exit(0)
`;

/**
 * The device-bound listeners of one request, through BOUND_LISTENERS.
 * @param {string} token
 * @param {ListenSpec[]} specs
 * @returns {Promise<{tag: string, error?: string}[]>}
 */
function listenBound(token, specs) {
  return new Promise((resolve) => {
    const child = spawn("python3", ["-c", BOUND_LISTENERS, JSON.stringify(specs), token], { stdio: ["pipe", "pipe", "ignore"] });
    children.push(child);
    const fail = (/** @type {string} */ why) => resolve(specs.map((s) => ({ tag: s.tag, error: why })));
    let out = "";
    child.on("error", (e) => fail(`python3: ${String(e)}`));
    child.on("exit", () => fail("python3 exited"));
    child.stdout.on("data", (d) => {
      out += d.toString("utf8");
      if (!out.includes("\n")) return;
      try {
        resolve(JSON.parse(out.split("\n")[0] ?? ""));
      } catch {
        fail("python3: bad answer");
      }
    });
  });
}

/** @type {import("node:child_process").ChildProcess[]} */
const children = [];

/** @type {Array<import("node:net").Server | import("node:dgram").Socket>} */
const open = [];

/** @param {unknown} msg */
function send(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

/**
 * @typedef {{host: string, port: number, from?: string}} Relay
 * @typedef {{tag: string, proto: "tcp" | "udp", host: string, port: number, v6only: boolean, reuse?: boolean, relay?: Relay, device?: string}} ListenSpec
 */

/**
 * A relay process's TCP connection (docker-proxy): the client's connection is
 * accepted, then the relay opens its own to the target and copies both ways; when
 * its own fails, it closes the client's (accepted, then closed without data).
 * @param {import("node:net").Socket} c
 * @param {Relay} r
 */
function relayTcp(c, r) {
  c.pause();
  const up = net.connect({ host: r.host, port: r.port, ...(r.from ? { localAddress: r.from } : {}) });
  up.on("connect", () => {
    c.pipe(up);
    up.pipe(c);
    c.resume();
  });
  up.on("error", () => c.end());
  c.on("error", () => up.destroy());
  c.on("close", () => up.destroy());
}

/**
 * A relay process's UDP side: one socket of its own per client, connected to the
 * target; what comes back is sent to the client from the listening socket.
 * @param {import("node:dgram").Socket} sock
 * @param {Relay} r
 */
function relayUdp(sock, r) {
  /** @type {Map<string, import("node:dgram").Socket>} */
  const peers = new Map();
  /** @type {Map<import("node:dgram").Socket, (m: Buffer) => void>} */
  const relayed = new Map();
  sock.on("message", (m, rinfo) => {
    const key = `${rinfo.address} ${rinfo.port}`;
    let up = peers.get(key);
    if (!up) {
      const u = dgram.createSocket({ type: r.host.includes(":") ? "udp6" : "udp4" });
      u.on("error", () => {});
      u.on("message", (back) => sock.send(back, rinfo.port, rinfo.address, () => {}));
      // a connect that fails (no route) leaves the socket unconnected: nothing is sent, as docker-proxy sends nothing
      const sendUp = (/** @type {Buffer} */ msg) => {
        try {
          u.send(msg, () => {});
        } catch {
          /* not connected */
        }
      };
      u.bind({ ...(r.from ? { address: r.from } : {}), port: 0 }, () => u.connect(r.port, r.host, () => sendUp(m)));
      relayed.set(u, sendUp);
      peers.set(key, u);
      open.push(u);
      return;
    }
    relayed.get(up)?.(m);
  });
}

/**
 * @param {string} token
 * @param {ListenSpec} s
 * @returns {Promise<{tag: string, error?: string}>}
 */
function listen(token, s) {
  const banner = (/** @type {string | undefined} */ addr, /** @type {number | undefined} */ port) =>
    `REACH ${token} ${s.tag} ${addr ?? "?"} ${port ?? 0}\n`;
  return new Promise((resolve) => {
    if (s.proto === "tcp") {
      const server = net.createServer((c) => {
        c.on("error", () => {});
        if (s.relay) relayTcp(c, s.relay);
        else c.end(banner(c.remoteAddress, c.remotePort));
      });
      server.once("error", (e) => resolve({ tag: s.tag, error: /** @type {NodeJS.ErrnoException} */ (e).code ?? String(e) }));
      server.listen({ host: s.host, port: s.port, ipv6Only: s.v6only, exclusive: true, backlog: 511 }, () => {
        open.push(server);
        resolve({ tag: s.tag });
      });
    } else {
      const v6 = s.host.includes(":");
      const sock = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: s.v6only, reuseAddr: s.reuse === true });
      if (s.relay) relayUdp(sock, s.relay);
      else sock.on("message", (_m, rinfo) => sock.send(banner(rinfo.address, rinfo.port), rinfo.port, rinfo.address, () => {}));
      sock.once("error", (e) => resolve({ tag: s.tag, error: /** @type {NodeJS.ErrnoException} */ (e).code ?? String(e) }));
      sock.bind({ address: s.host, port: s.port, exclusive: true }, () => {
        sock.removeAllListeners("error");
        sock.on("error", () => {});
        open.push(sock);
        resolve({ tag: s.tag });
      });
    }
  });
}

/**
 * @typedef {{key: string, proto: "tcp" | "udp" | "icmp", dst: string, dport: number, sport: number, timeoutMs: number}} Probe
 * @typedef {{key: string, outcome: "answered" | "refused" | "unreachable" | "timeout" | "closed" | "error", banner?: string, code?: string, connected: boolean, ms: number}} Raw
 * @typedef {Raw & {symptom: string}} ProbeResult
 */

/** @type {Record<string, string>} */
const ERRNO_SYMPTOM = {
  ECONNREFUSED: "refused",
  EHOSTUNREACH: "host-unreachable",
  ENETUNREACH: "net-unreachable",
  EACCES: "permission-denied",
  ECONNRESET: "reset",
  EPERM: "not-permitted",
  EINVAL: "invalid-argument",
};

/**
 * What the client saw, in the classes of src/query/symptom.ts: the errno of a failed connect or
 * datagram, a timeout, or, once connected, end of file (accepted-then-eof), a reset, or nothing
 * within the bound (accepted-then-hang: a hang is told from EOF by the probe's timeout).
 * @param {Raw} r
 * @param {string} proto
 */
function symptomOf(r, proto) {
  if (r.outcome === "answered") return "answered";
  // ping: its own kernel without a route says so at connect; an ICMP error from the way is counted in "+N errors"
  if (proto === "icmp")
    return r.outcome === "unreachable"
      ? /Network is unreachable/.test(r.code ?? "")
        ? "net-unreachable"
        : "icmp-error"
      : r.outcome === "timeout"
        ? "timeout"
        : "error";
  if (r.connected && proto === "tcp") {
    if (r.outcome === "timeout") return "accepted-then-hang";
    if (r.code === "ECONNRESET") return "reset";
    return "accepted-then-eof";
  }
  if (r.outcome === "timeout") return "timeout";
  return (r.code && ERRNO_SYMPTOM[r.code]) ?? "error";
}

/** @param {string} code */
function failureOf(code) {
  if (code === "ECONNREFUSED") return "refused";
  // EPERM: a local OUTPUT rule dropped it; EADDRNOTAVAIL/EADDRINUSE are the probe's own trouble (errors)
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EPERM" || code === "EACCES") return "unreachable";
  return "error";
}

/**
 * @param {string} token
 * @param {Probe} p
 * @returns {Promise<ProbeResult>}
 */
function probe(token, p) {
  const started = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - started) / 1e6;
  return new Promise((resolve) => {
    let done = false;
    /** @type {() => void} */
    let cleanup = () => {};
    /** @param {Omit<Raw, "key" | "ms">} r */
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      const raw = { key: p.key, ms: ms(), ...r };
      resolve({ ...raw, symptom: symptomOf(raw, p.proto) });
    };
    const timer = setTimeout(() => finish({ outcome: "timeout", connected }), p.timeoutMs);
    let connected = false;
    /** @param {string} text */
    const answer = (text) => {
      const line = text.split("\n")[0] ?? "";
      if (line.startsWith(`REACH ${token} `)) finish({ outcome: "answered", banner: line, connected: true });
      else finish({ outcome: "closed", connected: true });
    };
    if (p.proto === "tcp") {
      const c = net.connect({ host: p.dst, port: p.dport, localPort: p.sport, family: p.dst.includes(":") ? 6 : 4 });
      cleanup = () => c.destroy();
      let data = "";
      c.on("connect", () => (connected = true));
      c.on("data", (d) => {
        data += d.toString("utf8");
        if (data.includes("\n")) answer(data);
      });
      c.on("end", () => answer(data));
      c.on("close", () => finish({ outcome: connected ? "closed" : "error", connected }));
      c.on("error", (e) => {
        const code = /** @type {NodeJS.ErrnoException} */ (e).code ?? String(e);
        finish({ outcome: connected ? "closed" : failureOf(code), code, connected });
      });
    } else if (p.proto === "udp") {
      const v6 = p.dst.includes(":");
      const s = dgram.createSocket({ type: v6 ? "udp6" : "udp4" });
      cleanup = () => s.close();
      s.on("error", (e) => {
        const code = /** @type {NodeJS.ErrnoException} */ (e).code ?? String(e);
        finish({ outcome: failureOf(code), code, connected });
      });
      s.on("message", (m) => answer(m.toString("utf8")));
      s.bind({ port: p.sport, exclusive: true }, () => {
        s.connect(p.dport, p.dst, () => {
          // an ICMP error may already have closed it (finish ran): nothing left to send
          if (done) return;
          try {
            s.send(Buffer.from("reach probe\n"), (err2) => {
              const code = /** @type {NodeJS.ErrnoException | null} */ (err2)?.code ?? "";
              // EINVAL from send() on a connected socket is the kernel refusing the route (a
              // loopback source rerouted out of a real interface by a nat OUTPUT rule), not the probe
              if (err2) finish({ outcome: code === "EINVAL" ? "unreachable" : failureOf(code), code, connected });
            });
          } catch (e) {
            finish({ outcome: "error", code: String(e), connected });
          }
        });
      });
    } else {
      // ICMP echo: iputils ping, one request, numeric, its own deadline.
      const secs = Math.max(0.05, p.timeoutMs / 1000).toFixed(3);
      const child = spawn("ping", ["-n", "-c", "1", "-W", secs, p.dst], { stdio: ["ignore", "pipe", "pipe"] });
      cleanup = () => {
        if (child.exitCode === null) child.kill("SIGKILL");
      };
      let out = "";
      child.stdout.on("data", (d) => (out += d.toString("utf8")));
      child.stderr.on("data", (d) => (out += d.toString("utf8")));
      child.on("error", (e) => finish({ outcome: "error", code: String(e), connected }));
      child.on("close", (code) => {
        // the reply's TTL tells which namespace answered (each starts from its own, see plan.ts)
        if (code === 0) finish({ outcome: "answered", banner: `echo reply ${/ttl=(\d+)/.exec(out)?.[1] ?? "?"}`, connected: true });
        else if (/unreachable|Network is unreachable|prohibited/i.test(out))
          finish({ outcome: "unreachable", code: out.trim().split("\n").pop(), connected });
        else finish({ outcome: "timeout", connected });
      });
    }
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  /** @type {{id: number, op: string, token: string, sockets?: any[], probes?: Probe[]}} */
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    send({ id: -1, ok: false, error: "bad request" });
    return;
  }
  try {
    if (msg.op === "listen") {
      /** @type {ListenSpec[]} */
      const specs = msg.sockets ?? [];
      const bound = specs.filter((s) => s.device !== undefined);
      const [plain, dev] = await Promise.all([
        Promise.all(specs.filter((s) => s.device === undefined).map((s) => listen(msg.token, s))),
        bound.length ? listenBound(msg.token, bound) : Promise.resolve([]),
      ]);
      send({ id: msg.id, ok: true, result: [...plain, ...dev] });
    } else if (msg.op === "probe")
      send({ id: msg.id, ok: true, result: await Promise.all((msg.probes ?? []).map((p) => probe(msg.token, p))) });
    else send({ id: msg.id, ok: false, error: `unknown op ${msg.op}` });
  } catch (e) {
    send({ id: msg.id, ok: false, error: String(e) });
  }
});
rl.on("close", () => {
  for (const s of open) s.close();
  for (const c of children) c.kill();
  process.exit(0);
});
send({ id: 0, ok: true, result: "ready" });
