#!/usr/bin/env bash
# Replay benchmark (see benches/replay.md): `cds replay` over a cohort and N-times copies of it,
# next to the parse-only baseline (benches/replay_parse.rs: the same NDJSON parsed with
# serde_json on all cores, nothing else). Prints, per scale, patients/s and MB/s of both, their
# ratio and replay's peak RSS; then the ratio of peak RSS at the largest to the smallest scale.
#
#     benches/replay.sh
#
# Environment (defaults in brackets):
#   REPLAY_SOURCE [../shared/data/pysynthea-20/ndjson]  the x1 cohort (NDJSON folder), from the root
#   REPLAY_SCALES ["1 10"]     cohort sizes; xN (N > 1) is written to target/replay-bench/xN once
#   REPLAY_AT [2024-01-01]     the --at of the one-time replays
#   REPLAY_TIMELINE ["--from 2015-01-01 --to 2025-01-01 --every 1w"]  one timeline replay at the
#                              smallest scale; empty skips it
#   REPLAY_RUNS [1]            replays per row (the best wall time is kept, the largest peak RSS)
#   REPLAY_PARSE_RUNS [3]      parse-only runs per scale (the best is kept)
#   REPLAY_THREADS [all cores] passed as --threads to cds replay and RAYON_NUM_THREADS to parse-only
#   REPLAY_RULESETS [rulesets]
#   REPLAY_CHECK [unset]       set to 1 to check each generated cohort (benches/replay/check_cohort.py)
#   REPLAY_NO_BUILD [unset]    set to 1 to use the release binaries already built
#   REPLAY_ALL_RESOURCES [1]   also replay each scale with --all-resources (set empty to skip)
#   CARGO_TARGET_DIR [target]
# Needs python3 and GNU time (/usr/bin/time; installed with apt-get when absent). Writes only
# under target/replay-bench/ (the copies and replay outputs; kept for the next run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SOURCE=${REPLAY_SOURCE:-../shared/data/pysynthea-20/ndjson}
SCALES=${REPLAY_SCALES:-1 10}
AT=${REPLAY_AT:-2024-01-01}
TIMELINE=${REPLAY_TIMELINE---from 2015-01-01 --to 2025-01-01 --every 1w}
RUNS=${REPLAY_RUNS:-1}
RULESETS=${REPLAY_RULESETS:-rulesets}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CDS_BIN=$TARGET/release/cds
BENCH=$ROOT/target/replay-bench

say() { printf '%s\n' "$*" >&2; }
die() { say "replay.sh: $*"; exit 1; }

[ -d "$SOURCE" ] || die "no cohort at $SOURCE (expected ../shared beside the project root; set REPLAY_SOURCE)"
[ -d "$RULESETS" ] || die "no rulesets at $RULESETS"
command -v python3 >/dev/null || die "python3 is needed to copy the cohort and print the table"
for s in $SCALES; do
  [[ $s =~ ^[1-9][0-9]*$ ]] || die "REPLAY_SCALES: '$s' is not a positive whole number"
done
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -v true 2>/dev/null; then
  say "GNU time not found at /usr/bin/time: installing package time with apt-get"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  if ! { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq time >/dev/null; }; then
    die "could not install GNU time (apt-get install time)"
  fi
fi

PARSE_BIN_FILE=$BENCH/replay_parse.path
mkdir -p "$BENCH"
if [ -z "${REPLAY_NO_BUILD:-}" ]; then
  say "building the release binaries (cds, bench replay_parse)"
  cargo build --release --quiet --bin cds
  # The bench profile is the release one (with the same debug = 1); cargo names the executable.
  cargo bench --quiet --no-run --bench replay_parse --message-format=json \
    | python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")
       and m["target"]["name"] == "replay_parse"]
if not exe:
    sys.exit("cargo named no replay_parse executable")
print(exe[-1])' >"$PARSE_BIN_FILE"
fi
[ -x "$CDS_BIN" ] || die "$CDS_BIN missing: build with cargo build --release --bin cds"
[ -s "$PARSE_BIN_FILE" ] || die "replay_parse not built yet: run once without REPLAY_NO_BUILD"
PARSE_BIN=$(cat "$PARSE_BIN_FILE")
[ -x "$PARSE_BIN" ] || die "$PARSE_BIN missing: run once without REPLAY_NO_BUILD"
"$CDS_BIN" replay --help >/dev/null 2>&1 \
  || die "this cds has no 'replay' command yet ($CDS_BIN replay --help fails): build a version with cds replay"

THREAD_ARGS=()
if [ -n "${REPLAY_THREADS:-}" ]; then
  THREAD_ARGS=(--threads "$REPLAY_THREADS")
  export RAYON_NUM_THREADS=$REPLAY_THREADS
fi

ROWS=$BENCH/rows
: >"$ROWS"

# cohort N: prints the folder of the xN cohort (the source itself for N = 1), making it if needed.
cohort() {
  local n=$1 dir
  if [ "$n" = 1 ]; then
    echo "$SOURCE"
    return
  fi
  dir=$BENCH/x$n
  python3 benches/replay/replicate.py "$SOURCE" "$dir" "$n"
  if [ -n "${REPLAY_CHECK:-}" ]; then
    python3 benches/replay/check_cohort.py "$SOURCE" "$dir" "$n" >&2 || die "the x$n cohort is not consistent"
  fi
  echo "$dir"
}

# replay LABEL DIR ARGS...: runs cds replay RUNS times under GNU time; appends to rows
# "replay LABEL wall=S rss_kb=K cpu=P stdout=FILE" (best wall time and its CPU %, largest peak RSS).
replay() {
  local label=$1 dir=$2 out=$BENCH/out-$1 best='' rss=0 cpu='' wall kb pct i
  shift 2
  for i in $(seq 1 "$RUNS"); do
    say "  cds replay $label, run $i/$RUNS"
    if ! /usr/bin/time -v -o "$BENCH/time-$label.txt" "$CDS_BIN" replay "$dir" --rulesets "$RULESETS" \
      --out "$out" --quiet "${THREAD_ARGS[@]}" "$@" >"$BENCH/replay-$label.out" 2>"$BENCH/replay-$label.err"; then
      tail -n 20 "$BENCH/replay-$label.err" >&2
      die "cds replay failed for $label (output above; full in $BENCH/replay-$label.err)"
    fi
    read -r wall kb pct < <(python3 - "$BENCH/time-$label.txt" <<'PY'
import sys
wall = kb = cpu = None
for line in open(sys.argv[1]):
    key, _, value = line.strip().rpartition(": ")
    if key.startswith("Elapsed (wall clock) time"):
        secs = 0.0
        for part in value.split(":"):
            secs = secs * 60 + float(part)
        wall = secs
    elif key == "Maximum resident set size (kbytes)":
        kb = int(value)
    elif key == "Percent of CPU this job got":
        cpu = value.rstrip("%")
if wall is None or kb is None:
    sys.exit("no wall time or peak RSS in GNU time's output")
print(wall, kb, cpu or "?")
PY
)
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $wall < $best)"; then
      best=$wall
      cpu=$pct
    fi
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  echo "replay $label wall=$best rss_kb=$rss cpu=$cpu stdout=$BENCH/replay-$label.out" >>"$ROWS"
}

say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
SMALLEST=''
for n in $SCALES; do
  dir=$(cohort "$n")
  say "x$n: $dir"
  say "  parse-only (best of ${REPLAY_PARSE_RUNS:-3})"
  line=$("$PARSE_BIN" "$dir") || die "parse-only failed on $dir"
  echo "parse x$n ${line#parse-only }" >>"$ROWS"
  replay "x$n" "$dir" --at "$AT"
  if [ -n "${REPLAY_ALL_RESOURCES-1}" ]; then
    # The same with every resource read, also of types no rule reads.
    replay "x$n-all" "$dir" --at "$AT" --all-resources
  fi
  if [ -z "$SMALLEST" ] || [ "$n" -lt "$SMALLEST" ]; then SMALLEST=$n; fi
done
if [ -n "$TIMELINE" ]; then
  # shellcheck disable=SC2086 # TIMELINE is a list of arguments
  replay "x$SMALLEST-timeline" "$(cohort "$SMALLEST")" $TIMELINE
fi
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "cds replay vs parse-only (serde_json, all cores: $(nproc)); source $SOURCE; --at $AT${TIMELINE:+; timeline: $TIMELINE}"
python3 - "$ROWS" "$SMALLEST" "$AT" "$TIMELINE" <<'PY'
import re, sys
rows_file, smallest, at, timeline = sys.argv[1:5]
parse, replays = {}, []
for line in open(rows_file):
    kind, label, *fields = line.split()
    f = dict(x.split("=", 1) for x in fields)
    if kind == "parse":
        parse[label] = {k: float(v) for k, v in f.items()}
    else:
        replays.append((label, f))

def replay_counts(path):
    """Patients, evaluations and cards from cds replay's summary line, if it says them."""
    text = open(path).read()
    def num(pattern):
        m = re.search(pattern, text)
        return int(m.group(1)) if m else None
    return num(r"(\d+) patients"), num(r"(\d+) evaluations"), num(r"(\d+) cards")

head = (f"{'scale':<14} {'patients':>8} {'MB':>8} {'parse MB/s':>10} {'parse pat/s':>11} "
        f"{'replay MB/s':>11} {'replay pat/s':>12} {'replay/parse':>12} {'replay s':>8} "
        f"{'CPU %':>5} {'peak RSS MB':>11} {'evaluations':>11} {'cards':>8}")
print(head)
rss = {}
worst = None
notes = []
for label, f in replays:
    scale = label.split("-")[0]
    p = parse[scale]
    wall, kb = float(f["wall"]), int(f["rss_kb"])
    mb = p["bytes"] / 1e6
    patients = int(p["patients"])
    got, evals, cards = replay_counts(f["stdout"])
    if got is not None and got != patients:
        notes.append(f"{label}: cds replay reports {got} patients evaluated of the {patients} in "
                     f"Patient*.ndjson; pat/s counts all {patients} for both")
    ratio = (mb / wall) / p["mb_per_s"]
    suffix = label[len(scale) + 1:]
    name = {"": f"{scale} --at", "all": f"{scale} --at all"}.get(suffix, f"{scale} timeline")
    if label == scale:
        rss[int(scale[1:])] = kb
        worst = ratio if worst is None else min(worst, ratio)
    fmt = lambda v: "?" if v is None else str(v)
    print(f"{name:<14} {patients:>8} {mb:>8.1f} {p['mb_per_s']:>10.1f} {p['patients_per_s']:>11.1f} "
          f"{mb / wall:>11.1f} {patients / wall:>12.1f} {ratio:>12.2f} {wall:>8.2f} "
          f"{f['cpu']:>5} {kb / 1024:>11.1f} {fmt(evals):>11} {fmt(cards):>8}")
if worst is not None:
    print(f"replay/parse-only, worst one-time replay: {worst:.2f} "
          f"(aim >= 0.50: {'met' if worst >= 0.5 else 'MISSED'})")
if len(rss) > 1:
    lo, hi = min(rss), max(rss)
    growth = rss[hi] / rss[lo]
    print(f"peak RSS x{hi} / x{lo}: {growth:.2f} ({rss[hi] / 1024:.1f} MB / {rss[lo] / 1024:.1f} MB; "
          f"aim: flat, read here as <= 1.5: {'met' if growth <= 1.5 else 'MISSED'})")
all_rows = [(l, f) for l, f in replays if l.endswith("-all")]
if all_rows:
    worst_all = min((float(parse[l.split("-")[0]]["bytes"]) / 1e6 / float(f["wall"])) / parse[l.split("-")[0]]["mb_per_s"] for l, f in all_rows)
    print(f"replay/parse-only with --all-resources (every resource read), worst: {worst_all:.2f}")
for n in notes:
    print("NOTE: " + n)
PY
