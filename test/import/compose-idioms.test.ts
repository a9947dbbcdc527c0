/**
 * Compose idioms met in the corpus of real files (issue 17), each on a fixture of our own in
 * test/import/fixtures/compose-idioms: a top-level include: (read under the include rules of
 * docs/security.md), deploy.replicas / scale, and external networks.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importCompose } from "../../src/import/docker.js";
import type { ImportResult } from "../../src/import/types.js";

const FIX = join(import.meta.dirname, "fixtures", "compose-idioms");
const load = (file: string) => importCompose([{ file, text: readFileSync(file, "utf8") }], { host: "host" }) as ImportResult;
const said = (r: ImportResult) => r.diagnostics.map((d) => `${basename(d.span.file)}:${d.span.line} ${d.code} ${d.message}`);
const containers = (r: ImportResult) => Object.keys(r.fragment.machines).filter((m) => m !== "host" && m !== "lan");
const segments = (r: ImportResult, m: string) => Object.values(r.fragment.machines[m]?.interfaces ?? {}).map((i) => i.segment);
const dnat = (r: ImportResult) =>
  (r.fragment.machines["host"]?.nat ?? [])
    .filter((n) => n.action === "dnat" && n.chain === "prerouting")
    .map((n) => `${String(n.dport)}->${"to" in n ? String(n.to) : "?"}`);

describe("include:", () => {
  it("the included files' services and networks are the project's, beside the including file's", () => {
    const r = load(join(FIX, "include", "compose.yaml"));
    expect(said(r)).toEqual([]);
    expect(containers(r).sort()).toEqual(["cache", "db", "web"]);
    // web joins front (its own file's) and back (the included file's): one network, shared with db and cache
    expect(segments(r, "web")).toEqual(["host/docker:front", "host/docker:back"]);
    expect(segments(r, "db")).toEqual(["host/docker:back"]);
    expect(segments(r, "cache")).toEqual(["host/docker:back"]);
    expect(dnat(r).map((x) => x.split("->")[0])).toEqual(expect.arrayContaining(["8080", "6379"]));
    expect(r.fragment.notes.join("\n")).toContain("Included Compose files read (include:)");
  });

  describe("an included file outside the include rules is not read: a warning naming the path, never its content", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-compose-include-"));
    const outside = mkdtempSync(join(tmpdir(), "reach-compose-outside-"));
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    });
    writeFileSync(join(outside, "secret.yaml"), "services:\n  stolen:\n    image: x\n    ports: ['9999:9999']\n");
    symlinkSync(join(outside, "secret.yaml"), join(dir, "link.yaml"));
    it.each([
      ["a symbolic link leading out", "link.yaml", "RCH058", "it leads outside the include root"],
      ["an absolute path", join(outside, "secret.yaml"), "RCH058", "an absolute path"],
      ["a path up and out", `../${basename(outside)}/secret.yaml`, "RCH058", "it lies outside the include root"],
      ["a missing file", "gone.yaml", "RCH001", "cannot be read"],
    ])("%s", (_what, path, code, why) => {
      const file = join(dir, "compose.yaml");
      writeFileSync(file, `include:\n  - ${JSON.stringify(path)}\nservices:\n  web:\n    image: nginx\n`);
      const r = load(file);
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]).toMatchObject({ code, severity: "warning", span: { line: 2 } });
      expect(r.diagnostics[0]!.message).toContain(why);
      expect(JSON.stringify(r)).not.toContain("stolen");
      expect(containers(r)).toEqual(["web"]);
    });

    it("a service two files define is said (Compose refuses such a project); nested includes are followed", () => {
      mkdirSync(join(dir, "sub"), { recursive: true });
      writeFileSync(join(dir, "sub", "a.yaml"), "include: [b.yaml]\nservices:\n  web:\n    image: other\n");
      writeFileSync(join(dir, "sub", "b.yaml"), "services:\n  deep:\n    image: x\n");
      const file = join(dir, "compose.yaml");
      writeFileSync(file, "include:\n  - sub/a.yaml\nservices:\n  web:\n    image: nginx\n");
      const r = load(file);
      expect(said(r)).toEqual([
        `compose.yaml:4 RCH051 service 'web' is also defined by ${join(dir, "sub", "a.yaml")}: Compose refuses a project whose included files conflict; this definition is kept`,
      ]);
      expect(containers(r).sort()).toEqual(["deep", "web"]);
    });
  });
});

describe("deploy.replicas and scale", () => {
  const r = load(join(FIX, "replicas", "compose.yaml"));
  it("replicas that can all start are all imported, named as Compose numbers them; none for 0", () => {
    expect(said(r)).toEqual([]);
    expect(containers(r)).toEqual(["worker-1", "worker-2", "worker-3", "web"]);
    expect(new Set(containers(r).map((m) => r.fragment.machines[m]!.interfaces!["eth0"]!.addresses![0])).size).toBe(4);
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain("Service 'worker' runs 3 containers (replicas), imported as worker-1, worker-2, worker-3.");
    expect(notes).toContain("Service 'spare' has 0 replicas: Compose starts no container for it; none is imported.");
  });
  it("replicas that would publish one host port: the first starts, the others cannot (said, not an omission)", () => {
    expect(r.fragment.notes.join("\n")).toContain("Service 'web' asks for 2 containers, but they would all publish host port 8081/tcp");
    expect(dnat(r)).toEqual([expect.stringMatching(/^8081->172\.18\.0\.\d+$/)]);
  });
});

describe("external networks", () => {
  const r = load(join(FIX, "external", "compose.yaml"));
  it("are assumed as docker network create makes them; pinned addresses give the subnet that holds them", () => {
    expect(said(r)).toEqual([]);
    expect(segments(r, "proxy")).toEqual(["host/docker:edge"]);
    expect(r.fragment.machines["zk"]?.interfaces?.["eth0"]?.addresses).toEqual(["172.21.0.11/16"]);
    expect(r.fragment.segments?.["host/docker:default"]).toBe("172.21.0.0/16");
    const notes = r.fragment.notes.join("\n");
    expect(notes).toContain(
      "Network 'edge' is external (edge): Compose does not create it; assumed a network as `docker network create edge` makes it",
    );
    expect(notes).toContain(
      "Network 'default' is external and its services give addresses on it: its subnet is assumed to be 172.21.0.0/16",
    );
    expect(dnat(r)).toEqual([expect.stringMatching(/^443->/)]);
  });
});
