/**
 * Applying a repair to the user's file as text: only the edited nodes change,
 * every other byte (comments, spacing, quoting, key order) stays as written.
 * Each edit is located through the YAML parser's source ranges; a block list
 * or mapping gains or loses whole lines, a flow one (`[ a, b ]`, `{ k: v }`) is
 * rewritten in its own padding style, a scalar is replaced in place.
 */
import { isDeepStrictEqual } from "node:util";
import YAML, { isMap, isSeq, type Document, type Node } from "yaml";
import { parseJson, parsePlain } from "../topology/plain.js";
import type { TopologyDoc } from "../topology/schema.js";
import { applyToData, ordered, type Edit } from "./space.js";

type Range = [number, number, number];

/** A document that opens with `{` or `[`: JSON (or YAML written as JSON), whose new nodes are written as JSON, which YAML reads too. */
export const isJsonDoc = (text: string) => /^\s*[{[]/.test(text);

/** A value as one line: JSON in a JSON document, else YAML's flow style, padded (`{ a: 1 }`) or not. */
function flowText(value: unknown, padded: boolean, json: boolean): string {
  if (json) return JSON.stringify(value);
  return YAML.stringify(value, { collectionStyle: "flow", flowCollectionPadding: padded, lineWidth: 0 }).trimEnd();
}

const lineStart = (t: string, i: number) => t.lastIndexOf("\n", i - 1) + 1;
const nextLine = (t: string, i: number) => {
  const n = t.indexOf("\n", i);
  return n < 0 ? t.length : n + 1;
};
/** The indentation of the line holding offset i, up to the first non-space (a list item's '-' included in the line). */
const indentAt = (t: string, i: number) => /^ */.exec(t.slice(lineStart(t, i)))![0];

/** The node at `path` of a parsed document, if it is there. */
function nodeAt(doc: Document, path: readonly (string | number)[]): Node | undefined {
  const n = doc.getIn(path, true);
  return n && typeof n === "object" && "range" in (n as object) ? (n as Node) : undefined;
}

/**
 * A document's value: the fast reader's where it reads the text (the same value as the yaml
 * library's, src/topology/plain.ts; on a 10,000-machine file a tenth of the time), else the library's.
 */
function valueOf(text: string): unknown {
  const fast = parseJson(text) ?? parsePlain(text);
  return fast.ok ? fast.value : YAML.parse(text);
}

const splice = (t: string, from: number, to: number, s: string) => t.slice(0, from) + s + t.slice(to);

/** Rewrites a flow collection whole, in the padding style it was written in (one with comments inside is not rewritten). */
function rewriteFlow(text: string, node: Node, value: unknown): string {
  const r = node.range as Range;
  if (text.slice(r[0], r[1]).includes("#")) throw new Error("a flow collection with comments");
  const padded = /^[{[] /.test(text.slice(r[0], r[1]));
  return splice(text, r[0], r[1], flowText(value, padded, isJsonDoc(text)));
}

/** The source of the document's flow style in general, for new nodes. */
const paddedStyle = (text: string) => /[{[] [^\s}\]]/.test(text);

/** A new node's text, in the style of the document it goes into. */
const newNodeText = (value: unknown, text: string): string => flowText(value, paddedStyle(text), isJsonDoc(text));

function applyOne(text: string, e: Edit): string {
  const parentPath = e.path.slice(0, -1);
  const last = e.path[e.path.length - 1]!;
  // one parse of the text for this edit (a large file takes seconds to parse with its ranges)
  const doc = YAML.parseDocument(text);
  const parent = nodeAt(doc, parentPath);
  const target = nodeAt(doc, e.path);
  let whole: unknown;
  const data = () => (whole ??= valueOf(text));
  const valueIn = (p: readonly (string | number)[]) => p.reduce<unknown>((n, k) => (n as Record<string | number, unknown>)?.[k], data());
  if (e.op === "set" && target) {
    const r = target.range as Range;
    // a block node's range runs over the line break and the comment lines after it: those stay
    const end = r[0] + text.slice(r[0], r[1]).replace(/(\s*\n[ \t]*#[^\n]*)*\s*$/, "").length;
    return splice(text, r[0], end, newNodeText(e.value, text));
  }
  if ((e.op === "append" || e.op === "prepend") && target) {
    if (!isSeq(target)) throw new Error("not a list");
    if (target.flow || !target.items.length) {
      const list = (valueIn(e.path) as unknown[]) ?? [];
      return rewriteFlow(text, target, e.op === "prepend" ? [e.value, ...list] : [...list, e.value]);
    }
    const first = target.items[0] as Node;
    const lastItem = target.items[target.items.length - 1] as Node;
    const indent = indentAt(text, (first.range as Range)[0]);
    const line = `${indent}- ${newNodeText(e.value, text)}\n`;
    return e.op === "prepend"
      ? splice(text, lineStart(text, (first.range as Range)[0]), lineStart(text, (first.range as Range)[0]), line)
      : splice(text, nextLine(text, (lastItem.range as Range)[1] - 1), nextLine(text, (lastItem.range as Range)[1] - 1), line);
  }
  if (e.op === "delete") {
    if (!parent || !target) return text; // already absent
    if ((isMap(parent) || isSeq(parent)) && parent.flow) {
      const v = structuredClone(valueIn(parentPath)) as Record<string | number, unknown>;
      if (Array.isArray(v)) v.splice(last as number, 1);
      else delete v[last];
      return rewriteFlow(text, parent, v);
    }
    // the only item of a block list under a key: the list becomes [] (`rules: []`), not null
    if (isSeq(parent) && parent.items.length === 1) {
      const grand = nodeAt(doc, parentPath.slice(0, -1));
      const pair = isMap(grand)
        ? grand.items.find(
            (p) => (p.value as Node | null) === parent || (p.value as Node | null)?.range?.[0] === (parent.range as Range)[0],
          )
        : undefined;
      const key = pair?.key as Node | undefined;
      if (!key?.range) throw new Error("a list that is not a mapping's value");
      return splice(text, key.range[1], nextLine(text, (target.range as Range)[1] - 1), ": []\n");
    }
    // a block item or pair: its lines go (the key's line for a pair)
    let from = (target.range as Range)[0];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.value as Node | null) === target);
      const key = pair?.key as Node | undefined;
      if (key?.range) from = key.range[0];
    }
    return splice(text, lineStart(text, from), nextLine(text, (target.range as Range)[1] - 1), "");
  }
  // set, append or prepend where the key is missing: add it to the parent mapping (or create the parent)
  const value = e.op === "set" ? e.value : [e.value];
  if (!parent) return applyOne(text, { op: "set", path: parentPath, value: { [last]: value } });
  if (!isMap(parent)) throw new Error("not a mapping");
  if (parent.flow || !parent.items.length) return rewriteFlow(text, parent, { ...(valueIn(parentPath) as object), [last]: value });
  const firstKey = parent.items[0]!.key as Node;
  const indent = indentAt(text, (firstKey.range as Range)[0]);
  const at = nextLine(text, (parent.range as Range)[1] - 1);
  // a mapping that is a list item ("- mode: nat") indents its keys past the dash
  const col = (firstKey.range as Range)[0] - lineStart(text, (firstKey.range as Range)[0]);
  const pad = indent.length === col ? indent : " ".repeat(col);
  return splice(text, at, at, `${pad}${String(last)}: ${newNodeText(value, text)}\n`);
}

/**
 * The user's file with the edits applied, byte for byte elsewhere; undefined if
 * the result would not mean exactly the edited data (then the caller renders
 * the whole document instead).
 */
export function spliceEdits(source: string, edits: readonly Edit[]): string | undefined {
  let text = source;
  try {
    for (const e of ordered(edits)) text = applyOne(text, e);
  } catch {
    return undefined;
  }
  const want = applyToData(valueOf(source) as TopologyDoc, edits);
  let got: unknown;
  try {
    got = valueOf(text);
  } catch {
    return undefined;
  }
  return isDeepStrictEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(want))) ? text : undefined;
}
