/** Port numbers and ranges as the topology language, expectations and queries write them. */

/** A port: 1-65535 for what binds or forwards, 0-65535 in rule matches (`--dport 0:1023`). */
export function parsePort(v: number | string, min = 1): number | undefined {
  const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= min && n <= 65535 ? n : undefined;
}

export function parsePortRange(v: number | string): { lo: number; hi: number } | undefined {
  if (typeof v === "string" && v.includes("-")) {
    const [a, b, ...more] = v.split("-");
    if (more.length || a === undefined || b === undefined) return undefined;
    const lo = parsePort(a, 0);
    const hi = parsePort(b, 0);
    return lo !== undefined && hi !== undefined && lo <= hi ? { lo, hi } : undefined;
  }
  const p = parsePort(v, 0);
  return p === undefined ? undefined : { lo: p, hi: p };
}

/** "22/tcp" -> { port: 22, proto: "tcp" } (a port where something may accept connections). */
export function parseServicePort(text: string): { port: number; proto: "tcp" | "udp" } | undefined {
  const m = /^\s*(\d{1,5})\s*\/\s*(tcp|udp)\s*$/i.exec(text);
  if (!m) return undefined;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535 ? { port, proto: m[2]!.toLowerCase() as "tcp" | "udp" } : undefined;
}
