/**
 * The only module that imports z3-solver. It turns formulas (term.ts) into Z3
 * bit-vector terms through the API (never through SMT-LIB text, which is slow
 * to parse in the WASM build), checks them with a timeout, decodes models into
 * assignments, and exports a query as SMT-LIB 2 for any other solver.
 *
 * Variables: `dst4` (32 bits) and `dst6` (128 bits), the address dialed in
 * each family; `dport` and `sport` (16 bits).
 */
import type { Bool, BitVec, Context } from "z3-solver";
import type { Family, IP } from "../net/addr.js";
import type { F } from "./term.js";

type Z3 = Awaited<ReturnType<typeof import("z3-solver").init>>;
let api: Promise<Z3> | undefined;
let ctx: Context<"reach"> | undefined;
let emModule: unknown;

/** Loaded on first use: commands that never solve do not pay for the WASM module. */
async function context(): Promise<Context<"reach">> {
  api ??= import("z3-solver").then((m) => m.init());
  const z3 = await api;
  emModule = z3.em;
  ctx ??= z3.Context("reach");
  return ctx;
}

/** Lets the process exit: Z3's worker threads otherwise keep Node alive. */
export async function shutdown(): Promise<void> {
  if (!api) return;
  const z3 = await api;
  const { killThreads } = await import("z3-solver");
  await killThreads(z3.em);
  api = undefined;
  ctx = undefined;
}

export interface SolveOptions {
  readonly timeoutMs: number;
  /** Also return the query as SMT-LIB 2. */
  readonly smt2?: boolean;
}

export type SolveResult =
  | {
      readonly status: "sat";
      readonly model: { readonly dst4: IP; readonly dst6: IP; readonly dport: number; readonly sport: number };
      readonly smt2?: string;
      readonly ms: number;
    }
  | { readonly status: "unsat"; readonly smt2?: string; readonly ms: number }
  | { readonly status: "unknown"; readonly reason: string; readonly smt2?: string; readonly ms: number };

/** Width of a configuration parameter: up to 65,535 values (a repair slot may list thousands of firewall rules). */
const CFG_BITS = 16;

class Translator {
  private readonly memo = new Map<F, Bool<"reach">>();
  readonly dst4: BitVec<32, "reach">;
  readonly dst6: BitVec<128, "reach">;
  readonly dport: BitVec<16, "reach">;
  readonly sport: BitVec<16, "reach">;
  /** Configuration parameters (symbolic configuration), made on first use. */
  readonly cfg = new Map<string, BitVec<typeof CFG_BITS, "reach">>();
  constructor(private readonly z: Context<"reach">) {
    this.dst4 = z.BitVec.const("dst4", 32);
    this.dst6 = z.BitVec.const("dst6", 128);
    this.dport = z.BitVec.const("dport", 16);
    this.sport = z.BitVec.const("sport", 16);
  }

  bool(f: F): Bool<"reach"> {
    const hit = this.memo.get(f);
    if (hit) return hit;
    const b = this.build(f);
    this.memo.set(f, b);
    return b;
  }

  private build(f: F): Bool<"reach"> {
    const z = this.z;
    switch (f.t) {
      case "true":
        return z.Bool.val(true);
      case "false":
        return z.Bool.val(false);
      case "and":
        return z.And(...f.xs.map((x) => this.bool(x)));
      case "or":
        return z.Or(...f.xs.map((x) => this.bool(x)));
      case "not":
        return z.Not(this.bool(f.x));
      case "pfx": {
        const width = f.p.v === 4 ? 32 : 128;
        const v = f.p.v === 4 ? this.dst4 : this.dst6;
        if (f.p.len === width) return v.eq(z.BitVec.val(f.p.n, width));
        const top = z.Extract(width - 1, width - f.p.len, v);
        return top.eq(z.BitVec.val(f.p.n >> BigInt(width - f.p.len), f.p.len));
      }
      case "rng": {
        const v = f.name === "dport" ? this.dport : this.sport;
        if (f.lo === f.hi) return v.eq(z.BitVec.val(f.lo, 16));
        const parts: Bool<"reach">[] = [];
        if (f.lo > 0) parts.push(v.uge(z.BitVec.val(f.lo, 16)));
        if (f.hi < 65535) parts.push(v.ule(z.BitVec.val(f.hi, 16)));
        return parts.length === 0 ? z.Bool.val(true) : parts.length === 1 ? parts[0]! : z.And(...parts);
      }
      case "peq":
        return this.dport.eq(this.sport);
      case "cfg": {
        let v = this.cfg.get(f.param);
        if (!v) this.cfg.set(f.param, (v = z.BitVec.const(`cfg_${f.param}`, CFG_BITS)));
        return v.eq(z.BitVec.val(f.value, CFG_BITS));
      }
      case "chain": {
        // first match from the top: build from the bottom up, iteratively
        let acc: Bool<"reach"> = z.Bool.val(f.policy);
        for (let i = f.rules.length - 1; i >= 0; i--) {
          const r = f.rules[i]!;
          const m = this.bool(r.m);
          acc = r.accept ? z.Or(m, acc) : z.And(z.Not(m), acc);
        }
        return acc;
      }
    }
  }
}

/** A quantifier-free bit-vector solver (much faster to set up than the general one) with the formulas asserted. */
function solverFor(z: Context<"reach">, formulas: readonly Bool<"reach">[], timeoutMs: number) {
  const s = new z.Solver("QF_BV");
  s.set("timeout", Math.max(1, Math.round(timeoutMs)));
  s.add(...formulas);
  return s;
}

/**
 * Checks synchronously through the C API entry point. The binding's own check()
 * starts a thread per call, which costs more than solving these formulas; the
 * timeout still holds (Z3's timer), and we block only our own command.
 */
function check(z: Context<"reach">, s: { readonly ptr: unknown }): "sat" | "unsat" | "unknown" {
  const r = (emModule as { _Z3_solver_check(c: unknown, s: unknown): number })._Z3_solver_check(z.ptr, s.ptr);
  return r === 1 ? "sat" : r === -1 ? "unsat" : "unknown";
}

/**
 * Decides `goal` (any of its alternatives) under `domain`. With `prefer`, each
 * preference is tried in turn as an assumption first, so that the model is a
 * witness a person would pick (the default source port, an address the user
 * knows); the verdict never depends on them.
 */
export async function solve(
  domain: F,
  alternatives: readonly F[],
  opts: SolveOptions & { readonly prefer?: readonly F[][] },
): Promise<SolveResult> {
  const t0 = performance.now();
  const z = await context();
  const tr = new Translator(z);
  const deadline = performance.now() + opts.timeoutMs;
  const base = [tr.bool(domain), alternatives.length ? z.Or(...alternatives.map((a) => tr.bool(a))) : z.Bool.val(false)];
  const first = solverFor(z, base, opts.timeoutMs);
  const smt2 = opts.smt2 ? first.toSmtlib2("unknown") : undefined;
  const withText = <T extends object>(r: T) => ({ ...r, ...(smt2 !== undefined ? { smt2 } : {}), ms: performance.now() - t0 });
  const status = check(z, first);
  if (status === "unknown") return withText({ status: "unknown" as const, reason: first.reasonUnknown() || "the solver gave up" });
  if (status === "unsat") return withText({ status: "unsat" as const });
  let model = first.model();
  for (const extra of opts.prefer ?? []) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    const s = solverFor(z, [...base, ...extra.map((a) => tr.bool(a))], left);
    if (check(z, s) === "sat") {
      model = s.model();
      break;
    }
  }
  const num = (v: BitVec<number, "reach">) => BigInt((model.eval(v, true) as unknown as { value(): bigint }).value());
  return withText({
    status: "sat" as const,
    model: {
      dst4: { v: 4 as Family, n: num(tr.dst4) },
      dst6: { v: 6 as Family, n: num(tr.dst6) },
      dport: Number(num(tr.dport)),
      sport: Number(num(tr.sport)),
    },
  });
}

/**
 * Decides a conjunction of formulas that may mention configuration parameters
 * (term.ts `cfg`), each ranging over 0..size-1 of its domain; a model gives the
 * packet variables and every parameter's value.
 */
export async function solveFamily(
  formulas: readonly F[],
  domains: Readonly<Record<string, number>>,
  timeoutMs: number,
): Promise<
  | {
      readonly status: "sat";
      readonly model: {
        readonly dst4: IP;
        readonly dst6: IP;
        readonly dport: number;
        readonly sport: number;
        readonly cfg: Record<string, number>;
      };
    }
  | { readonly status: "unsat" }
  | { readonly status: "unknown"; readonly reason: string }
> {
  const z = await context();
  const tr = new Translator(z);
  const asserted = formulas.map((f) => tr.bool(f));
  for (const [name, n] of Object.entries(domains)) {
    let v = tr.cfg.get(name);
    if (!v) tr.cfg.set(name, (v = z.BitVec.const(`cfg_${name}`, CFG_BITS)));
    asserted.push(v.ult(z.BitVec.val(n, CFG_BITS)));
  }
  const s = solverFor(z, asserted, timeoutMs);
  const status = check(z, s);
  if (status === "unknown") return { status, reason: s.reasonUnknown() || "the solver gave up" };
  if (status === "unsat") return { status };
  const model = s.model();
  const num = (v: BitVec<number, "reach">) => BigInt((model.eval(v, true) as unknown as { value(): bigint }).value());
  const cfg: Record<string, number> = {};
  for (const [name, v] of tr.cfg) cfg[name] = Number(num(v));
  return {
    status,
    model: {
      dst4: { v: 4 as Family, n: num(tr.dst4) },
      dst6: { v: 6 as Family, n: num(tr.dst6) },
      dport: Number(num(tr.dport)),
      sport: Number(num(tr.sport)),
      cfg,
    },
  };
}

/**
 * MaxSMT over configuration parameters: a model of the hard formulas that
 * maximises the total weight of the soft ones it satisfies; used by
 * `reach fix` to find the smallest edit of a topology.
 */
export async function optimizeFamily(
  hard: readonly F[],
  soft: readonly { readonly f: F; readonly weight: number }[],
  domains: Readonly<Record<string, number>>,
  timeoutMs: number,
): Promise<
  | { readonly status: "sat"; readonly cfg: Record<string, number> }
  | { readonly status: "unsat" }
  | { readonly status: "unknown"; readonly reason: string }
> {
  const z = await context();
  const tr = new Translator(z);
  const opt = new z.Optimize();
  opt.set("timeout", Math.max(1, Math.round(timeoutMs)));
  for (const f of hard) opt.add(tr.bool(f));
  for (const [name, n] of Object.entries(domains)) {
    let v = tr.cfg.get(name);
    if (!v) tr.cfg.set(name, (v = z.BitVec.const(`cfg_${name}`, CFG_BITS)));
    opt.add(v.ult(z.BitVec.val(n, CFG_BITS)));
  }
  for (const x of soft) opt.addSoft(tr.bool(x.f), x.weight);
  const status = await opt.check();
  if (status === "unknown") return { status, reason: "the optimizer gave up (timeout?)" };
  if (status === "unsat") return { status };
  const model = opt.model();
  const cfg: Record<string, number> = {};
  for (const [name, v] of tr.cfg) cfg[name] = Number((model.eval(v, true) as unknown as { value(): bigint }).value());
  return { status, cfg };
}

/**
 * Why one path is infeasible: an unsat core over its conditions, each tracked
 * under the label of the element that imposed it. Undefined if the path is
 * feasible after all or the solver gives up.
 */
export async function coreOf(
  domain: F,
  conditions: readonly F[],
  labels: readonly string[],
  timeoutMs: number,
): Promise<string[] | undefined> {
  const z = await context();
  const tr = new Translator(z);
  const s = new z.Solver("QF_BV");
  s.set("timeout", Math.max(1, Math.round(timeoutMs)));
  s.set("core.minimize", true);
  s.addAndTrack(tr.bool(domain), z.Bool.const("q"));
  conditions.forEach((c, i) => s.addAndTrack(tr.bool(c), z.Bool.const(`c${i}`)));
  if (check(z, s) !== "unsat") return undefined;
  const names = [...s.unsatCore()].map((b) => b.toString());
  const out: string[] = [];
  for (const n of names) {
    const label = n === "q" ? "the query's ports and addresses" : labels[Number(n.slice(1))];
    if (label !== undefined && !out.includes(label)) out.push(label);
  }
  return out;
}
