#!/usr/bin/env bash
# Outside test suites against a live omsd, once per store (memory, then Redis).
#
#   test/outside/run.sh prism     Prism proxies in front of omsd while
#                                 test/outside/traffic drives every operation
#   test/outside/run.sh portman   Portman contract tests and fuzzed variations,
#                                 run by newman with a bearer token
#   test/outside/run.sh stream    the Streaming API through the real
#                                 JavaScript client (centrifuge-js) over
#                                 WebSocket, HTTP-streaming and SSE
#                                 (test/outside/stream/stream.mjs), on
#                                 books without the dev market maker
#
# Everything runs on free loopback ports and is stopped on exit: the omsd
# binary (built here, dev mode, its own mail outbox), a private
# redis-server (--save "" --appendonly no) for the Redis pass, and the
# Prism proxies. Needs go, node + npm (npm ci runs when node_modules is
# missing or stale), redis-server and curl. Each step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
suite=${1:-}
case "$suite" in prism | portman | stream) ;; *) echo "usage: $0 prism|portman|stream" >&2; exit 2 ;; esac
OUT=test/outside
STORES=${OUTSIDE_STORES:-memory redis}

for cmd in go node npm curl redis-server; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "$0: $cmd is required" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/omsd-outside.XXXXXX")
pids=()
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  # Ten seconds to stop, then SIGKILL.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 1 100); do
      kill -0 "${pids[i]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  local rc=$?
  stop_all
  if [ $rc -ne 0 ] && [ -d "$work" ]; then
    for f in "$work"/*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $(basename "$f")"
      tail -n 30 "$f"
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on (a bounded number of tries).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "$0: no free port found" >&2
  return 1
}

# wait_for URL SECONDS [PID]: until URL answers (any HTTP status); fails at
# once when PID has exited (say, another process took its port first).
wait_for() {
  local deadline=$((SECONDS + $2))
  while :; do
    if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then
      return 1
    fi
    if curl -s -o /dev/null --max-time 2 "$1"; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "$0: $1 did not answer within $2 s" >&2
      return 1
    fi
    sleep 0.3
  done
  # Still ours: not another process that took the port.
  [ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null
}

# launch LOG URLPATH SECONDS CMD...: runs CMD (where {PORT} stands for the
# port) on a free port, retrying with another port when the process exits
# before URLPATH answers; sets URL.
launch() {
  local log=$1 path=$2 secs=$3 port pid try
  shift 3
  for try in 1 2 3 4 5; do
    port=$(free_port)
    "${@//\{PORT\}/$port}" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    URL="http://127.0.0.1:$port"
    if wait_for "$URL$path" "$secs" "$pid"; then
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    echo "$0: $(basename "$log" .log) did not come up on port $port (try $try)" >&2
    tail -n 3 "$log" >&2
  done
  return 1
}

if [ ! -x "$OUT/node_modules/.bin/prism" ] || [ ! -x "$OUT/node_modules/.bin/portman" ] ||
  [ ! -f "$OUT/node_modules/centrifuge/package.json" ] || [ ! -f "$OUT/node_modules/ws/package.json" ] ||
  [ ! -f "$OUT/node_modules/eventsource/package.json" ] ||
  [ "$OUT/package-lock.json" -nt "$OUT/node_modules/.package-lock.json" ]; then
  echo "== npm ci ($OUT)"
  (cd "$OUT" && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== building omsd"
go build -o "$work/omsd" .
go build -o "$work/traffic" ./$OUT/traffic

# The suite's own omsd flags: the stream checks cross their own orders, so
# their books start empty (no dev market maker resting orders).
OMSD_ARGS=()
[ "$suite" != stream ] || OMSD_ARGS=(--dev-market-maker=false)

# start_omsd STORE: omsd (and, for redis, its private redis-server) on free
# ports, with OMSD_ARGS; sets BASE and OUTBOX.
start_omsd() {
  local store=$1 port args=("${OMSD_ARGS[@]}")
  OUTBOX="$work/outbox-$store"
  mkdir -p "$OUTBOX"
  if [ "$store" = redis ]; then
    local rport try
    for try in 1 2 3 4 5; do
      rport=$(free_port)
      redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
        >"$work/redis.log" 2>&1 &
      pids+=($!)
      local deadline=$((SECONDS + 20))
      until redis-cli -p "$rport" ping >/dev/null 2>&1 || ! kill -0 "${pids[-1]}" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || break
        sleep 0.2
      done
      kill -0 "${pids[-1]}" 2>/dev/null && redis-cli -p "$rport" ping >/dev/null 2>&1 && break
      kill "${pids[-1]}" 2>/dev/null || true
      [ "$try" -lt 5 ] || { echo "$0: redis-server did not start" >&2; return 1; }
    done
    args+=(--redis-url "redis://127.0.0.1:$rport" --dev-redis --redis-prefix "outside:$$:")
  fi
  # No metrics listener (its fixed default port could be taken) when this
  # omsd has one.
  if "$work/omsd" serve --help 2>&1 | grep -q -- '--metrics-addr'; then
    args+=(--metrics-addr "")
  fi
  # Nor the FIX acceptor (dev mode's fixed port 9878).
  if "$work/omsd" serve --help 2>&1 | grep -q -- '--fix-addr'; then
    args+=(--fix-addr off)
  fi
  launch "$work/omsd-$store.log" /api/v1/util/health 30 \
    "$work/omsd" serve --dev --addr "127.0.0.1:{PORT}" --mail-outbox "$OUTBOX" --log-level warn "${args[@]}"
  BASE=$URL
  curl -sf "$BASE/openapi.json" >"$work/openapi.json"
}

# start_prism NAME [--errors]: a Prism proxy in front of BASE; sets PRISM_URL.
start_prism() {
  local name=$1
  shift
  launch "$work/prism-$name.log" /api/v1/util/health 120 \
    "$OUT/node_modules/.bin/prism" proxy "$work/openapi.json" "$BASE" -h 127.0.0.1 -p "{PORT}" "$@"
  PRISM_URL=$URL
}

run_prism() {
  local store=$1 errors report
  start_prism "errors-$store" --errors
  errors=$PRISM_URL
  start_prism "report-$store"
  report=$PRISM_URL
  echo "== prism ($store store): omsd $BASE, prism --errors $errors, prism $report"
  timeout 300 "$work/traffic" -spec "$BASE/openapi.json" -errors "$errors" -report "$report" -outbox "$OUTBOX"
}

run_portman() {
  local store=$1 admin logout
  admin=$(signin)
  logout=$(signin)
  # The run's bearer token and session, and a second session for the
  # logout test to end.
  {
    echo "PORTMAN_BEARER_TOKEN=$(field jwt <<<"$admin")"
    echo "PORTMAN_SESSION_TOKEN=$(field sessionToken <<<"$admin")"
    echo "PORTMAN_LOGOUT_SESSION_TOKEN=$(field sessionToken <<<"$logout")"
  } >"$work/portman.env"
  echo "== portman ($store store): omsd $BASE"
  # Portman writes ./tmp: run it in the work directory.
  (cd "$work" && timeout 300 "$ROOT/$OUT/node_modules/.bin/portman" \
    --local "$work/openapi.json" --baseUrl "$BASE" \
    --portmanConfigFile "$ROOT/$OUT/portman/portman-config.json" \
    --postmanConfigFile "$ROOT/$OUT/portman/postman-config.json" \
    --cliOptionsFile "$ROOT/$OUT/portman/cli-options.json" \
    --envFile "$work/portman.env" --output "$work/collection.json" \
    --includeTests true --runNewman false --syncPostman false) >"$work/portman-$store.log" 2>&1 ||
    { cat "$work/portman-$store.log"; return 1; }
  # newman exits 1 on any failed assertion; every request runs.
  timeout 300 "$ROOT/$OUT/node_modules/.bin/newman" run "$work/collection.json" \
    --timeout-request 20000 --ignore-redirects --reporters cli --color off --disable-unicode
}

run_stream() {
  local store=$1
  echo "== stream ($store store): omsd $BASE"
  timeout 300 node "$OUT/stream/stream.mjs" "$BASE"
}

# signin: the admin demo identity's login answer (JSON).
signin() {
  curl -sf "$BASE/api/auth/login" -H 'Content-Type: application/json' \
    -d '{"identifier":"admin@oms.example","password":"demo-admin-pass"}'
}

# field NAME: a top-level string field of the JSON on stdin.
field() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(!v)process.exit(1);process.stdout.write(v)})' "$1"
}

for store in $STORES; do
  start_omsd "$store"
  "run_$suite" "$store"
  stop_all
done
echo "== $suite: passed on stores: $STORES"
