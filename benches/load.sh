#!/usr/bin/env bash
# Load benchmark of `cds serve` (see benches/load.md): wrk POSTs one patient-view call with
# 500 prefetched Observations to the release build on loopback, and the same body to a bare
# axum endpoint that only parses it (examples/bare_endpoint.rs), the reference. Prints
# requests/s, p50 and p99 latency per target and the ratio of cds to bare throughput.
#
#     benches/load.sh
#
# Environment (defaults in brackets):
#   LOAD_THREADS [2]  LOAD_CONNECTIONS [8]  LOAD_DURATION [15s]  LOAD_WARMUP [3s]
#   LOAD_ROUNDS [2]            throughput rounds of (bare, cds), alternated so both see the same machine
#   LOAD_LATENCY_DURATION [5s] then one run each with a single connection (no queueing); 0 skips it
#   LOAD_SERVICE [news2-patient-view]
#   LOAD_NO_BUILD [unset]      set to 1 to use the release binaries already built
#   CARGO_TARGET_DIR [target]
# Needs wrk (installed with apt-get when absent), python3, curl. Everything runs on 127.0.0.1
# and stops by itself: each wrk run lasts LOAD_DURATION, and both servers are stopped on exit.
set -euo pipefail

THREADS=${LOAD_THREADS:-2}
CONNECTIONS=${LOAD_CONNECTIONS:-8}
DURATION=${LOAD_DURATION:-15s}
WARMUP=${LOAD_WARMUP:-3s}
ROUNDS=${LOAD_ROUNDS:-2}
LATENCY_DURATION=${LOAD_LATENCY_DURATION:-5s}
SERVICE=${LOAD_SERVICE:-news2-patient-view}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CDS_BIN=$TARGET/release/cds
BARE_BIN=$TARGET/release/examples/bare_endpoint

say() { printf '%s\n' "$*" >&2; }
die() { say "load.sh: $*"; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
  say "wrk not found: installing it with apt-get"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  if ! { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq wrk >/dev/null; }; then
    die "could not install wrk (apt-get install wrk)"
  fi
fi
command -v python3 >/dev/null || die "python3 is needed to write the request body"
command -v curl >/dev/null || die "curl is needed for the checks before measuring"

if [ -z "${LOAD_NO_BUILD:-}" ]; then
  say "building the release binaries (cds, example bare_endpoint)"
  cargo build --release --quiet --bin cds --example bare_endpoint
fi
[ -x "$CDS_BIN" ] || die "$CDS_BIN missing: build with cargo build --release --bin cds"
[ -x "$BARE_BIN" ] || die "$BARE_BIN missing: build with cargo build --release --example bare_endpoint"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cds-load.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME CMD...: starts a server that prints `listening on http://ADDR`; sets ADDR, PID.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's|^listening on http://||p' "$WORK/$name.out" | head -n1)
    [ -n "$ADDR" ] && return 0
    kill -0 "$PID" 2>/dev/null || { tail -n 20 "$WORK/$name.log" >&2; die "$name exited at start"; }
    sleep 0.1
  done
  die "$name did not start listening within 30 s"
}

start cds "$CDS_BIN" serve --addr 127.0.0.1:0 --rulesets "$ROOT/rulesets"
CDS_ADDR=$ADDR
CDS_PID=$PID
start bare "$BARE_BIN" 127.0.0.1:0
BARE_ADDR=$ADDR
BARE_PID=$PID
say "cds serve on $CDS_ADDR, bare endpoint on $BARE_ADDR"

# The body gives every prefetch key of the service: those it does not fill are null.
curl -fsS "http://$CDS_ADDR/cds-services" >"$WORK/discovery.json"
KEYS=$(python3 - "$WORK/discovery.json" "$SERVICE" <<'PY'
import json, sys
services = json.load(open(sys.argv[1]))["services"]
found = [s for s in services if s["id"] == sys.argv[2]]
if not found:
    sys.exit(f"no service {sys.argv[2]}; services: {', '.join(s['id'] for s in services)}")
print(" ".join(found[0].get("prefetch", {})))
PY
)
say "prefetch keys of $SERVICE: $KEYS"
BODY=$WORK/body.json
# shellcheck disable=SC2086 # KEYS is a list of words
python3 "$ROOT/benches/load/gen_body.py" "$BODY" $KEYS
say "body: $(wc -c <"$BODY") bytes, 500 Observations"

# One call each before measuring: cds must answer 200 with cards, the bare endpoint 200.
check() {
  local name=$1 url=$2 want_cards=$3 status
  status=$(curl -sS -o "$WORK/$name.answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$BODY" "$url")
  [ "$status" = 200 ] || { head -c 2000 "$WORK/$name.answer" >&2; die "$name answered $status"; }
  python3 - "$WORK/$name.answer" "$want_cards" "$name" <<'PY'
import json, sys
cards = json.load(open(sys.argv[1]))["cards"]
if sys.argv[2] == "yes" and not cards:
    sys.exit(f"{sys.argv[3]} answered 200 without cards")
print(f"{sys.argv[3]}: 200, {len(cards)} card(s)" + "".join(f"; {c['indicator']}: {c['summary']}" for c in cards), file=sys.stderr)
PY
}
check cds "http://$CDS_ADDR/cds-services/$SERVICE" yes
check bare "http://$BARE_ADDR/cds-services/$SERVICE" no

# Server CPU time (user + system, in clock ticks) of a process, all threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_MS=$(( 1000 / $(getconf CLK_TCK) ))

# measure NAME PASS URL PID CONNECTIONS THREADS DURATION: warm-up, then the measured run;
# appends "NAME PASS RESULT ... cpu_ticks=N tick_ms=M" (the server's CPU time of the run) to rows.
measure() {
  local name=$1 pass=$2 url=$3 pid=$4 conns=$5 threads=$6 duration=$7 line before after
  LOAD_BODY=$BODY wrk -t"$threads" -c"$conns" -d"$WARMUP" -s "$ROOT/benches/load/post.lua" "$url" >/dev/null
  before=$(cpu_ticks "$pid")
  LOAD_BODY=$BODY wrk -t"$threads" -c"$conns" -d"$duration" -s "$ROOT/benches/load/post.lua" "$url" \
    >"$WORK/wrk-$name.txt"
  after=$(cpu_ticks "$pid")
  line=$(grep '^RESULT ' "$WORK/wrk-$name.txt") || { cat "$WORK/wrk-$name.txt" >&2; die "wrk gave no result for $name"; }
  echo "$name $pass $line cpu_ticks=$((after - before)) tick_ms=$TICK_MS" >>"$WORK/rows"
}

say "throughput: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), $ROUNDS round(s); latency: -t1 -c1 -d$LATENCY_DURATION"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  say "round $round: bare endpoint, then cds serve (throughput)"
  measure bare throughput "http://$BARE_ADDR/cds-services/$SERVICE" "$BARE_PID" "$CONNECTIONS" "$THREADS" "$DURATION"
  measure cds throughput "http://$CDS_ADDR/cds-services/$SERVICE" "$CDS_PID" "$CONNECTIONS" "$THREADS" "$DURATION"
done
if [ "$LATENCY_DURATION" != 0 ]; then
  say "bare endpoint, then cds serve (latency, one connection)"
  measure bare latency "http://$BARE_ADDR/cds-services/$SERVICE" "$BARE_PID" 1 1 "$LATENCY_DURATION"
  measure cds latency "http://$CDS_ADDR/cds-services/$SERVICE" "$CDS_PID" 1 1 "$LATENCY_DURATION"
fi
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "POST /cds-services/$SERVICE, $(wc -c <"$BODY") bytes (500 Observations)"
echo "throughput: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s); latency: wrk -t1 -c1 -d$LATENCY_DURATION"
python3 - "$WORK/rows" "$CONNECTIONS" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    name, kind, _, *fields = line.split()
    f = {k: float(v) for k, v in (x.split("=") for x in fields)}
    f["cpu_ms"] = f["cpu_ticks"] * f["tick_ms"] / max(f["requests"], 1)
    rows.append((name, kind, f))
print(f"{'target':<6} {'pass':<10} {'requests/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
      f"{'CPU ms/req':>10} {'non-2xx':>7} {'errors':>6}")
for name, kind, f in rows:
    print(f"{name:<6} {kind:<10} {f['rps']:>10.1f} {f['p50_ms']:>7.2f} {f['p99_ms']:>7.2f} {f['max_ms']:>7.2f} "
          f"{f['cpu_ms']:>10.2f} {int(f['non2xx']):>7} {int(f['errors']):>6}")
def total(name, kind):
    runs = [f for n, k, f in rows if n == name and k == kind]
    if not runs:
        return None
    requests = sum(f["requests"] for f in runs)
    return {
        "rps": requests / sum(f["seconds"] for f in runs),
        "p99": max(f["p99_ms"] for f in runs),
        "cpu": sum(f["cpu_ticks"] * f["tick_ms"] for f in runs) / requests,
    }
cds, bare = total("cds", "throughput"), total("bare", "throughput")
ratio = cds["rps"] / bare["rps"]
print(f"throughput, all rounds: cds {cds['rps']:.1f} req/s, bare {bare['rps']:.1f} req/s; "
      f"cds/bare = {ratio:.2f} (aim >= 0.50: {'met' if ratio >= 0.5 else 'MISSED'})")
print(f"server CPU per request: cds {cds['cpu']:.2f} ms, bare {bare['cpu']:.2f} ms; "
      f"bare/cds = {bare['cpu'] / cds['cpu']:.2f}")
print(f"p99 under load (-c{sys.argv[2]}), worst round: cds {cds['p99']:.2f} ms, bare {bare['p99']:.2f} ms "
      f"(aim < 10 ms: {'met' if cds['p99'] < 10 else 'MISSED'})")
lat = total("cds", "latency")
if lat:
    print(f"p99 with one connection: cds {lat['p99']:.2f} ms, bare {total('bare', 'latency')['p99']:.2f} ms "
          f"(aim < 10 ms: {'met' if lat['p99'] < 10 else 'MISSED'})")
bad = sum(f["non2xx"] + f["errors"] for _, _, f in rows)
if bad:
    print(f"WARNING: {int(bad)} non-2xx answers or socket errors: the figures are not valid")
    sys.exit(1)
PY
