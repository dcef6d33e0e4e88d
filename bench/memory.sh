#!/usr/bin/env bash
# Peak memory of many users thinking: USERS (default 10,000) users with 1–2 s think time
# each, GET / against nginx on 127.0.0.1, for DURATION_S (default 20), once as the
# config's user and once written in Rust (examples/bench_get.rs). Prints each run's
# requests and peak RSS (/usr/bin/time).
#
#   bench/memory.sh [DURATION_S] [USERS]
#
# Installs nginx (Debian) when missing. Load goes only to 127.0.0.1; each run ends by
# itself after DURATION_S.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}; USERS=${2:-10000}
PORT=18090
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
cargo build --release -q --bin perfgate --example bench_get
ulimit -n "$(ulimit -Hn)"

mkdir -p "$WORK/www"; printf 'ok\n' > "$WORK/www/index.html"; chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1; worker_rlimit_nofile $((USERS * 2 + 1000)); daemon on;
pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections $((USERS + 1000)); }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 60s;
  server { listen 127.0.0.1:$PORT backlog=16384; root $WORK/www; location / { try_files /index.html =404; } } }
NGINX
nginx -c "$WORK/nginx.conf"
sleep 0.5
cat > "$WORK/perfgate.toml" <<TOML
[target]
host = "http://127.0.0.1:$PORT"
[[users]]
name = "bench"
wait = { between = ["1s", "2s"] }
[[users.tasks]]
path = "/"
TOML

run() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%M" -o "$WORK/time" "$@" run -c "$WORK/perfgate.toml" --users "$USERS" \
    --spawn-rate 2000 --duration "${DUR}s" --quiet --out "$WORK/r.json" >/dev/null 2>&1 || true
  python3 - "$name" "$WORK" <<'PY'
import json, sys
name, work = sys.argv[1:3]
rss = int(open(f"{work}/time").read().split()[-1]) / 1024
r = json.load(open(f"{work}/r.json"))
print(f"{name:<24} {r['scenario']['users']:>6} users {r['total']['requests']:>8} requests "
      f"{r['total']['failures']:>5} failed  peak RSS {rss:6.1f} MB")
PY
}
run "config user" ./target/release/perfgate
BENCH_WAIT_MS=1000-2000 run "Rust user" ./target/release/examples/bench_get
