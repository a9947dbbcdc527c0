/**
 * Writing a merged topology as the YAML a person would write: small mappings
 * and lists in flow style (`{ to: default, via: 192.168.1.1 }`), the notes and
 * everything left out as comments at the top, so the file explains itself.
 */
import { wrap } from "../diagnostics/text.js";
import { isAbsolute, relative } from "node:path";
import YAML, { isCollection, isMap, isSeq } from "yaml";
import { formatSpan, type Diagnostic } from "../diagnostics/diagnostic.js";
import type { TopologyDoc } from "../topology/schema.js";

/** Collections whose flow form fits in this many characters are written on one line. */
const FLOW_WIDTH = 100;

export interface RenderInput {
  readonly doc: TopologyDoc;
  /** e.g. "reach import vagrant Vagrantfile" */
  readonly command: string;
  readonly notes: readonly string[];
  /** Warnings: what was left out or assumed without support in the inputs. */
  readonly warnings: readonly Diagnostic[];
}

export function renderTopology(input: RenderInput): string {
  const d = input.doc;
  // the order people write a topology in, whatever order the merge added keys
  const ordered = {
    ...(d.description ? { description: d.description } : {}),
    ...(d.segments ? { segments: d.segments } : {}),
    ...(d.natnetworks ? { natnetworks: d.natnetworks } : {}),
    machines: d.machines,
    ...(d.expect ? { expect: d.expect } : {}),
    // what the inputs do not say and answers depend on
    ...(d.assumed?.length ? { assumed: d.assumed } : {}),
    // what was not read travels with the topology, so every answer over it can say so
    ...(input.warnings.length || d.incomplete?.length
      ? {
          incomplete: [
            ...(d.incomplete ?? []),
            ...input.warnings.map((w) => ({ at: formatSpan({ ...w.span, file: shortPath(w.span.file) }), what: w.message })),
          ],
        }
      : {}),
  };
  const doc = new YAML.Document(ordered);
  YAML.visit(doc, {
    Map(_, node) {
      if (
        isMap(node) &&
        node.items.length &&
        flowLength(node) <= FLOW_WIDTH &&
        node.items.every((p) => !isCollection(p.value) || flowLength(p.value) <= 60)
      )
        node.flow = true;
    },
    Seq(_, node) {
      if (isSeq(node) && flowLength(node) <= FLOW_WIDTH && node.items.every((i) => !isMap(i) || flowLength(i) <= FLOW_WIDTH))
        node.flow = true;
    },
  });
  const header = [`Imported by \`${input.command}\`.`, `Check it, then ask: reach ask FILE "A -> B:PORT/tcp".`];
  const lines = header.flatMap((h) => wrap(h, 96));
  if (input.notes.length) {
    lines.push("", "Assumed (the inputs do not say; edit if wrong):");
    for (const n of input.notes) wrap(n, 92).forEach((l, i) => lines.push(`${i ? "    " : "  - "}${l}`));
  }
  if (input.warnings.length) {
    lines.push("", "NOT imported, or assumed without support in the inputs (reach did not understand these exactly):");
    for (const d of input.warnings)
      wrap(`${formatSpan({ ...d.span, file: shortPath(d.span.file) })}: ${d.code} ${d.message}`, 92).forEach((l, i) =>
        lines.push(`${i ? "    " : "  - "}${l}`),
      );
  }
  doc.commentBefore = lines.map((l) => (l ? ` ${l}` : "")).join("\n");
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

/** An input's path as the file should show it: relative to where reach runs, so the output is the same on every checkout. */
function shortPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const r = relative(process.cwd(), file);
  return r && !r.startsWith("..") ? r : file;
}

function flowLength(node: unknown): number {
  return JSON.stringify(YAML.isNode(node) ? node.toJSON() : node)?.length ?? 0;
}
