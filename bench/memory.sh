#!/usr/bin/env bash
# Memory of the load generator: peak RSS of perfgate
#   1. with 10,000 concurrent closed-model users (think time 1-2 s) for SECONDS, as the
#      config's users and as users written in Rust (examples/bench_get.rs), and
#   2. on a short and a ten-times-longer run at full speed (10 users, no think time),
#   3. with 1, 50, 300 and 1,000 endpoints (a task each, 20 users, no think time) for
#      10 s and 60 s,
#   4. with a feeder of 10,000, 1,000,000 and 5,000,000 rows, CSV and JSON, read by a
#      header template (20 users, 5 s): peak RSS and the time until the load starts,
# (AXES="endpoints feeders" runs only those; the default, all four)
# against nginx on 127.0.0.1 (pinned to core 0; perfgate to core 1). Every run is
# bounded by its duration; load goes only to 127.0.0.1.
#
#   bench/memory.sh [SECONDS=20] [SHORT=15]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}
SHORT=${2:-15}
PORT=18089
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
cargo build --release -q --bin perfgate --example bench_get
ulimit -n "$(ulimit -Hn)"  # 10,000 connections need more than the usual 1024
mkdir -p "$WORK/www"; printf 'ok\n' > "$WORK/www/index.html"
chmod -R a+rX "$WORK"  # nginx workers run as an unprivileged user
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1; daemon on; pid $WORK/nginx.pid; error_log $WORK/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server { listen 127.0.0.1:$PORT backlog=16384; root $WORK/www; location / { try_files /index.html =404; } } }
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf"
sleep 0.5
config() { # users, wait
  cat <<TOML
[target]
host = "http://127.0.0.1:$PORT"
timeout = "10s"
[scenarios.bench]
users = $1
spawn_rate = 2000
[[users]]
name = "bench"
wait = $2
[[users.tasks]]
path = "/"
TOML
}
BIN=target/release/perfgate
run() { # label, config, duration
  echo "$2" > "$WORK/p.toml"
  /usr/bin/time -f "%M" -o "$WORK/time" taskset -c 1 "$BIN" run \
    -c "$WORK/p.toml" -s bench -d "$3" --quiet --out "$WORK/r.json" > "$WORK/out" 2>&1 || true
  python3 - "$1" "$(cat "$WORK/time")" "$WORK/r.json" <<'PY'
import json, sys
label, rss, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = json.load(open(path))
t = r["total"]
print(f"{label:<34} peak RSS {rss/1024:7.1f} MB  {t['requests']:>9} requests  "
      f"{t['failures']} failed {dict(t['failure_reasons']) or ''}  "
      f"max users {max(i['users'] for i in r['series'])}")
PY
}
endpoints() { # N: a task and an endpoint each, all on nginx's one page
  config 20 '{ constant = "0ms" }' | head -n -2
  for i in $(seq 1 "$1"); do printf '[[users.tasks]]\nname = "op%d"\npath = "/?op=%d"\n' "$i" "$i"; done
}
AXES=${AXES:-users runs endpoints feeders}
if [[ $AXES == *users* ]]; then
  run "10,000 users, think 1-2 s, ${DUR}s" "$(config 10000 '{ between = ["1s", "2s"] }')" "${DUR}s"
  # The same users written in Rust: the example's class replaces the config's "bench".
  BIN=target/release/examples/bench_get BENCH_WAIT_MS=1000-2000 \
    run "10,000 Rust users, think 1-2 s, ${DUR}s" "$(config 10000 '{ between = ["1s", "2s"] }')" "${DUR}s"
fi
if [[ $AXES == *runs* ]]; then
  run "10 users, no think, ${SHORT}s" "$(config 10 '{ constant = "0ms" }')" "${SHORT}s"
  run "10 users, no think, $((SHORT * 10))s" "$(config 10 '{ constant = "0ms" }')" "$((SHORT * 10))s"
fi
if [[ $AXES == *endpoints* ]]; then
  for n in 1 50 300 1000; do
    for d in 10 60; do run "$n endpoints, 20 users, ${d}s" "$(endpoints "$n")" "${d}s"; done
  done
fi
feeder() { # rows, csv|json: a file of that many accounts
  python3 - "$1" "$2" "$WORK/data.$2" <<'PY'
import sys
n, kind, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    if kind == "csv":
        f.write("user,token\n")
        for i in range(n):
            f.write(f"user{i:08d},{i * 2654435761 % 10**12:012d}\n")
    else:
        f.write("[")
        f.write(",".join(f'{{"user":"user{i:08d}","n":{i}}}' for i in range(n)))
        f.write("]")
PY
  config 20 '{ constant = "0ms" }' | head -n -2
  printf '[data.acc]\nfile = "%s"\n[[users.tasks]]\npath = "/"\nheaders = { x-user = "{{ data.acc.user }}" }\n' "$WORK/data.$2"
}
if [[ $AXES == *feeders* ]]; then
  for kind in csv json; do
    for n in 10000 1000000 5000000; do
      cfg=$(feeder "$n" "$kind")
      size=$(du -m "$WORK/data.$kind" | cut -f1)
      start=$(date +%s.%N)
      run "$n rows $kind (${size} MB), 20 users, 5s" "$cfg" 5s
      echo "    wall $(python3 -c "print(round($(date +%s.%N) - $start - 5, 1))") s beyond the 5 s of load (start-up and the end)"
    done
  done
fi
