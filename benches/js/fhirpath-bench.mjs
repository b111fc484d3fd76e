// Evaluates each expression of ../fhirpath-expressions.tsv over every Observation of an NDJSON
// file with fhirpath.js (compiled once, R4 model), and prints one JSON line per expression:
//   {"engine":"fhirpath.js","name":...,"evals":...,"seconds":...,"evals_per_sec":...,"non_empty":...,"true":...,"errors":...}
// `non_empty` and `true` count the resources whose result was non-empty / exactly [true], and `errors` those whose evaluation failed; the
// comparison script checks that both engines agree on them.
//
// usage: node fhirpath-bench.mjs OBSERVATIONS.ndjson [SECONDS_PER_EXPRESSION]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const [dataFile, secondsArg] = process.argv.slice(2);
if (!dataFile) {
  console.error('usage: node fhirpath-bench.mjs OBSERVATIONS.ndjson [SECONDS_PER_EXPRESSION]');
  process.exit(2);
}
const minSeconds = Number(secondsArg ?? '2');

const resources = fs
  .readFileSync(dataFile, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line))
  .filter((r) => r.resourceType === 'Observation');

const expressions = fs
  .readFileSync(path.join(here, '..', 'fhirpath-expressions.tsv'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'))
  .map((line) => {
    const [name, expression] = line.split('\t');
    return { name, expression };
  });

for (const { name, expression } of expressions) {
  const compiled = fhirpath.compile(expression, r4);
  // One pass to count results (and warm up the JIT).
  let nonEmpty = 0;
  let trues = 0;
  let errors = 0;
  const run = (r) => {
    try {
      return compiled(r);
    } catch {
      return null;
    }
  };
  for (const r of resources) {
    const out = run(r);
    if (out === null) errors += 1;
    else if (out.length > 0) nonEmpty += 1;
    if (out !== null && out.length === 1 && out[0] === true) trues += 1;
  }
  let evals = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minSeconds) {
    for (const r of resources) run(r);
    evals += resources.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(
    JSON.stringify({
      engine: 'fhirpath.js',
      name,
      evals,
      seconds: elapsed,
      evals_per_sec: evals / elapsed,
      non_empty: nonEmpty,
      true: trues,
      errors,
    }),
  );
}
