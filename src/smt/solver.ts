/**
 * The only module that imports z3-solver. It turns formulas (term.ts) into Z3
 * bit-vector terms through the API (never through SMT-LIB text, which is slow
 * to parse in the WASM build), checks them with a timeout, decodes models into
 * assignments, and exports a query as SMT-LIB 2 for any other solver.
 *
 * Variables: `dst4` (32 bits) and `dst6` (128 bits), the address dialed in
 * each family; `dport` and `sport` (16 bits).
 *
 * Memory (issue 13): every Z3 object is made through the low-level API in a
 * reference-counted context and released when the call that made it returns.
 * The high-level API frees its objects from a FinalizationRegistry, that is
 * only when V8 collects the JS wrappers; V8 does not see the WASM heap behind
 * them (about 265 KB per decision), so a long run filled the fixed 2 GB WASM
 * memory and Z3 broke. Nothing outlives a call here: between calls no Z3
 * object of ours is alive (`solverStats().live` is 0).
 *
 * Failures: anything thrown while a call uses Z3 (a WASM trap, an error code,
 * a dead module) discards the whole WASM instance; the call is retried once
 * on a new one, and a second failure is a `SolverFailure`. A result is never
 * taken from an instance that threw.
 */
import type {
  Z3_ast,
  Z3_ast_vector,
  Z3_context,
  Z3_model,
  Z3_optimize,
  Z3_params,
  Z3_solver,
  Z3_sort,
  Z3Core,
  Z3LowLevel,
} from "z3-solver";
import type { Family, IP } from "../net/addr.js";
import type { F } from "./term.js";

/** A solver call failed twice (the second time on a rebuilt WASM instance): an internal error for that decision, never a verdict. */
export class SolverFailure extends Error {
  override readonly name = "SolverFailure";
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

type Em = Z3LowLevel["em"] & {
  _Z3_solver_check(c: Z3_context, s: Z3_solver): number;
  HEAP8?: Int8Array;
  PThread?: { terminateAllThreads(): void; runningWorkers: unknown[]; unusedWorkers: unknown[] };
};

/** One WASM instance of Z3 and the context all calls use. */
interface Engine {
  readonly Z: Z3Core;
  readonly em: Em;
  c: Z3_context;
  /** Solver calls made on `c` (the context is renewed after `contextCalls`). */
  calls: number;
}

/** Calls after which the context is deleted and made again (nothing of ours is alive between calls, so this is safe). */
let contextCalls = 20_000;

let engineP: Promise<Engine> | undefined;
/** Z3 objects of ours alive right now (0 between calls). */
let live = 0;
const counters = { calls: 0, failures: 0, rebuilds: 0, contexts: 0, injected: 0 };
let injectFailures = 0;
let injectSkip = 0;

function newContext(Z: Z3Core): Z3_context {
  const cfg = Z.mk_config();
  const c = Z.mk_context_rc(cfg);
  Z.del_config(cfg);
  // the same printing as the high-level API (SMT-LIB 2 export)
  Z.set_ast_print_mode(c, 2 /* Z3_PRINT_SMTLIB2_COMPLIANT */);
  counters.contexts++;
  return c;
}

/** Loaded on first use: commands that never solve do not pay for the WASM module. */
function engine(): Promise<Engine> {
  engineP ??= import("z3-solver")
    .then((m) => m.init())
    .then(async (z3) => {
      const em = z3.em as Em;
      await timerThread(em);
      return { Z: z3.Z3, em, c: newContext(z3.Z3), calls: 0 };
    });
  return engineP;
}

/**
 * Starts the worker thread Z3's timeout timer will run on, and waits (without blocking) until it
 * has loaded the module. The build has no thread pool: otherwise the first check with a timeout
 * creates the worker, and the main thread spins in Z3's timer until that worker has started
 * (0.2-0.4 s of a one-query command). A worker that fails to load is left to Z3 to make again.
 */
async function timerThread(em: Em): Promise<void> {
  const pt = em.PThread as
    (Em["PThread"] & { allocateUnusedWorker?(): void; loadWasmModuleToWorker?(w: unknown): Promise<void> }) | undefined;
  if (!pt?.allocateUnusedWorker || !pt.loadWasmModuleToWorker || pt.unusedWorkers.length) return;
  pt.allocateUnusedWorker();
  await pt.loadWasmModuleToWorker(pt.unusedWorkers[pt.unusedWorkers.length - 1]);
}

/**
 * Starts loading Z3 now, so that its WASM module compiles and its timer thread starts while the
 * caller reads and lowers its input (a command that will solve calls this first). Errors surface
 * at the first solver call, which retries on a new instance.
 */
export function prepareSolver(): void {
  engine().catch(() => undefined);
}

/** Drops a WASM instance that threw: its threads are stopped, nothing of it is used again. */
function discard(e: Engine | undefined): void {
  engineP = undefined;
  live = 0;
  counters.rebuilds++;
  try {
    e?.em.PThread?.terminateAllThreads();
  } catch {
    // a broken instance may not even stop cleanly; it is unreachable from here on
  }
}

/** Lets the process exit: Z3's worker threads otherwise keep Node alive. */
export async function shutdown(): Promise<void> {
  const p = engineP;
  if (!p) return;
  engineP = undefined;
  const e = await p.catch(() => undefined);
  if (!e) return;
  try {
    e.Z.del_context(e.c);
  } catch {
    // exiting anyway
  }
  const { killThreads } = await import("z3-solver");
  await killThreads(e.em);
}

/** Counters for tests and long runs. */
export function solverStats(): {
  readonly live: number;
  readonly calls: number;
  readonly failures: number;
  readonly rebuilds: number;
  readonly contexts: number;
  readonly injected: number;
  /** Z3's estimate of its own heap, 0 before the first call. */
  readonly z3Bytes: number;
  /** The WASM memory (fixed at 2 GB by the z3-solver build). */
  readonly wasmBytes: number;
  readonly workers: number;
} {
  const e = current;
  let z3Bytes = 0;
  let wasmBytes = 0;
  let workers = 0;
  if (e) {
    try {
      z3Bytes = Number(e.Z.get_estimated_alloc_size());
      wasmBytes = e.em.HEAP8?.length ?? 0;
      workers = (e.em.PThread?.runningWorkers.length ?? 0) + (e.em.PThread?.unusedWorkers.length ?? 0);
    } catch {
      // a broken instance: no figures
    }
  }
  return { live, ...counters, z3Bytes, wasmBytes, workers };
}

/** Tests only: after `skip` more checks, the next `n` checks throw inside Z3 work, as a WASM trap would. */
export function injectSolverFailures(n: number, skip = 0): void {
  injectFailures = n;
  injectSkip = skip;
}

/** Tests only: renew the context after this many calls (default 20,000). */
export function renewContextAfter(calls: number): void {
  contextCalls = calls;
}

let current: Engine | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `op` on a sound engine, one call at a time; a failure discards the
 * engine and retries once on a new one, a second failure is a SolverFailure.
 */
function guarded<T>(what: string, op: (s: Scope) => T | Promise<T>): Promise<T> {
  const run = async (): Promise<T> => {
    let first: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      let e: Engine | undefined;
      try {
        e = await engine();
        current = e;
        if (e.calls >= contextCalls) {
          e.Z.del_context(e.c);
          e.c = newContext(e.Z);
          e.calls = 0;
        }
        e.calls++;
        counters.calls++;
        const s = new Scope(e);
        let r: T;
        try {
          r = await op(s);
        } catch (err) {
          s.broken = true;
          throw err;
        } finally {
          if (!s.broken) s.release();
        }
        return r;
      } catch (err) {
        counters.failures++;
        discard(e);
        current = undefined;
        if (attempt === 0) first = err;
        else
          throw new SolverFailure(
            `internal error: the solver failed twice during ${what} (${message(first)}; then, on a new instance, ${message(err)})`,
            err,
          );
      }
    }
    throw new Error("unreachable");
  };
  const r = queue.then(run, run);
  queue = r.catch(() => undefined);
  return r;
}

const message = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The Z3 objects of one call: each is referenced when made and released when
 * the call returns (unless Z3 threw, in which case the engine is dropped).
 */
class Scope {
  readonly Z: Z3Core;
  readonly c: Z3_context;
  broken = false;
  private readonly undo: (() => void)[] = [];
  constructor(readonly e: Engine) {
    this.Z = e.Z;
    this.c = e.c;
  }

  /** Throws if the last call set an error code. */
  ok<T>(v: T): T {
    const code = this.Z.get_error_code(this.c);
    if (code !== 0) throw new Error(`Z3 error ${code}: ${this.Z.get_error_msg(this.c, code)}`);
    return v;
  }

  ast(a: Z3_ast): Z3_ast {
    this.ok(a);
    this.Z.inc_ref(this.c, a);
    live++;
    this.undo.push(() => {
      this.Z.dec_ref(this.c, a);
      live--;
    });
    return a;
  }

  solver(logic: string): Z3_solver {
    const s = this.ok(this.Z.mk_solver_for_logic(this.c, this.Z.mk_string_symbol(this.c, logic)));
    this.Z.solver_inc_ref(this.c, s);
    live++;
    this.undo.push(() => {
      this.Z.solver_dec_ref(this.c, s);
      live--;
    });
    return s;
  }

  optimize(): Z3_optimize {
    const o = this.ok(this.Z.mk_optimize(this.c));
    this.Z.optimize_inc_ref(this.c, o);
    live++;
    this.undo.push(() => {
      this.Z.optimize_dec_ref(this.c, o);
      live--;
    });
    return o;
  }

  model(m: Z3_model): Z3_model {
    this.ok(m);
    this.Z.model_inc_ref(this.c, m);
    live++;
    this.undo.push(() => {
      this.Z.model_dec_ref(this.c, m);
      live--;
    });
    return m;
  }

  vector(v: Z3_ast_vector): Z3_ast_vector {
    this.ok(v);
    this.Z.ast_vector_inc_ref(this.c, v);
    live++;
    this.undo.push(() => {
      this.Z.ast_vector_dec_ref(this.c, v);
      live--;
    });
    return v;
  }

  /** Parameters, released as soon as applied. */
  params(set: Readonly<Record<string, number | boolean>>, apply: (p: Z3_params) => void): void {
    const { Z, c } = this;
    const p = Z.mk_params(c);
    Z.params_inc_ref(c, p);
    try {
      for (const [k, v] of Object.entries(set)) {
        if (typeof v === "boolean") Z.params_set_bool(c, p, Z.mk_string_symbol(c, k), v);
        else Z.params_set_uint(c, p, Z.mk_string_symbol(c, k), v);
      }
      apply(p);
      this.ok(p);
    } finally {
      Z.params_dec_ref(c, p);
    }
  }

  /** The value of a bit-vector term in a model (completed). */
  num(m: Z3_model, t: Z3_ast): bigint {
    const v = this.Z.model_eval(this.c, m, t, true);
    if (v === null) throw new Error("Z3 could not evaluate a term in its model");
    return BigInt(this.Z.get_numeral_string(this.c, this.ast(v)));
  }

  release(): void {
    // newest first, as they were made
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo.length = 0;
    this.ok(undefined);
  }
}

/** Where an injected failure strikes: after the call has made Z3 objects, as a trap inside a check would. */
function maybeInject(): void {
  if (injectFailures > 0 && injectSkip-- <= 0) {
    injectFailures--;
    counters.injected++;
    const wasm = (globalThis as unknown as { WebAssembly: { RuntimeError: ErrorConstructor } }).WebAssembly;
    throw new wasm.RuntimeError("injected: table index is out of bounds");
  }
}

/**
 * Checks synchronously through the C API entry point. The binding's own check()
 * starts a thread per call, which costs more than solving these formulas; the
 * timeout still holds (Z3's timer), and we block only our own command.
 */
function check(x: Scope, s: Z3_solver): "sat" | "unsat" | "unknown" {
  maybeInject();
  const r = x.ok(x.e.em._Z3_solver_check(x.c, s));
  return r === 1 ? "sat" : r === -1 ? "unsat" : "unknown";
}

/** A quantifier-free bit-vector solver (much faster to set up than the general one) with the formulas asserted. */
function solverFor(x: Scope, formulas: readonly Z3_ast[], timeoutMs: number): Z3_solver {
  const s = x.solver("QF_BV");
  x.params({ timeout: Math.max(1, Math.round(timeoutMs)) }, (p) => x.Z.solver_set_params(x.c, s, p));
  for (const f of formulas) x.ok(x.Z.solver_assert(x.c, s, f));
  return s;
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
  private readonly memo = new Map<F, Z3_ast>();
  private readonly sorts = new Map<number, Z3_sort>();
  readonly dst4: Z3_ast;
  readonly dst6: Z3_ast;
  readonly dport: Z3_ast;
  readonly sport: Z3_ast;
  /** Configuration parameters (symbolic configuration), made on first use. */
  readonly cfg = new Map<string, Z3_ast>();
  constructor(private readonly x: Scope) {
    this.dst4 = this.bv("dst4", 32);
    this.dst6 = this.bv("dst6", 128);
    this.dport = this.bv("dport", 16);
    this.sport = this.bv("sport", 16);
  }

  /** Sorts are never collected while the context lives (and are shared): no reference needed. */
  private sort(width: number): Z3_sort {
    let s = this.sorts.get(width);
    if (!s) this.sorts.set(width, (s = this.x.ok(this.x.Z.mk_bv_sort(this.x.c, width))));
    return s;
  }

  bv(name: string, width: number): Z3_ast {
    const { Z, c } = this.x;
    return this.x.ast(Z.mk_const(c, Z.mk_string_symbol(c, name), this.sort(width)));
  }

  boolConst(name: string): Z3_ast {
    const { Z, c } = this.x;
    return this.x.ast(Z.mk_const(c, Z.mk_string_symbol(c, name), this.x.ok(Z.mk_bool_sort(c))));
  }

  val(n: number | bigint, width: number): Z3_ast {
    return this.x.ast(this.x.Z.mk_numeral(this.x.c, n.toString(), this.sort(width)));
  }

  cfgVar(param: string): Z3_ast {
    let v = this.cfg.get(param);
    if (!v) this.cfg.set(param, (v = this.bv(`cfg_${param}`, CFG_BITS)));
    return v;
  }

  lit(b: boolean): Z3_ast {
    return this.x.ast(b ? this.x.Z.mk_true(this.x.c) : this.x.Z.mk_false(this.x.c));
  }
  and(xs: Z3_ast[]): Z3_ast {
    return this.x.ast(this.x.Z.mk_and(this.x.c, xs));
  }
  or(xs: Z3_ast[]): Z3_ast {
    return this.x.ast(this.x.Z.mk_or(this.x.c, xs));
  }
  not(a: Z3_ast): Z3_ast {
    return this.x.ast(this.x.Z.mk_not(this.x.c, a));
  }
  eq(a: Z3_ast, b: Z3_ast): Z3_ast {
    return this.x.ast(this.x.Z.mk_eq(this.x.c, a, b));
  }

  bool(f: F): Z3_ast {
    const hit = this.memo.get(f);
    if (hit !== undefined) return hit;
    const b = this.build(f);
    this.memo.set(f, b);
    return b;
  }

  private build(f: F): Z3_ast {
    const { Z, c } = this.x;
    switch (f.t) {
      case "true":
        return this.lit(true);
      case "false":
        return this.lit(false);
      case "and":
        return this.and(f.xs.map((x) => this.bool(x)));
      case "or":
        return this.or(f.xs.map((x) => this.bool(x)));
      case "not":
        return this.not(this.bool(f.x));
      case "pfx": {
        const width = f.p.v === 4 ? 32 : 128;
        const v = f.p.v === 4 ? this.dst4 : this.dst6;
        if (f.p.len === width) return this.eq(v, this.val(f.p.n, width));
        const top = this.x.ast(Z.mk_extract(c, width - 1, width - f.p.len, v));
        return this.eq(top, this.val(f.p.n >> BigInt(width - f.p.len), f.p.len));
      }
      case "rng": {
        const v = f.name === "dport" ? this.dport : this.sport;
        if (f.lo === f.hi) return this.eq(v, this.val(f.lo, 16));
        const parts: Z3_ast[] = [];
        if (f.lo > 0) parts.push(this.x.ast(Z.mk_bvuge(c, v, this.val(f.lo, 16))));
        if (f.hi < 65535) parts.push(this.x.ast(Z.mk_bvule(c, v, this.val(f.hi, 16))));
        return parts.length === 0 ? this.lit(true) : parts.length === 1 ? parts[0]! : this.and(parts);
      }
      case "peq":
        return this.eq(this.dport, this.sport);
      case "cfg":
        return this.eq(this.cfgVar(f.param), this.val(f.value, CFG_BITS));
      case "chain": {
        // first match from the top: build from the bottom up, iteratively
        let acc = this.lit(f.policy);
        for (let i = f.rules.length - 1; i >= 0; i--) {
          const r = f.rules[i]!;
          const m = this.bool(r.m);
          acc = r.accept ? this.or([m, acc]) : this.and([this.not(m), acc]);
        }
        return acc;
      }
    }
  }

  /** Parameter `name` below `n` (its domain). */
  below(name: string, n: number): Z3_ast {
    return this.x.ast(this.x.Z.mk_bvult(this.x.c, this.cfgVar(name), this.val(n, CFG_BITS)));
  }
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
  return guarded("solve", (x) => {
    const tr = new Translator(x);
    const deadline = performance.now() + opts.timeoutMs;
    const base = [tr.bool(domain), alternatives.length ? tr.or(alternatives.map((a) => tr.bool(a))) : tr.lit(false)];
    const first = solverFor(x, base, opts.timeoutMs);
    // as the high-level API's toSmtlib2: the last assertion is the formula, the others assumptions
    const smt2 = opts.smt2 ? x.ok(x.Z.benchmark_to_smtlib_string(x.c, "", "", "unknown", "", [base[0]!], base[1]!)) : undefined;
    const withText = <T extends object>(r: T) => ({ ...r, ...(smt2 !== undefined ? { smt2 } : {}), ms: performance.now() - t0 });
    const status = check(x, first);
    if (status === "unknown")
      return withText({ status: "unknown" as const, reason: x.ok(x.Z.solver_get_reason_unknown(x.c, first)) || "the solver gave up" });
    if (status === "unsat") return withText({ status: "unsat" as const });
    let model = x.model(x.Z.solver_get_model(x.c, first));
    for (const extra of opts.prefer ?? []) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const s = solverFor(x, [...base, ...extra.map((a) => tr.bool(a))], left);
      if (check(x, s) === "sat") {
        model = x.model(x.Z.solver_get_model(x.c, s));
        break;
      }
    }
    return withText({
      status: "sat" as const,
      model: {
        dst4: { v: 4 as Family, n: x.num(model, tr.dst4) },
        dst6: { v: 6 as Family, n: x.num(model, tr.dst6) },
        dport: Number(x.num(model, tr.dport)),
        sport: Number(x.num(model, tr.sport)),
      },
    });
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
  return guarded("solveFamily", (x) => {
    const tr = new Translator(x);
    const asserted = formulas.map((f) => tr.bool(f));
    for (const [name, n] of Object.entries(domains)) asserted.push(tr.below(name, n));
    const s = solverFor(x, asserted, timeoutMs);
    const status = check(x, s);
    if (status === "unknown") return { status, reason: x.ok(x.Z.solver_get_reason_unknown(x.c, s)) || "the solver gave up" };
    if (status === "unsat") return { status };
    const model = x.model(x.Z.solver_get_model(x.c, s));
    const cfg: Record<string, number> = {};
    for (const [name, v] of tr.cfg) cfg[name] = Number(x.num(model, v));
    return {
      status,
      model: {
        dst4: { v: 4 as Family, n: x.num(model, tr.dst4) },
        dst6: { v: 6 as Family, n: x.num(model, tr.dst6) },
        dport: Number(x.num(model, tr.dport)),
        sport: Number(x.num(model, tr.sport)),
        cfg,
      },
    };
  });
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
  return guarded("optimizeFamily", async (x) => {
    const { Z, c } = x;
    const tr = new Translator(x);
    const opt = x.optimize();
    x.params({ timeout: Math.max(1, Math.round(timeoutMs)) }, (p) => Z.optimize_set_params(c, opt, p));
    for (const f of hard) x.ok(Z.optimize_assert(c, opt, tr.bool(f)));
    for (const [name, n] of Object.entries(domains)) x.ok(Z.optimize_assert(c, opt, tr.below(name, n)));
    const none = Z.mk_string_symbol(c, "");
    for (const s of soft) x.ok(Z.optimize_assert_soft(c, opt, tr.bool(s.f), String(s.weight), none));
    maybeInject();
    const r = x.ok(await Z.optimize_check(c, opt, []));
    if (r === 0) return { status: "unknown" as const, reason: "the optimizer gave up (timeout?)" };
    if (r === -1) return { status: "unsat" as const };
    const model = x.model(Z.optimize_get_model(c, opt));
    const cfg: Record<string, number> = {};
    for (const [name, v] of tr.cfg) cfg[name] = Number(x.num(model, v));
    return { status: "sat" as const, cfg };
  });
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
  return guarded("coreOf", (x) => {
    const { Z, c } = x;
    const tr = new Translator(x);
    const s = x.solver("QF_BV");
    x.params({ timeout: Math.max(1, Math.round(timeoutMs)), "core.minimize": true }, (p) => Z.solver_set_params(c, s, p));
    x.ok(Z.solver_assert_and_track(c, s, tr.bool(domain), tr.boolConst("q")));
    conditions.forEach((f, i) => x.ok(Z.solver_assert_and_track(c, s, tr.bool(f), tr.boolConst(`c${i}`))));
    if (check(x, s) !== "unsat") return undefined;
    const core = x.vector(Z.solver_get_unsat_core(c, s));
    const names: string[] = [];
    for (let i = 0; i < Z.ast_vector_size(c, core); i++) names.push(Z.ast_to_string(c, x.ast(Z.ast_vector_get(c, core, i))));
    const out: string[] = [];
    for (const n of names) {
      const label = n === "q" ? "the query's ports and addresses" : labels[Number(n.slice(1))];
      if (label !== undefined && !out.includes(label)) out.push(label);
    }
    return out;
  });
}
