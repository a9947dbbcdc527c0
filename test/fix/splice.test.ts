/** Splicing edits into the user's text: block and flow lists and mappings, comments and layout kept. */
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { spliceEdits } from "../../src/fix/splice.js";
import { applyToData, type Edit } from "../../src/fix/space.js";
import type { TopologyDoc } from "../../src/topology/schema.js";

const SRC = `# my lab
machines:
  server:   # the box under the desk
    services:
      - name: sshd   # ssh
        port: 22
        bind: 127.0.0.1
      - { name: web, port: 80 }
    firewall:
      input:
        policy: drop
        rules:
          - { action: accept, proto: tcp, dport: 80 }
          - action: drop    # old
            proto: tcp
            dport: 22
  pc: {interfaces: {eth0: {segment: lan}}}
`;

const check = (edits: Edit[]) => {
  const out = spliceEdits(SRC, edits);
  expect(out, "spliced").toBeDefined();
  expect(YAML.parse(out!)).toEqual(applyToData(YAML.parse(SRC) as TopologyDoc, edits));
  return out!;
};

describe("spliceEdits", () => {
  it("replaces a scalar in place", () => {
    const out = check([{ op: "set", path: ["machines", "server", "services", 0, "bind"], value: "::", was: "127.0.0.1" }]);
    expect(out).toBe(SRC.replace("bind: 127.0.0.1", 'bind: "::"'));
  });
  it("removes a block list item's lines, and keeps every other line and comment", () => {
    const out = check([{ op: "delete", path: ["machines", "server", "firewall", "input", "rules", 1], was: {} }]);
    expect(out).toBe(SRC.replace("          - action: drop    # old\n            proto: tcp\n            dport: 22\n", ""));
  });
  it("adds a key to a block mapping at its indentation", () => {
    const out = check([{ op: "set", path: ["machines", "server", "ip_forward"], value: true }]);
    expect(out).toContain("          dport: 22\n    ip_forward: true\n  pc:");
  });
  it("adds a key to a mapping that is a list item, past the dash", () => {
    const out = check([{ op: "set", path: ["machines", "server", "services", 0, "proto"], value: "tcp" }]);
    expect(out).toContain("        bind: 127.0.0.1\n        proto: tcp\n      - { name: web");
  });
  it("prepends to a block list", () => {
    const out = check([
      { op: "prepend", path: ["machines", "server", "firewall", "input", "rules"], value: { action: "drop", proto: "tcp", dport: 25 } },
    ]);
    expect(out).toContain("        rules:\n          - { action: drop, proto: tcp, dport: 25 }\n          - { action: accept");
  });
  it("rewrites a flow mapping in its own (unpadded) style, creating what is missing", () => {
    const out = check([{ op: "append", path: ["machines", "pc", "routes"], value: { to: "default", via: "192.168.1.1" } }]);
    expect(out).toContain("pc: {interfaces: {eth0: {segment: lan}}, routes: [{to: default, via: 192.168.1.1}]}");
  });
  it("deletes a key of a block mapping", () => {
    const out = check([{ op: "delete", path: ["machines", "server", "firewall", "input", "policy"], was: "drop" }]);
    expect(out).not.toContain("policy");
    expect(out).toContain("# old");
  });
});

describe("a JSON file stays JSON (found 2026-12-07: reach fix wrote YAML flow mappings into a .json topology)", () => {
  const JSON_SRC = JSON.stringify(
    {
      segments: { lan: "10.0.0.0/24" },
      machines: {
        server: {
          interfaces: { eth0: { segment: "lan", addresses: ["10.0.0.2/24"] } },
          services: [{ name: "web", proto: "tcp", port: 80, bind: "127.0.0.1" }],
        },
        pc: { interfaces: { eth0: { segment: "lan", addresses: ["10.0.0.3/24"] } } },
      },
    },
    null,
    2,
  );
  const edits: Edit[][] = [
    [{ op: "set", path: ["machines", "server", "services", 0, "bind"], value: "0.0.0.0", was: "127.0.0.1" }],
    [{ op: "append", path: ["machines", "server", "services"], value: { name: "ssh", proto: "tcp", port: 22 } }],
    [{ op: "set", path: ["machines", "pc", "services"], value: [{ name: "dns", proto: "udp", port: 53 }], was: undefined }],
    [{ op: "delete", path: ["machines", "server", "services", 0], was: {} }],
  ];
  for (const e of edits)
    it(`${e[0]!.op} ${e[0]!.path.join(".")}: the result is JSON, with exactly the edit`, () => {
      const out = spliceEdits(JSON_SRC, e);
      expect(out, "spliced").toBeDefined();
      expect(JSON.parse(out!)).toEqual(applyToData(JSON.parse(JSON_SRC) as TopologyDoc, e));
    });
});
