// Joins the JSON lines of the two engines by expression name and prints a table with ratios.
// usage: node compare.mjs RUST.jsonl JS.jsonl
import fs from 'node:fs';

const read = (file) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
const [rustFile, jsFile] = process.argv.slice(2);
const rust = new Map(read(rustFile).map((r) => [r.name, r]));
const js = read(jsFile);

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const rows = [['expression', 'rust evals/s', 'fhirpath.js evals/s', 'ratio', 'results agree']];
const ratios = [];
let disagreements = 0;
for (const j of js) {
  const r = rust.get(j.name);
  if (!r) {
    rows.push([j.name, '-', fmt(j.evals_per_sec), '-', 'missing in rust']);
    continue;
  }
  const ratio = r.evals_per_sec / j.evals_per_sec;
  ratios.push(ratio);
  const agree =
    r.non_empty === j.non_empty && r.true === j.true && r.errors === j.errors
      ? 'yes'
      : `NO (non-empty ${r.non_empty}/${j.non_empty}, true ${r.true}/${j.true}, errors ${r.errors}/${j.errors})`;
  if (agree !== 'yes') disagreements += 1;
  rows.push([j.name, fmt(r.evals_per_sec), fmt(j.evals_per_sec), `${ratio.toFixed(1)}x`, agree]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
for (const row of rows) console.log(row.map((c, i) => String(c).padEnd(widths[i])).join('  '));
if (ratios.length > 0) {
  const geo = Math.exp(ratios.reduce((a, b) => a + Math.log(b), 0) / ratios.length);
  console.log(`geometric mean ratio: ${geo.toFixed(1)}x (rust / fhirpath.js), min ${Math.min(...ratios).toFixed(1)}x`);
}
if (disagreements > 0) console.log(`${disagreements} expression(s) where the engines' results differ`);
