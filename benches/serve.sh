#!/usr/bin/env bash
# Startup time and idle memory of `scribe serve` (release build):
#   startup: from spawning the process to the first 200 from /readyz, median (and min, max) of
#            RUNS starts, each on a fresh SQLite database (so every start also migrates);
#   idle RSS: VmRSS and VmHWM from /proc after the server has been ready for 2 s.
#
#   cargo build --release && benches/serve.sh            # RUNS=10 PORT=3198 by default
#
# Needs python3 (the clock and the HTTP polling, so that no process start is timed).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/scribe}
RUNS=${RUNS:-10}
PORT=${PORT:-3198}
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release first" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BIN=$BIN RUNS=$RUNS PORT=$PORT WORK=$WORK python3 - <<'EOF'
import http.client, os, statistics, subprocess, time

bin_, runs, port, work = os.environ["BIN"], int(os.environ["RUNS"]), os.environ["PORT"], os.environ["WORK"]

def ready():
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=1)
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False

def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024

times, idle = [], None
for run in range(runs):
    env = dict(os.environ,
               SCRIBE__DATA_DIR=f"{work}/data-{run}",
               SCRIBE__SERVER__LISTEN=f"127.0.0.1:{port}",
               SCRIBE__LOG__LEVEL="warn",
               SLACK_SIGNING_SECRET="8f742231b10e8888abcd99yyyzzz85a5")
    start = time.perf_counter()
    server = subprocess.Popen([bin_, "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        while not ready():
            if server.poll() is not None:
                raise SystemExit(f"scribe serve exited with {server.returncode}")
            if time.perf_counter() - start > 30:
                raise SystemExit("not ready after 30 s")
            time.sleep(0.0005)
        times.append(time.perf_counter() - start)
        if run == runs - 1:
            time.sleep(2)
            idle = (status(server.pid, "VmRSS"), status(server.pid, "VmHWM"), status(server.pid, "Threads") * 1024)
    finally:
        server.terminate()
        server.wait(timeout=15)

ms = [t * 1000 for t in times]
print(f"startup to /readyz 200: median {statistics.median(ms):.1f} ms "
      f"(min {min(ms):.1f}, max {max(ms):.1f}, {runs} runs)")
print(f"idle after 2 s: VmRSS {idle[0]:.1f} MiB, VmHWM {idle[1]:.1f} MiB, {idle[2]:.0f} threads")
EOF
