/** The built command line: exit codes, --json shape, help. Runs dist/ (built by `npm ci` / `npm run build`). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = resolve("dist/bin/main.js");
const reach = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe("the installed command is the bundle (bundle.config.mjs)", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string; bin: Record<string, string> };

  it("package.json's bin names the bundle, which npm can run directly", () => {
    expect(pkg.bin.reach).toBe("dist/bin/main.js");
    expect(readFileSync(BIN, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(statSync(BIN).mode & 0o100).not.toBe(0);
  });

  it("--version is reach's own, also inside another project (yargs would read that project's package.json)", () => {
    const dir = mkdtempSync(join(tmpdir(), "reach-version-"));
    try {
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "someone-else", version: "9.9.9" }));
      for (const args of [["--version"], ["show", "--version"], ["ask", "--version"]]) {
        const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", cwd: dir });
        expect({ args, out: r.stdout, code: r.status }).toEqual({ args, out: `${pkg.version}\n`, code: 0 });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("speaks English whatever LANG says (yargs' own words too)", () => {
    for (const LANG of ["de_DE.UTF-8", "fr_FR.UTF-8", "C"]) {
      const r = spawnSync(process.execPath, [BIN, "ask", "--help"], { encoding: "utf8", env: { ...process.env, LANG, LC_ALL: LANG } });
      expect(r.stdout).toContain("Options:");
      expect(r.stdout).not.toMatch(/Optionen|Options :|Befehle|Commandes/);
    }
  });
});

describe("reach ask", () => {
  it("answers the README's first query as JSON: reachable, dial 127.0.0.1:2222", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.verdict).toBe("reachable");
    expect(j.dial).toMatchObject({ address: "127.0.0.1", port: 2222, proto: "tcp" });
    expect(j.dial.via).toContain('port forward "ssh"');
    expect(j.trace.legs).toHaveLength(2);
    expect(j.trace.legs[1].packet).toMatchObject({ src: "10.0.2.2", dst: "10.0.2.15", dport: 22 });
  });

  it("prints the path hop by hop with source lines", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^reachable: host -> guest:22\/tcp\n/);
    expect(r.out).toContain("dial 127.0.0.1:2222");
    expect(r.out).toMatch(/guest-nat\s+relays/);
    expect(r.out).toMatch(/delivered to sshd \(0\.0\.0\.0:22\), models\/virtualbox-nat\.yaml:\d+:\d+/);
    expect(r.out).toContain("reply path: guest -> guest-nat");
  });

  it("exits 0 with an unreachable answer and its root cause", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "web -> guest:22/tcp");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^unreachable: web -> guest:22\/tcp \(ROUTER_NO_FORWARD\)\n {2}cause: ROUTER_NO_FORWARD at models\/virtualbox-nat\.yaml:22:5 \(router\): /,
    );
  });

  it("usage errors exit 2 without a stack trace", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml");
    expect(r.code).toBe(2);
    expect(r.err).not.toMatch(/\n\s+at /);
    const r2 = reach("frobnicate");
    expect(r2.code).toBe(2);
  });

  it("--help lists the commands with examples", () => {
    const r = reach("ask", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("reach ask models/virtualbox-nat.yaml");
    expect(r.out).toContain("Examples:");
  });
});

describe("reach check", () => {
  it("exits 0 when every expectation of a model holds", () => {
    const r = reach("check", "models/virtualbox-nat.yaml");
    expect(r.out).not.toContain("FAIL");
    expect(r.code).toBe(0);
  });
});

describe("reach schema", () => {
  it("prints a JSON Schema with the machines property", () => {
    const r = reach("schema");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.properties.machines).toBeDefined();
    expect(s.required).toContain("machines");
  });
});

describe("reach doctor (the command; the sources and findings are in test/doctor)", () => {
  it("bad options are usage errors (exit 2) before anything is read", () => {
    const r = reach("doctor", "--command-timeout", "0");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/RCH042: --command-timeout: '0' is not a positive number of seconds/);
    expect(reach("doctor", "--lan", "10.0.0.0/30").code).toBe(2);
  });
  it("reads only the sources named, and says what it read", () => {
    const r = reach("doctor", "--sources", "qemu", "--json");
    expect([0, 1]).toContain(r.code);
    const j = JSON.parse(r.out) as { sources: { name: string }[] };
    expect(j.sources.map((s) => s.name)).toEqual(["qemu"]);
  }, 60_000);
});

describe("reach import compose --env-file / --profile", () => {
  const fixture = "test/import/fixtures/compose-env";
  it("takes the variables of the env file the user names", () => {
    const r = spawnSync(
      process.execPath,
      ["../../../../dist/bin/main.js", "import", "compose", "docker-compose.yml", "--env-file", ".env"],
      {
        cwd: fixture,
        encoding: "utf8",
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("port: 8081");
    expect(r.stdout).toContain("dport: 3001");
  });
  it("without it, a .env beside the file is a note, and ${VAR:?} without a value leaves that port out", () => {
    const r = spawnSync(process.execPath, ["../../../../dist/bin/main.js", "import", "compose", "docker-compose.yml"], {
      cwd: fixture,
      encoding: "utf8",
    });
    expect(r.stdout).toMatch(/\.env beside .*docker-compose\.yml holds variables; name it with --env-file/);
    expect(r.stdout).not.toContain("port: 8081");
  });
});

describe("bad arguments the fuzz found are usage errors, not crashes (2026-12-06)", () => {
  it("an option that takes one value, given twice: RCH042, exit 2, no stack trace", () => {
    const r = reach("ask", "models/virtualbox-nat.yaml", "host -> guest:22/tcp", "--timeout", "5", "--timeout", "6");
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042: --timeout: given 2 times");
    expect(r.err).not.toMatch(/\n\s+at /);
  });
  it("a query naming an Object member (constructor, __proto__) is an unknown machine", () => {
    for (const name of ["constructor", "__proto__"]) {
      const r = reach("ask", "models/virtualbox-nat.yaml", `host -> ${name}:22/tcp`);
      expect(r.code, name).toBe(2);
      expect(r.err).toContain(`RCH041: query names machine '${name}'`);
    }
  });
  it("--counterexamples naming a file: RCH042 before anything is proved", () => {
    const r = reach("prove", "proofs/", "--counterexamples", "package.json");
    expect(r.code).toBe(2);
    expect(r.err).toContain("RCH042: --counterexamples: 'package.json' is a file, not a folder");
  });
});

describe("a reader that closes the pipe early (found 2026-12-07: `reach show big.json | head`)", () => {
  it("ends the command quietly with its own exit code, no EPIPE stack trace", async () => {
    const { spawn } = await import("node:child_process");
    const { lanTopology } = await import("../bench/generate.js");
    const dir = mkdtempSync(join(tmpdir(), "reach-epipe-"));
    try {
      // 300 machines: about 400 KB of `show` text, more than a pipe holds, so writes meet the closed end
      const file = join(dir, "lan.json");
      writeFileSync(file, lanTopology(300, 10, "json"));
      const child = spawn(process.execPath, [BIN, "show", file], { stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      // read the first chunk, then close our end, as `head` does
      child.stdout.once("data", () => child.stdout.destroy());
      const code = await new Promise<number | null>((done) => child.on("close", (c) => done(c)));
      expect({ code, err }).toEqual({ code: 0, err: "" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
