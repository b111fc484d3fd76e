#!/usr/bin/env bash
# Soak test of `cds serve` (see benches/soak.md): N minutes of mixed valid and invalid CDS Hooks
# traffic from concurrent keep-alive clients against the release build on loopback, with
# client authentication on (two tenants) and the SQLite audit store. Reports requests, answers
# by kind and status class, mismatches (an answer other than the one its kind must get),
# connection errors, the valid calls' p50/p99/max latency, the server's memory (VmRSS) after
# the warm-up, at the end and at its highest, the audit store's row count and the server log.
#
#     benches/soak.sh [MINUTES]
#
# Environment (defaults in brackets):
#   SOAK_MINUTES [2]         length of the measured run (the argument wins); decimals allowed (0.5)
#   SOAK_CLIENTS [8]         concurrent client threads, each with its own keep-alive connection
#   SOAK_WARMUP [10]         seconds of the same traffic before the RSS at start is read
#   SOAK_PATIENTS [500]      distinct patients of the valid calls (and so of the cards the server
#                            remembers); 0: a new patient, and new cards, on every call
#   SOAK_NO_BUILD [unset]    set to 1 to use the release binaries already built
#   SOAK_OVERSIZED_KEEPALIVE [unset]  set to 1 to send the oversized bodies on the clients'
#                            shared keep-alive connections (default: each asks for Connection: close)
#   CARGO_TARGET_DIR [target]
# Exits non-zero when any answer was a 5xx or not the status its kind must get, when a request
# got no answer, or when the server log holds "panicked". Everything runs on 127.0.0.1 and
# stops by itself; the server is stopped on exit and the temporary folder removed.
set -euo pipefail

MINUTES=${1:-${SOAK_MINUTES:-2}}
CLIENTS=${SOAK_CLIENTS:-8}
WARMUP=${SOAK_WARMUP:-10}
PATIENTS=${SOAK_PATIENTS:-500}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CDS_BIN=$TARGET/release/cds

say() { printf '%s\n' "$*" >&2; }
die() { say "soak.sh: $*"; exit 2; }

[[ $MINUTES =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && awk -v m="$MINUTES" 'BEGIN { exit !(m > 0) }' \
  || die "MINUTES: '$MINUTES' is not a positive number"
[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "SOAK_CLIENTS: '$CLIENTS' is not a positive whole number"
[[ $WARMUP =~ ^[0-9]+\.?[0-9]*$ ]] || die "SOAK_WARMUP: '$WARMUP' is not a number of seconds"
[[ $PATIENTS =~ ^[0-9]+$ ]] || die "SOAK_PATIENTS: '$PATIENTS' is not a whole number"
command -v python3 >/dev/null || die "python3 is needed to find the driver cargo built"

if [ -z "${SOAK_NO_BUILD:-}" ]; then
  say "building the release binaries (cds, bench soak)"
  cargo build --release --quiet --bin cds
  # The bench profile is the release one; cargo names the executable.
  SOAK_BIN=$(cargo bench --quiet --no-run --bench soak --message-format=json | python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")
       and m["target"]["name"] == "soak"]
if not exe:
    sys.exit("cargo named no soak executable")
print(exe[-1])')
else
  # The newest soak driver cargo built (benches land in release/deps with a hash).
  SOAK_BIN=$(find "$TARGET/release/deps" -maxdepth 1 -type f -name 'soak-*' -perm -u+x \
    -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n1 | cut -d' ' -f2-) || SOAK_BIN=
fi
[ -x "$CDS_BIN" ] || die "$CDS_BIN missing: build with cargo build --release --bin cds"
[ -n "$SOAK_BIN" ] && [ -x "$SOAK_BIN" ] \
  || die "the soak driver is not built: run once without SOAK_NO_BUILD (cargo bench --no-run --bench soak)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cds-soak.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

KEYS=$ROOT/tests/fixtures/auth
cat >"$WORK/cds.toml" <<EOF
# Written by benches/soak.sh: authentication on, two tenants, the SQLite audit store.
[auth]
clock_skew_seconds = 30
max_token_lifetime_seconds = 300

[[auth.clients]]
iss = "https://ehr-a.example.org"
tenant = "north"
jwks_file = "$KEYS/ehr-a.jwks.json"

[[auth.clients]]
iss = "https://ehr-b.example.org"
tenant = "south"
jwks_file = "$KEYS/ehr-b.jwks.json"

[[tenants]]
id = "north"
rulesets = ["hypertension", "potassium", "tachycardia"]

[[tenants]]
id = "south"
rulesets = ["news2"]

[audit]
store = "sqlite"
sqlite_path = "$WORK/audit.sqlite"
EOF

"$CDS_BIN" serve --config "$WORK/cds.toml" --addr 127.0.0.1:0 --rulesets "$ROOT/rulesets" \
  >"$WORK/cds.out" 2>"$WORK/cds.log" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 300); do
  ADDR=$(sed -n 's|^listening on http://||p' "$WORK/cds.out" | head -n1)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$WORK/cds.log" >&2; die "cds serve exited at start"; }
  sleep 0.1
done
[ -n "$ADDR" ] || die "cds serve did not start listening within 30 s"
say "cds serve on $ADDR (pid $SERVER_PID); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

DRIVER_ARGS=()
[ -n "${SOAK_OVERSIZED_KEEPALIVE:-}" ] && DRIVER_ARGS+=(--oversized-keepalive)
STATUS=0
"$SOAK_BIN" --base "http://$ADDR" --pid "$SERVER_PID" --root "$ROOT" --minutes "$MINUTES" \
  --clients "$CLIENTS" --warmup "$WARMUP" --patients "$PATIENTS" "${DRIVER_ARGS[@]}" | tee "$WORK/driver.out" || STATUS=1
grep -q '^SOAK ' "$WORK/driver.out" || die "the driver gave no result"
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Stop the server (SIGTERM: graceful, the audit queue is written out) and look at what it left.
kill -TERM "$SERVER_PID"
SERVER_EXIT=0
for _ in $(seq 1 300); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
  say "cds serve did not stop within 30 s of SIGTERM"
  STATUS=1
else
  wait "$SERVER_PID" || SERVER_EXIT=$?
fi
SERVER_PID=
[ "$SERVER_EXIT" = 0 ] || { say "cds serve exited with status $SERVER_EXIT"; STATUS=1; }

if command -v sqlite3 >/dev/null 2>&1; then
  ROWS=$(sqlite3 "$WORK/audit.sqlite" 'SELECT count(*) FROM cds_audit_event') || ROWS="unreadable"
  FEEDBACK=$(sqlite3 "$WORK/audit.sqlite" 'SELECT coalesce(sum(count), 0) FROM cds_feedback_count' 2>/dev/null) \
    || FEEDBACK="?"
  KINDS=$(sqlite3 -separator ' ' "$WORK/audit.sqlite" \
    "SELECT kind || ' ' || status || ': ' || count(*) FROM cds_audit_event GROUP BY kind, status ORDER BY kind, status" \
    2>/dev/null | paste -sd, - | sed 's/,/, /g') || KINDS="?"
  echo "audit store: $ROWS rows in cds_audit_event (warm-up and probe included; by kind and status: $KINDS)," \
    "feedback counts summing to $FEEDBACK"
else
  echo "audit store: not counted (no sqlite3 command)"
fi
LOG_LINES=$(cat "$WORK/cds.out" "$WORK/cds.log" | wc -l)
if grep -q panicked "$WORK/cds.out" "$WORK/cds.log"; then
  echo "server log: $LOG_LINES lines, HOLDS \"panicked\":"
  grep -h -m5 panicked "$WORK/cds.out" "$WORK/cds.log"
  STATUS=1
else
  echo "server log: $LOG_LINES lines, no \"panicked\"; server exit status $SERVER_EXIT"
fi
if [ "$STATUS" = 0 ]; then
  echo "soak: PASSED (no 5xx, no mismatch, no connection error, no panic)"
else
  echo "soak: FAILED"
fi
exit "$STATUS"
