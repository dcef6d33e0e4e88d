#!/usr/bin/env bash
# False-alarm rate of regression detection: runs the unchanged demo service N+1 times
# in a row and compares each run with the previous one. Every "regressed" is a false
# alarm. Load goes only to 127.0.0.1; each run is bounded (10 s by default).
#
#   bench/false_alarm.sh [PAIRS=20] [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-20}
secs=${2:-10}
bin=${PERFGATE:-target/release/perfgate}
[ -x "$bin" ] || cargo build --release --quiet
port=${PORT:-18080}
work=$(mktemp -d)
# A realistic service: verify-proof takes 20-30 ms, the rest answer at once.
"$bin" demo --serve "127.0.0.1:$port" --latency /api/verify-proof=20ms \
    --jitter /api/verify-proof=10ms >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
runs=$((pairs + 1))
for i in $(seq 0 $pairs); do
    "$bin" run -c examples/perfgate.toml --host "http://127.0.0.1:$port" \
        --rate 500 -u 200 -d "${secs}s" --quiet --out "$work/run$i.json" >/dev/null 2>&1 || true
done
alarms=0
judged=0
for i in $(seq 1 $pairs); do
    "$bin" compare "$work/run$i.json" "$work/run$((i - 1)).json" \
        -c examples/perfgate.toml --report "json=$work/cmp$i.json" >/dev/null
    n=$(grep -c '"change": "regressed"' "$work/cmp$i.json" || true)
    j=$(grep -c '"change": "\(regressed\|improved\|unchanged\)"' "$work/cmp$i.json" || true)
    judged=$((judged + j))
    if [ "$n" -gt 0 ]; then
        alarms=$((alarms + 1))
        grep -o '"message": "[^"]*regressed[^"]*"' "$work/cmp$i.json" | sed 's/^/  /'
    fi
done
echo "runs: $runs x ${secs}s at 500 arrivals/s; comparisons judged: $judged"
echo "false alarms: $alarms of $pairs pairs ($(awk "BEGIN{printf \"%.1f\", 100*$alarms/$pairs}")%)"
