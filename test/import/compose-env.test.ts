/** Compose interpolation (issue 17): defaults, env files the user names, an unnamed .env, profiles. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importCompose, parseEnvFile } from "../../src/import/docker.js";
import { resolveVars } from "../../src/import/docker-compose-ports.js";
import type { ImportResult } from "../../src/import/types.js";

const DIR = join(import.meta.dirname, "fixtures", "compose-env");
const FILE = join(DIR, "docker-compose.yml");
const TEXT = `services:\n  web:\n    image: nginx\n    ports:\n      - "\${WEB_BIND:-127.0.0.1}:\${WEB_PORT:-8080}:80"\n  api:\n    image: api\n    ports:\n      - target: 3000\n        published: \${API_PORT:?set API_PORT}\n  tools:\n    image: busybox\n    profiles: [debug]\n    expose: ["\${TOOLS_PORT-9000}"]\n`;
const run = (options: object = {}) => importCompose([{ file: FILE, text: TEXT }], { host: "host", ...options }) as ImportResult;

describe("Compose interpolation", () => {
  it("every form of the compose-spec", () => {
    const env = new Map([
      ["SET", "v"],
      ["EMPTY", ""],
    ]);
    const text = (t: string) => {
      const r = resolveVars(t, env);
      return "text" in r ? r.text : `missing ${r.missing}`;
    };
    expect(text("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $SET $$SET ${SET:+alt} ${EMPTY:+alt}|")).toBe("v d  d v $SET alt |");
    expect(text("${UNSET:-${SET}x}")).toBe("vx");
    expect(text("${UNSET}")).toBe("missing UNSET");
    expect(text("${EMPTY:?need it}")).toBe("missing EMPTY");
    expect(text("${EMPTY?need it}")).toBe("");
    expect(text("${a b}")).toBe("missing a b");
  });

  it("without env files: defaults are used and said; a required variable is a warning with that port left out; an unnamed .env is a note", () => {
    const r = run();
    expect(r.diagnostics.map((d) => `${d.span.line}:${d.span.col} ${d.code} ${d.message}`)).toEqual([
      "10:20 RCH051 published of a port of service 'api' uses ${API_PORT}, which is not set, and Compose refuses to start without it (set API_PORT)",
    ]);
    expect(r.fragment.notes).toContain(
      "A .env beside docker-compose.yml holds variables; name it with --env-file " +
        join("test", "import", "fixtures", "compose-env", ".env") +
        " to use it.",
    );
    expect(r.fragment.notes.join("\n")).toContain(
      "WEB_PORT is not set by the env files named (--env-file), so Compose uses its default '8080' (docker-compose.yml:5:9).",
    );
    expect(r.fragment.notes.join("\n")).toContain("Service 'tools' has profiles (debug): imported");
    expect(JSON.stringify(r.fragment.machines["host"])).toContain('"dport":8080');
    expect(Object.keys(r.fragment.machines).sort()).toEqual(["api", "host", "tools", "web"]);
  });

  it("with the .env named: its variables are used, and no note says to name it", () => {
    const r = run({ envFiles: [join(DIR, ".env")] });
    expect(r.diagnostics).toEqual([]);
    expect(r.fragment.notes.join("\n")).not.toContain("A .env beside");
    const host = JSON.stringify(r.fragment.machines["host"]);
    expect(host).toContain('"dport":8081');
    expect(host).toContain('"dport":3001');
    expect(host).not.toContain("127.0.0.1");
  });

  it("an env file that cannot be read is an error naming it", () => {
    const r = run({ envFiles: [join(DIR, "missing.env")] });
    expect(r.diagnostics.map((d) => d.code)).toContain("RCH001");
  });

  it("profiles: the option enables some; services of other profiles are left out with a note", () => {
    const r = run({ envFiles: [join(DIR, ".env")], profiles: ["prod"] });
    expect(Object.keys(r.fragment.machines).sort()).toEqual(["api", "host", "web"]);
    expect(r.fragment.notes.join("\n")).toContain(
      "Service 'tools' is left out: its profiles (debug) are not among those enabled (--profile prod).",
    );
    expect(Object.keys(run({ profiles: ["debug"] }).fragment.machines)).toContain("tools");
  });

  it("reads .env files as Compose does", () => {
    expect([...parseEnvFile("# c\nexport A=1\nB=\"two words\"\nC=x # comment\nD='q'\nnot a line\n")]).toEqual([
      ["A", "1"],
      ["B", "two words"],
      ["C", "x"],
      ["D", "q"],
    ]);
  });
});
