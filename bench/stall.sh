#!/usr/bin/env bash
# Coordinated omission, side by side: the demo service freezes every response for 1 s
# once every 5 s; each tool asks for a constant 400 requests/s for SECONDS. A tool that
# measures from the scheduled time reports p90/p95/p99 near 0.50/0.75/0.95 s and sends
# the full schedule; one that measures from the actual send reports milliseconds and
# sends fewer. Load goes only to 127.0.0.1; every run is bounded by SECONDS.
#
#   bench/stall.sh [SECONDS=15]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15}
PORT=18090
WORK=$(mktemp -d)
cargo build --release -q
BIN=target/release/perfgate
"$BIN" demo --serve "127.0.0.1:$PORT" --stall 1s/5s > /dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 1
URL="http://127.0.0.1:$PORT/health"
row() { printf "%-36s %8s %8s %8s %10s\n" "$@"; }
row tool p90 p95 p99 requests
row "(analytical, 400/s x ${DUR}s)" 0.500 0.750 0.950 $((400 * DUR))

cat > "$WORK/p.toml" <<TOML
[target]
host = "http://127.0.0.1:$PORT"
[scenarios.co]
rate = "400/s"
max_users = 1000
[[users]]
name = "u"
[[users.tasks]]
path = "/health"
TOML
"$BIN" run -c "$WORK/p.toml" -s co -d "${DUR}s" --quiet --out "$WORK/pg.json" > /dev/null 2>&1 || true
python3 - "$WORK/pg.json" <<'PY' | xargs printf "%-36s %8s %8s %8s %10s\n" "perfgate --rate 400/s"
import json, sys
t = json.load(open(sys.argv[1]))["total"]["summary"]
r = json.load(open(sys.argv[1]))["total"]
print(f"{t['p90_ms']/1000:.3f} {t['p95_ms']/1000:.3f} {t['p99_ms']/1000:.3f} {r['requests'] + r['interrupted'] + r['dropped']}")
PY
if command -v oha > /dev/null; then
  for flag in "" "--latency-correction"; do
    oha --no-tui --output-format json -q 400 -c 50 -z "${DUR}s" $flag "$URL" > "$WORK/oha.json" 2>/dev/null || true
    python3 - "$WORK/oha.json" <<'PY' | xargs printf "%-36s %8s %8s %8s %10s\n" "oha -q 400 -c 50 ${flag:-(no correction)}"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
n = sum(d["statusCodeDistribution"].values())
print(f"{p['p90']:.3f} {p['p95']:.3f} {p['p99']:.3f} {n}")
PY
  done
fi
if command -v locust > /dev/null; then
  cat > "$WORK/locustfile.py" <<PY
from locust import FastHttpUser, task, constant_throughput
class U(FastHttpUser):
    wait_time = constant_throughput(1)
    @task
    def get(self): self.client.get("/health")
PY
  locust -f "$WORK/locustfile.py" --headless -u 400 -r 400 -t "${DUR}s" -H "http://127.0.0.1:$PORT" \
    --csv "$WORK/locust" --only-summary > /dev/null 2>&1 || true
  awk -F, '$2=="Aggregated" {printf "%-36s %8.3f %8.3f %8.3f %10s\n", "locust 400 users x 1/s", $16/1000, $17/1000, $19/1000, $3}' "$WORK/locust_stats.csv"
fi
