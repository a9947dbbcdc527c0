/**
 * DOT to SVG through Graphviz compiled to WebAssembly (@viz-js/viz): no system binary, the same
 * layout everywhere. The instance is made once per process; rendering is synchronous after that.
 */
import { instance, type Viz } from "@viz-js/viz";

let viz: Promise<Viz> | undefined;

export async function dotToSvg(dot: string): Promise<string> {
  viz ??= instance();
  const v = await viz;
  const r = v.render(dot, { format: "svg", engine: "dot" });
  if (r.status !== "success") throw new Error(`internal: Graphviz failed: ${r.errors.map((e) => e.message).join("; ")}`);
  // the XML prologue and DOCTYPE are for a file of its own; inline (HTML) they are dropped by the caller
  return r.output;
}

/** The <svg> element alone, for inlining in HTML. */
export const inlineSvg = (svg: string): string => svg.slice(svg.indexOf("<svg"));
