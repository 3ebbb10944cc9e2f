#!/usr/bin/env bash
# Ingest benchmark: `scribe serve` beside the Bolt reference apps, with the shared load harness
# (PEERS_DIR, default ../shared/peers: see its README.md). The harness is copied to a temporary
# folder first (it installs its dependencies and writes its results there), then run with
# Scribe as its `target`; the results table is printed at the end and kept in that folder.
#
#   cargo build --release && benches/ingest.sh
#   PEERS="target" DURATION=20 benches/ingest.sh          # Scribe alone, longer runs
#   SCRIBE_BIN=/path/to/other/scribe PEERS=target benches/ingest.sh
#
# Knobs: SCRIBE_BIN, PEERS ("a b target"), DURATION (10), BENCH_NICE (-10), QUIET_PCT (10),
# QUIET_MAX (120), and any other knob of the harness (KINDS, MODES, RATE, ...).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/peers}
SCRIBE_BIN=$(realpath "${SCRIBE_BIN:-$ROOT/target/release/scribe}")
[ -x "$SCRIBE_BIN" ] || { echo "no $SCRIBE_BIN: cargo build --release first" >&2; exit 1; }
WORK=${WORK:-$(mktemp -d)}
cp -r "$PEERS_DIR" "$WORK/" && chmod -R u+w "$WORK/peers"
DATA=$WORK/scribe-data
SECRET=8f742231b10e8888abcd99yyyzzz85a5

export PEERS=${PEERS:-"a b target"} DURATION=${DURATION:-10} BENCH_NICE=${BENCH_NICE:--10}
export QUIET_PCT=${QUIET_PCT:-10} QUIET_MAX=${QUIET_MAX:-120} SLACK_SIGNING_SECRET=$SECRET
export TARGET_NAME=${TARGET_NAME:-scribe} TARGET_URL=http://127.0.0.1:3199
export TARGET_CMD="rm -rf '$DATA'; SCRIBE__DATA_DIR='$DATA' SCRIBE__SERVER__LISTEN=127.0.0.1:3199 SCRIBE__LOG__LEVEL=warn exec '$SCRIBE_BIN' serve"
export TARGET_DB=$DATA/scribe.db TARGET_COUNT_SQL="SELECT count(*) FROM events"
export TARGET_DESC=${TARGET_DESC:-"scribe serve (SQLite WAL, synchronous=FULL)"}
cd "$WORK/peers"
./run_peers.sh
echo "[ingest] harness copy and results: $WORK/peers/results/"
