#!/usr/bin/env bash
# Peak memory and time of `perfgate import` as a log grows: generated JMeter JTL and k6
# JSON logs at 100 requests a second over three endpoints, for each length given
# (minutes; default 10 and 120, and 480 for the JTL), written to a temporary folder and
# imported by the release binary (or BIN). Prints one line a log: lines, peak RSS, seconds,
# lines a second. Reads and writes files only; no load is sent anywhere.
#
#   bench/import.sh [MINUTES...]
#   BIN=/tmp/perfgate-old bench/import.sh 10 120
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/perfgate}
[ -x "$BIN" ] || cargo build --release -q
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LENGTHS=("$@")
[ ${#LENGTHS[@]} -gt 0 ] || LENGTHS=(10 120 480)

gen() { # KIND MINUTES FILE
  python3 - "$1" "$2" "$3" <<'PY'
import sys, datetime
kind, minutes, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = 1_700_000_000_000  # ms
labels = ["home", "search", "login"]
with open(path, "w", buffering=1 << 20) as f:
    if kind == "jtl":
        f.write("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n")
    for i in range(minutes * 60 * 100):
        at = t0 + i * 10
        ms = 1 + (i * 7919) % 997
        label = labels[i % 3]
        ok = i % 101 != 0
        if kind == "jtl":
            f.write(f"{at},{ms},{label},{200 if ok else 500},x,T 1-1,text,{'true' if ok else 'false'},,10,10,50,50,http://127.0.0.1:8000/{label},{ms // 2},0,0\n")
        else:
            ts = datetime.datetime.fromtimestamp(at / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            tags = f'{{"name":"http://127.0.0.1:8000/{label}","url":"http://127.0.0.1:8000/{label}","method":"GET","status":"{200 if ok else 500}","expected_response":"{"true" if ok else "false"}"}}'
            f.write(f'{{"type":"Point","metric":"http_req_duration","data":{{"time":"{ts}","value":{ms},"tags":{tags}}}}}\n')
            f.write(f'{{"type":"Point","metric":"http_req_receiving","data":{{"time":"{ts}","value":0.1,"tags":{tags}}}}}\n')
PY
}

printf '%-6s %8s %12s %10s %8s %12s\n' log minutes lines peak_MB seconds lines/s
for kind in jtl k6; do
  for m in "${LENGTHS[@]}"; do
    [ "$kind" = k6 ] && [ "$m" -gt 120 ] && continue  # 8 h of k6 JSON is ~4 GB of disk
    log="$WORK/run.$kind"
    gen "$kind" "$m" "$log"
    lines=$(wc -l < "$log")
    /usr/bin/time -f '%M %e' -o "$WORK/time" "$BIN" import "$log" --output "$WORK/r.json" >/dev/null
    read -r kb secs < "$WORK/time"
    printf '%-6s %8s %12s %10.0f %8s %12.0f\n' "$kind" "$m" "$lines" "$((kb / 1024))" "$secs" \
      "$(python3 -c "print($lines / max($secs, 0.01))")"
    rm -f "$log"
  done
done
