#!/usr/bin/env bash
# Does a dashboard page slow the load? perfgate against nginx (pinned to core 0,
# perfgate to core 1), ROUNDS times each way, alternating: without --dashboard, and
# with it while a page follows the event stream (curl standing in for the browser: the
# same bytes). Prints requests per CPU-second of perfgate for each and the median ratio.
#
#   bench/dashboard.sh [DURATION_S] [USERS]      (default: 10 s, 10 users; ROUNDS=3)
#
# Load goes only to 127.0.0.1 and every run is bounded by DURATION_S.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}; USERS=${2:-10}; ROUNDS=${ROUNDS:-3}
PORT=18087; DASH=18086
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
cargo build --release -q
mkdir -p "$WORK/www"; printf 'ok\n' > "$WORK/www/index.html"; chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1; daemon on; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; root $WORK/www; location / { try_files /index.html =404; } } }
NGINX
taskset -c 0 nginx -c "$WORK/nginx.conf"; sleep 0.5
printf '[target]\nhost = "http://127.0.0.1:%s"\n[[users]]\nname = "b"\n[[users.tasks]]\npath = "/"\n' "$PORT" > "$WORK/get.toml"

per_cpu() { python3 -c "import json;r=json.load(open('$1'));print(r['total']['requests']/r['generator']['cpu_seconds'])"; }
plain=(); page=()
for i in $(seq 1 "$ROUNDS"); do
  taskset -c 1 target/release/perfgate run -c "$WORK/get.toml" --users "$USERS" --threads 1 \
    --duration "${DUR}s" --quiet --out "$WORK/plain.json" >/dev/null
  plain+=("$(per_cpu "$WORK/plain.json")")
  taskset -c 1 target/release/perfgate run -c "$WORK/get.toml" --users "$USERS" --threads 1 \
    --duration "${DUR}s" --quiet --out "$WORK/page.json" --dashboard "127.0.0.1:$DASH" >/dev/null &
  run=$!
  sleep 0.5
  curl -s -N --max-time $((DUR + 5)) "http://127.0.0.1:$DASH/events" > "$WORK/events.txt" || true
  wait "$run"
  page+=("$(per_cpu "$WORK/page.json")")
  echo "round $i: without $(printf %.0f "${plain[-1]}") req/CPU-s, with a page $(printf %.0f "${page[-1]}") req/CPU-s ($(grep -c '^data:' "$WORK/events.txt") frames read)"
done
python3 - "${plain[@]}" -- "${page[@]}" <<'PY'
import statistics, sys
a = sys.argv[1:]; i = a.index("--")
plain, page = [float(x) for x in a[:i]], [float(x) for x in a[i+1:]]
m0, m1 = statistics.median(plain), statistics.median(page)
print(f"median: without {m0:.0f}, with a page {m1:.0f} requests per CPU-second: {m1 / m0:.3f} x")
PY
