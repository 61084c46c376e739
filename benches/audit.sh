#!/usr/bin/env bash
# Benchmark of ingest and audit on generated stores (not a test): for each size, generate a
# synthetic organisation, ingest its canonical log and reference data, and audit the whole year
# with the sample policy, then the same verdicts in DuckDB SQL (checking both agree on every event).
# Prints one table row per step: wall time, CPU time, peak RSS, events/s.
#
#   benches/audit.sh                        # sizes large (~1M events) and huge (~10M)
#   SIZES=large benches/audit.sh            # one size
#   SIZES=national WORK=/big/disk benches/audit.sh
#                                           # ~100M events: ~15 GB of CSV and store, about an
#                                           # hour, and more memory than DuckDB has on 24 GiB
#   WORK=/big/disk benches/audit.sh         # where the data goes (huge needs ~6 GB)
#   RUNS=5 benches/audit.sh                 # ingest and audit each run 5 times (default 3; 1
#                                           # for national): the row is the median run
#   VERBOSE=1 benches/audit.sh              # and each run's figures on stderr
#
# Builds the release binary first (a cold release build of polars takes a long while).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"large huge"}
WORK=${WORK:-/tmp/wmo-audit-bench}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
BIN="$TARGET/release/wmo-audit"
mkdir -p "$WORK"

# measure CMD...: run a command under GNU time; sets $wall, $cpu (user + system) and $rss (MiB).
measure() {
  local code=0
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$$" "$@" > "$WORK/out.$$" 2>&1 || code=$?
  # audit exits 4 when it found something to review: that is a completed run.
  if [ "$code" != 0 ] && [ "$code" != 4 ]; then
    echo "failed with exit $code: $*" >&2
    cat "$WORK/out.$$" >&2
    exit "$code"
  fi
  local user sys kb
  read -r wall user sys kb < <(tail -n 1 "$WORK/time.$$")
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
  rss=$((kb / 1024))
}

ingest_once() {
  rm -rf "$dir/store"
  measure "$BIN" ingest -q --store "$dir/store" --key samples/demo-key.json \
      "$dir/gen/reference" "$dir/gen/canonical"
}

audit_once() {
  rm -rf "$dir/report"
  measure "$BIN" audit --store "$dir/store" --policy samples/voorbeeldstad/policy.toml \
      --period 2025-10-01..2026-09-30 --out "$dir/report"
}

# median_of N STEP: runs STEP N times; sets $wall, $cpu and $rss to those of the run with the
# median wall time. (This machine is a VM whose speed changes from minute to minute.)
median_of() {
  local n=$1 step=$2 i
  : > "$WORK/runs.$$"
  for ((i = 0; i < n; i++)); do
    "$step"
    echo "$wall $cpu $rss" >> "$WORK/runs.$$"
    [ -z "${VERBOSE:-}" ] || echo "  $step: $wall s, $cpu s CPU, $rss MiB" >&2
  done
  read -r wall cpu rss < <(sort -n "$WORK/runs.$$" | sed -n "$(((n + 1) / 2))p")
}

row() { # size events step
  printf "| %s | %d | %s | %s | %s | %s | %.0f |\n" "$1" "$2" "$3" "$wall" "$cpu" "$rss" \
      "$(awk -v e="$2" -v w="$wall" 'BEGIN { print e / (w > 0 ? w : 0.01) }')"
}

printf "| size | events | step | wall s | cpu s | peak RSS MiB | events/s |\n|---|---:|---|---:|---:|---:|---:|\n"
for size in $SIZES; do
  dir="$WORK/$size"
  if [ ! -f "$dir/gen/labels.csv" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    "$BIN" generate --out "$dir/gen" --size "$size" > /dev/null
  fi
  events=$(($(wc -l < "$dir/gen/canonical/access_log.csv") - 1))
  runs=${RUNS:-$([ "$size" = national ] && echo 1 || echo 3)}
  median_of "$runs" ingest_once
  row "$size" "$events" ingest
  median_of "$runs" audit_once
  row "$size" "$events" audit
  # The same verdicts written as SQL in DuckDB (installed with pip), on the same Parquet files;
  # it exits 1 when any event's verdict differs from wmo-audit's.
  python3 -c "import duckdb" 2>/dev/null || python3 -m pip install -q duckdb
  measure python3 benches/duckdb_audit.py "$dir/store" "$dir/report/verdicts.parquet" \
      2025-10-01 2026-09-30
  row "$size" "$events" "duckdb verdicts"
done
rm -f "$WORK"/time.$$ "$WORK"/out.$$ "$WORK"/runs.$$
