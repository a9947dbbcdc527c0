/** The picture formats `reach draw` writes; light, so the CLI can list them without loading the renderers. */
export type DrawFormat = "svg" | "dot" | "mermaid" | "html";
export const DRAW_FORMATS: readonly DrawFormat[] = ["svg", "dot", "mermaid", "html"];
