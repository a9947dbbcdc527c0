/**
 * What a report holds, computed: each file's expectations verified (or the results given, as
 * `reach verify --format html` has them), a path picture for each finding (at most 3 per
 * expectation) and for the witness of each query that holds, the topology picture, and the
 * exposure of every user machine.
 */
import { parseQuery } from "../ir/query.js";
import type { Network } from "../ir/types.js";
import type { Loaded } from "../topology/load.js";
import type { EngineOptions } from "../query/engine.js";
import { explainDecided } from "../query/classes.js";
import { verifyTopology, type VerifyResult } from "../verify/verify.js";
import { diffFlows, exposure, servicesIn, userMachines } from "../verify/flows.js";
import { drawAnswer } from "../draw/draw.js";
import { hostsOf, topologyDot, topologyPicture } from "../draw/topology.js";
import { dotToSvg } from "../draw/svg.js";
import type { ReportExpectation, ReportFile } from "./html.js";

/** Findings drawn per expectation (an `isolated` over many machines may have dozens). */
export const PICTURES_PER_EXPECTATION = 3;

async function pictures(
  r: VerifyResult,
  e: { readonly query?: string; readonly verdict?: "reachable" | "unreachable" } | undefined,
  net: Network,
  opts: EngineOptions,
): Promise<ReportExpectation> {
  const query = e?.query;
  const out: ReportExpectation["pictures"][number][] = [];
  for (const f of r.findings.slice(0, PICTURES_PER_EXPECTATION))
    out.push({ title: f.title, answer: f.answer, svg: await drawAnswer(f.answer, "svg") });
  if (!r.findings.length && r.status === "holds" && query !== undefined) {
    const q = parseQuery(query);
    if (q.ok) {
      // verify decided it (it holds): explained without deciding it again
      const answer = await explainDecided(net, q.query, e?.verdict ?? "reachable", opts);
      out.push({ title: `${query}: ${answer.verdict}`, answer, svg: await drawAnswer(answer, "svg") });
    }
  }
  return { result: r, pictures: out };
}

/** One file's part of the report. */
export async function reportFile(
  file: string,
  loaded: Loaded,
  net: Network,
  opts: EngineOptions,
  given?: readonly VerifyResult[],
  old?: { readonly file: string; readonly net: Network },
): Promise<ReportFile> {
  const topo = loaded.spec ?? loaded.topology;
  const results = given ?? (await verifyTopology(net, topo, opts));
  const expect = topo.doc.expect ?? [];
  const expectations: ReportExpectation[] = [];
  for (const [k, r] of results.entries()) expectations.push(await pictures(r, expect[k], net, opts));
  const hosts = hostsOf(net, loaded.topology);
  const exposures: ReportFile["exposure"][number][] = [];
  for (const from of userMachines(net)) exposures.push({ from, flows: await exposure(net, from, opts) });
  const matrix = { from: userMachines(net), services: servicesIn(net) };
  return {
    file,
    net,
    hosts,
    matrix,
    ...(old ? { diff: { old: old.file, changes: await diffFlows(old.net, net, opts), matrix: unionMatrix(old.net, net) } } : {}),
    topologySvg: await dotToSvg(topologyDot(topologyPicture(net, hosts))),
    expectations,
    exposure: exposures,
  };
}

/** The rows and columns of two versions together (a machine or service of either). */
function unionMatrix(a: Network, b: Network) {
  const from = [...new Set([...userMachines(a), ...userMachines(b)])];
  const key = (s: { machine: string; port: number; proto: string }) => `${s.machine}:${s.port}/${s.proto}`;
  const services = [...new Map([...servicesIn(a), ...servicesIn(b)].map((s) => [key(s), s])).values()];
  return { from, services };
}
