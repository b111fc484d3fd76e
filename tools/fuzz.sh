#!/usr/bin/env bash
# Runs every cargo fuzz target (fuzz/fuzz_targets/) for SECONDS each (default 30) and fails on
# the first crash, printing the reproducer's path. See fuzz/README.md.
#
#   tools/fuzz.sh [SECONDS]
#
# Environment:
#   FUZZ_TARGETS   the targets to run, space-separated (default: request rules)
#   FUZZ_SANITIZER cargo fuzz --sanitizer (default: none; `address` builds far slower)
#   FUZZ_JOBS      libFuzzer -fork=N worker processes per target (default: 1, in-process)
#
# The build goes to fuzz/target (CARGO_TARGET_DIR is unset: the instrumented build must not
# share a target folder with ordinary builds). The corpus each target grows is kept in
# fuzz/corpus/<target> (git-ignored); crashes go to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: tools/fuzz.sh [SECONDS]   (SECONDS per target, a positive integer)" >&2
  exit 2
fi
read -r -a targets <<<"${FUZZ_TARGETS:-request rules}"
sanitizer="${FUZZ_SANITIZER:-none}"
jobs="${FUZZ_JOBS:-1}"

export PATH="$HOME/.cargo/bin:$PATH"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

# cargo fuzz needs a nightly compiler. Without a nightly toolchain (none can be downloaded on
# this project's machines), the installed toolchain is told to accept nightly flags instead.
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  echo "fuzz: no nightly toolchain; using $(rustc --version) with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
fi

# Optimised with debug assertions and overflow checks (cargo fuzz's default); 16 codegen units
# build much faster than cargo fuzz's default of 1, for a somewhat slower fuzzer.
build_flags=(--sanitizer "$sanitizer" --codegen-units 16)

started=$(date +%s)
echo "fuzz: building ${targets[*]} (sanitizer: $sanitizer)"
cargo "${toolchain[@]}" fuzz build "${build_flags[@]}"
echo "fuzz: build took $(($(date +%s) - started)) s"

# Seeds from the repository, gathered (flat) into fuzz/target/seeds/<target>.
seed_dir() {
  local t="$1" dir="fuzz/target/seeds/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  case "$t" in
    request)
      # CDS Hooks requests from the specification's examples, and the rulesets' test cases
      # (FHIR resources in JSON).
      for f in cds-server/tests/fixtures/spec/*.json rulesets/*/tests/*.json; do
        [ -f "$f" ] && cp "$f" "$dir/$(echo "$f" | tr '/' '_')"
      done
      ;;
    rules)
      while IFS= read -r f; do
        cp "$f" "$dir/$(echo "$f" | tr '/' '_')"
      done < <(find rulesets cds-rules/tests/fixtures tests/fixtures -name '*.rules' | sort)
      ;;
  esac
  echo "$dir"
}

passed=0
failed=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  seeds=("$(seed_dir "$t")")
  [ -d "fuzz/seeds/$t" ] && seeds+=("fuzz/seeds/$t")
  # Recorded findings run first (seeds are executed before fuzzing): once fixed, they stay fixed.
  [ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  log="fuzz/target/fuzz-$t.log"
  echo "fuzz: running $t for ${seconds} s (corpus $corpus)"
  set +e
  fork=()
  [ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
  cargo "${toolchain[@]}" fuzz run "${build_flags[@]}" "$t" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    "${dict[@]}" "${fork[@]}" >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(INFO: .*(files found|seed corpus)|#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $t ok"
    continue
  fi
  failed=$((failed + 1))
  # The panic and the top of its backtrace, or the end of the log (libFuzzer's own report).
  if grep -q "panicked at" "$log"; then
    grep -A 12 "panicked at" "$log" | head -n 40
  else
    grep -v '^Output of\|^\s*\[[0-9, ]*\]$' "$log" | tail -n 30
  fi
  artifact=$(grep -oE 'fuzz/artifacts/[^ ]+' "$log" | tail -n 1 || true)
  if [ -n "$artifact" ]; then
    echo "fuzz: $t CRASHED; reproducer: $artifact"
    echo "fuzz:   reproduce: cargo ${toolchain[*]} fuzz run ${build_flags[*]} $t $artifact"
    echo "fuzz:   minimize:  cargo ${toolchain[*]} fuzz tmin ${build_flags[*]} $t $artifact"
  else
    echo "fuzz: $t failed with status $status and no reproducer (see $log)"
  fi
  break
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
