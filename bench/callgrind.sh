#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind (repeatable whatever else the
# machine does): each perfgate binary given runs 30,000 GETs (10 users, 1 thread) and
# 30,000 templated JSON POSTs against nginx on 127.0.0.1, and the whole process's
# instructions are divided by the requests it made (start-up included).
#
#   bench/callgrind.sh [BINARY...]     (default: target/release/perfgate)
#   N=100000 bench/callgrind.sh OLD NEW
#
# Installs nginx and valgrind (Debian) when missing. Load goes only to 127.0.0.1 and
# every run ends after N requests.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-30000}
PORT=18089
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v nginx >/dev/null && command -v valgrind >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq nginx valgrind >/dev/null; }
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then cargo build --release -q; BINS=(target/release/perfgate); fi

mkdir -p "$WORK/www"; printf 'ok\n' > "$WORK/www/index.html"
chmod -R a+rX "$WORK"
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1; daemon on; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT; root $WORK/www; location / { try_files /index.html =404; } } }
NGINX
nginx -c "$WORK/nginx.conf"
sleep 0.5
cat > "$WORK/get.toml" <<TOML
[target]
host = "http://127.0.0.1:$PORT"
[[users]]
name = "bench"
[[users.tasks]]
path = "/"
TOML
cat > "$WORK/post.toml" <<TOML
[target]
host = "http://127.0.0.1:$PORT"
[[users]]
name = "bench"
[[users.tasks]]
method = "POST"
path = "/"
json = '{"id":"{{ uuid() }}","n":{{ random_int(1, 1000) }}}'
expect = { status = [200, 405] }
TOML

printf '%-45s %-5s %12s %16s\n' binary load requests instructions/req
for bin in "${BINS[@]}"; do
  for load in get post; do
    out="$WORK/cg.$load.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" run -c "$WORK/$load.toml" \
      --users 10 --threads 1 --iterations "$N" --quiet --out "$WORK/r.json" >/dev/null 2>"$WORK/vg.log" || true
    ir=$(grep -m1 '^summary:' "$out" | awk '{print $2}')
    reqs=$(python3 -c "import json;print(json.load(open('$WORK/r.json'))['total']['requests'])")
    printf '%-45s %-5s %12s %16s\n' "$bin" "$load" "$reqs" "$(python3 -c "print(round($ir / $reqs))")"
  done
done
