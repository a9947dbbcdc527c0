import { describe, expect, it } from "vitest";
import { formatQuery, parseQuery } from "../../src/ir/query.js";
import { formatIP } from "../../src/net/addr.js";

const ok = (text: string) => {
  const r = parseQuery(text);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};

describe("query syntax", () => {
  it("machine target with port and proto", () => {
    const q = ok("host -> guest:22/tcp");
    expect(q).toMatchObject({ from: "host", target: { kind: "machine", machine: "guest" }, proto: "tcp", port: 22 });
  });
  it("proto defaults to tcp; udp is accepted", () => {
    expect(ok("a -> b:53").proto).toBe("tcp");
    expect(ok("a -> b:53/udp").proto).toBe("udp");
  });
  it("exact IPv4 and bracketed IPv6 addresses", () => {
    const q4 = ok("host -> 10.0.2.15:22/tcp");
    expect(q4.target.kind === "address" && formatIP(q4.target.ip)).toBe("10.0.2.15");
    const q6 = ok("host -> [fd00::1]:22/tcp");
    expect(q6.target.kind === "address" && formatIP(q6.target.ip)).toBe("fd00::1");
  });
  it("localhost and icmp", () => {
    expect(ok("a -> localhost:8000/tcp").target).toEqual({ kind: "localhost" });
    const p = ok("a -> b/icmp");
    expect(p.proto).toBe("icmp");
    expect(p.port).toBeUndefined();
  });
  it("round-trips through formatQuery", () => {
    for (const t of [
      "host -> guest:22/tcp",
      "a -> [::1]:8000/udp",
      "a -> b/icmp",
      "a -> fd56::1/icmp",
      "a -> localhost:80/tcp",
      "a -> 10.0.2.2:8080/tcp",
    ]) {
      expect(formatQuery(ok(t))).toBe(t);
    }
  });
  it.each([
    ["host guest:22/tcp", 'has no "->"'],
    ["host -> guest:22/sctp", "unknown protocol 'sctp'"],
    ["host -> guest/tcp", "needs a port"],
    ["host -> guest:0/tcp", "is not a port"],
    ["host -> guest:70000/tcp", "is not a port"],
    ["host -> guest:22/icmp", "icmp takes no port"],
    ["host -> fd00::1:22/tcp", "needs brackets"],
    [" -> guest:22/tcp", "no source machine"],
    ["host -> :22/tcp", "no destination"],
  ])("rejects %j (%s)", (text, msg) => {
    const r = parseQuery(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain(msg);
      expect(r.expected).toContain("A -> B:PORT/tcp");
    }
  });
});
