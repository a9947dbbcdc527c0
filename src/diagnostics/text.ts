/** Plain-text layout shared by the renderers (import headers, picture labels). */

/** Splits text at spaces (a run of spaces is kept) so no piece is over `width` characters (a word longer than that stays whole). */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
