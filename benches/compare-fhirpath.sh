#!/usr/bin/env bash
# FHIRPath speed: this engine against fhirpath.js (npm `fhirpath`), same expressions
# (benches/fhirpath-expressions.tsv), same Observations, same machine, one run.
#
#   benches/compare-fhirpath.sh [OBSERVATIONS.ndjson] [SECONDS_PER_EXPRESSION]
#
# Prints evaluations per second of both engines, the ratio, and whether both engines found the
# same number of non-empty and true results (a cross-check that they computed the same thing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/data/pysynthea-20/ndjson/Observation.000.ndjson}"
seconds="${2:-2}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

(cd "$root/benches/js" && { [ -d node_modules/fhirpath ] || npm ci --no-audit --no-fund >&2; })

echo "building the Rust side (release)..." >&2
cargo bench --manifest-path "$root/Cargo.toml" --bench fhirpath_compare --no-run -q >&2
echo "running the Rust engine..." >&2
cargo bench --manifest-path "$root/Cargo.toml" --bench fhirpath_compare -q -- "$data" "$seconds" >"$out/rust.jsonl"
echo "running fhirpath.js..." >&2
node "$root/benches/js/fhirpath-bench.mjs" "$data" "$seconds" >"$out/js.jsonl"

node "$root/benches/js/compare.mjs" "$out/rust.jsonl" "$out/js.jsonl"
