/**
 * `reach report` (and `reach verify --format html`): one self-contained HTML file. No network:
 * the CSS, the script and every picture (SVG) are inline. Per topology file: the topology
 * picture, the machines, every expectation with its verdict, cause codes and path picture,
 * and the exposure table of each vantage machine. Sections collapse; a search box filters
 * expectations, machines and exposure rows. Pictures inside closed sections are kept in
 * <template> elements and put into the page only when opened, so a report of hundreds of
 * machines opens at once.
 */
import { formatSpan } from "../diagnostics/diagnostic.js";
import type { Network } from "../ir/types.js";
import { formatIP } from "../net/addr.js";
import type { Answer } from "../query/dials.js";
import type { VerifyResult } from "../verify/verify.js";
import type { Change, FlowAnswer } from "../verify/flows.js";
import { dialOf } from "../verify/flows.js";
import { causeCodes } from "../verify/report.js";
import type { FileLint } from "../verify/lint.js";
import { inlineSvg } from "../draw/svg.js";
import { html } from "../draw/style.js";
import { diffMatrixHtml, heatmapHtml, MATRIX_CSS, type MatrixInput } from "./matrix.js";

export interface ReportFile {
  readonly file: string;
  readonly net: Network;
  /** machine -> the physical machine it runs on */
  readonly hosts: ReadonlyMap<string, string>;
  readonly topologySvg: string;
  readonly expectations: readonly ReportExpectation[];
  readonly exposure: readonly { readonly from: string; readonly flows: readonly FlowAnswer[] }[];
  /** The heatmap's rows (user machines) and columns (their services). */
  readonly matrix: MatrixInput;
  /** With --diff OLD: the flows that changed from OLD to this file, on the rows and columns of both. */
  readonly diff?: { readonly old: string; readonly changes: readonly Change[]; readonly matrix: MatrixInput };
  /** With --findings: the named findings (docs/doctor.md), decided by the CLI's caller. */
  readonly lint?: FileLint;
}

export interface ReportExpectation {
  readonly result: VerifyResult;
  /** the path pictures: of the findings, or of the witness when it holds */
  readonly pictures: readonly { readonly title: string; readonly answer: Answer; readonly svg: string }[];
}

const GLYPHS = { holds: "✔", violated: "✖", unknown: "?" } as const;

const CSS = `
:root{--bg:#fff;--fg:#111;--muted:#555;--line:#ccc;--card:#f6f6f6;--bad:#D55E00;--good:#009E73;--warn:#E69F00;--accent:#0072B2}
@media (prefers-color-scheme: dark){:root{--bg:#16181c;--fg:#eee;--muted:#aaa;--line:#444;--card:#23262b;--bad:#F08C4A;--good:#3CC79A;--warn:#F0B840;--accent:#56B4E9}}
*{box-sizing:border-box}
body{margin:0;padding:1rem 1.5rem;background:var(--bg);color:var(--fg);font:14px/1.45 Helvetica,Arial,sans-serif}
h1{font-size:1.4rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:0;display:inline}
h3{font-size:1rem;margin:.8rem 0 .3rem}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
header{position:sticky;top:0;background:var(--bg);padding:.4rem 0;border-bottom:1px solid var(--line);z-index:2}
#search{width:min(40rem,100%);padding:.4rem .6rem;font-size:14px;border:1px solid var(--line);border-radius:4px;background:var(--bg);color:var(--fg)}
.summary span{margin-right:1rem}
details{border:1px solid var(--line);border-radius:6px;margin:.5rem 0;padding:.3rem .6rem;background:var(--bg)}
details>summary{cursor:pointer;list-style-position:outside}
details.file>summary{padding:.2rem 0}
.picture{background:#fff;border-radius:4px;padding:.3rem;overflow:auto;margin:.4rem 0}
.picture svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:.3rem 0;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.2rem .5rem;text-align:left;vertical-align:top}
th{color:var(--muted);font-weight:600}
.status{font-weight:700;white-space:nowrap}
.holds .status{color:var(--good)}
.violated .status{color:var(--bad)}
.unknown .status{color:var(--warn)}
.exp.violated{border-left:4px dashed var(--bad)}
.exp.unknown{border-left:4px dotted var(--warn)}
.exp.holds{border-left:4px solid var(--good)}
.code{display:inline-block;border:1px solid var(--bad);border-radius:3px;padding:0 .3rem;margin-left:.3rem;font-size:12px}
.muted{color:var(--muted)}
.hidden{display:none}
`;

/** The page's script: opening a section puts its pictures in; the search box filters (debounced, on precomputed text). */
const SCRIPT = `
(function(){
  function fill(d){
    var ts=d.querySelectorAll(':scope > .lazy > template');
    for(var i=0;i<ts.length;i++){var t=ts[i];t.parentNode.replaceChild(t.content.cloneNode(true),t);}
  }
  document.addEventListener('toggle',function(e){if(e.target.open)fill(e.target);},true);
  var items=Array.prototype.slice.call(document.querySelectorAll('[data-search]'));
  var box=document.getElementById('search'),timer=0,count=document.getElementById('shown');
  function apply(){
    var q=box.value.trim().toLowerCase(),n=0;
    for(var i=0;i<items.length;i++){var hit=!q||items[i].getAttribute('data-search').indexOf(q)>=0;items[i].classList.toggle('hidden',!hit);if(hit)n++;}
    count.textContent=q?n+' of '+items.length+' match':'';
  }
  box.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(apply,120);});
})();
`;

const search = (...parts: string[]) => ` data-search="${html(parts.join(" ").toLowerCase())}"`;

/** A picture kept out of the page until its section is opened. */
const lazy = (svg: string) => `<div class="lazy picture"><template>${inlineSvg(svg)}</template></div>`;

function expectationHtml(e: ReportExpectation): string {
  const r = e.result;
  const codes = causeCodes(r);
  const where = formatSpan(r.span);
  const pictures = e.pictures.map((p) => `<h3>${html(p.title)}</h3><p class="muted">${html(p.answer.reason)}</p>${lazy(p.svg)}`);
  return [
    `<details class="exp ${r.status}" data-status="${r.status}"${search(r.status, r.text, r.message, where, ...codes)}>`,
    `<summary><span class="status">${GLYPHS[r.status]} ${r.status}</span> ${html(r.text)} <span class="muted mono">${html(where)}</span>${codes.map((c) => `<span class="code">${html(c)}</span>`).join("")}</summary>`,
    `<p>${html(r.message)}</p>`,
    r.because ? `<p class="muted">because: ${html(r.because)}</p>` : "",
    ...pictures,
    "</details>",
  ].join("\n");
}

function machinesHtml(f: ReportFile): string {
  const rows = f.net.machines.map((m) => {
    const services = m.sockets.filter((s) => s.role.kind === "service").map((s) => `${s.owner} ${s.proto}/${s.port}`);
    const addrs = m.interfaces.filter((i) => i.name !== "lo").flatMap((i) => i.addrs.map((a) => formatIP(a.ip)));
    const on = f.hosts.get(m.name) ?? "";
    return `<tr class="machine"${search(m.name, m.kind, on, ...addrs, ...services)}><td>${html(m.name)}</td><td>${m.kind}</td><td>${html(on)}</td><td class="mono">${html(addrs.join(" "))}</td><td>${html(services.join(", "))}</td></tr>`;
  });
  return `<table><thead><tr><th>machine</th><th>kind</th><th>runs on</th><th>addresses</th><th>services</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function exposureHtml(f: ReportFile): string {
  return f.exposure
    .map(({ from, flows }) => {
      const rows = flows.map(
        (x) =>
          `<tr${search(from, x.query, x.answer.verdict)}><td class="mono">${html(`${x.service.machine}:${x.service.port}/${x.service.proto}`)}</td><td>${x.answer.verdict}</td><td class="mono">${html(dialOf(x.answer))}</td></tr>`,
      );
      return `<details><summary>from <b>${html(from)}</b>: ${flows.length} service${flows.length === 1 ? "" : "s"} exposed</summary>${rows.length ? `<table><thead><tr><th>service</th><th>verdict</th><th>dial</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : '<p class="muted">nothing</p>'}</details>`;
    })
    .join("\n");
}

/** A table kept out of the page until its section is opened (a 200-machine matrix is 40,000 cells). */
const lazyTable = (table: string) => `<div class="lazy"><template>${table}</template></div>`;

function diffHtml(f: ReportFile): string {
  const d = f.diff;
  if (!d) return "";
  const rows = d.changes.map(
    (c) =>
      `<tr${search(c.query, c.what)}><td class="mono">${html(c.query)}</td><td>${html(c.what)}</td><td class="muted">${html(c.detail ?? "")}</td></tr>`,
  );
  return [
    `<details class="diff" open><summary><b>changes since ${html(d.old)}</b>: ${d.changes.length} flow${d.changes.length === 1 ? "" : "s"} changed</summary>`,
    diffMatrixHtml(d.matrix, d.changes),
    rows.length ? `<table><thead><tr><th>flow</th><th>change</th><th>detail</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : "",
    "</details>",
  ].join("\n");
}

/** The findings section (only with --findings): each finding with its evidence, consequence and fix. */
function lintHtml(f: ReportFile): string {
  const l = f.lint;
  if (!l) return "";
  const items = l.findings.map(
    (x) =>
      `<details class="exp ${l.level === "error" ? "violated" : "unknown"}"${search(x.code, x.machine, x.title, x.query)}><summary><span class="code">${html(x.code)}</span> ${html(x.machine)}: ${html(x.title)}</summary>${x.evidence.map((e) => `<p class="mono">${html(`${e.at}: ${e.text}`)}</p>`).join("")}<p>${html(x.consequence)}</p><p>fix: <span class="mono">${html(x.fix)}</span></p><p class="muted mono">${html(`${x.query} -> ${x.verdict}${x.dial ? ` (dial ${x.dial})` : ""}`)}</p></details>`,
  );
  const skipped = l.skipped.map((s) => `<p class="muted">${html(s)}</p>`);
  return [`<h3>findings: ${l.findings.length}</h3>`, ...skipped, ...items].join("\n");
}

const count = (f: ReportFile, s: VerifyResult["status"]) => f.expectations.filter((e) => e.result.status === s).length;

function fileHtml(f: ReportFile): string {
  const [h, v, u] = [count(f, "holds"), count(f, "violated"), count(f, "unknown")];
  return [
    `<details class="file" open><summary><h2>${html(f.file)}</h2> <span class="muted">${h} hold, ${v} violated, ${u} unknown; ${f.net.machines.length} machines</span></summary>`,
    `<details class="topology"><summary>topology picture</summary>${lazy(f.topologySvg)}</details>`,
    `<h3>machines</h3>`,
    machinesHtml(f),
    diffHtml(f),
    `<h3>expectations</h3>`,
    ...f.expectations.map(expectationHtml),
    lintHtml(f),
    `<h3>exposure per vantage machine</h3>`,
    exposureHtml(f),
    `<details class="heatmap"><summary>matrix: ${f.matrix.from.length} machines × ${f.matrix.services.length} services</summary>${lazyTable(heatmapHtml(f.matrix, f.exposure))}</details>`,
    "</details>",
  ].join("\n");
}

/** The whole page. Deterministic: the same results give the same bytes. */
export function reportHtml(files: readonly ReportFile[], title = "reach report"): string {
  const all = (s: VerifyResult["status"]) => files.reduce((n, f) => n + count(f, s), 0);
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
    `<title>${html(title)}</title>`,
    `<style>${CSS}${MATRIX_CSS}</style>`,
    "</head><body>",
    "<header>",
    `<h1>${html(title)}</h1>`,
    `<p class="summary"><span class="holds"><b class="status">${GLYPHS.holds} ${all("holds")} hold</b></span><span class="violated"><b class="status">${GLYPHS.violated} ${all("violated")} violated</b></span><span class="unknown"><b class="status">${GLYPHS.unknown} ${all("unknown")} unknown</b></span><span>${files.length} file${files.length === 1 ? "" : "s"}</span></p>`,
    '<input id="search" type="search" placeholder="search expectations, machines, causes, services" aria-label="search"> <span id="shown" class="muted"></span>',
    "</header>",
    "<main>",
    ...files.map(fileHtml),
    "</main>",
    `<script>${SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
