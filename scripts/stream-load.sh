#!/usr/bin/env bash
# Loopback load run of omsd's Streaming API (make stream-load). Builds
# bin/omsd and bin/streamload (test/streamload), starts omsd --dev on a
# free loopback port with the memory store, then with a private
# redis-server on another free loopback port, and for each store has
# streamload (centrifuge-go clients, the REST API) measure:
#   - delivery latency: scheduled send of an order → its first execution
#     report at a subscriber, open loop at RATE orders/s (no coordinated
#     omission: a late send counts from when it was due);
#   - closed-loop order throughput, CONCURRENCY posters;
#   - omsd's RSS before and after connecting SUBSCRIBERS idle WebSocket
#     subscribers (KiB per connection);
#   - throughput and latency again with them attached, then throughput
#     once more after closing them (the ratio divides by the mean of the
#     runs before and after them, so the store's growth over the runs is
#     not counted as their cost).
#
# Bounded: every step runs under `timeout` (streamload -budget gives the
# bound of one store); every process it starts is killed on exit. Knobs
# (environment):
#   DURATION=10s  RATE=1000  SUBSCRIBERS=1000  CONCURRENCY=8  STORES="memory redis"
#   BOOKS=1 (lanes the crossing pairs use, round robin, 1..5, each its own
#     instrument and buyer and seller accounts: one lane serialises every
#     order; several are a market with many instruments and investors)
#   IDLE_CHANNELS=quiet (a quiet account's channels: connections that cost
#     what a terminal costs; the default, the issue's "subscribers attached")
#     or orders (the load's two order channels: every report fans out to
#     each subscriber, a broadcast this 2-core box cannot carry at 1000/s)
#   IDLE_SESSIONS=shared (one login for all the idle subscribers) or own (a
#     login each, as terminals have: omsd re-checks every distinct session
#     each revocation round, 500 ms)
#   TRACE_DIR= (a directory: a latency run's first report over 25 ms has
#     streamload and omsd write the last seconds of their Go runtime
#     traces there, for `go tool trace`; docs/benchmarks.md)
set -euo pipefail

DURATION=${DURATION:-10s}
RATE=${RATE:-1000}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
CONCURRENCY=${CONCURRENCY:-8}
BOOKS=${BOOKS:-1}
STORES=${STORES:-memory redis}
IDLE_CHANNELS=${IDLE_CHANNELS:-quiet}
IDLE_SESSIONS=${IDLE_SESSIONS:-shared}
TRACE_DIR=${TRACE_DIR:-}
BIN=${BIN:-bin/omsd}
LOADBIN=${LOADBIN:-bin/streamload}
GO=${GO:-go}

die() { echo "stream-load: $*" >&2; exit 1; }
# free_port, wait_http, start_redis, stop_all
source "$(dirname "$0")/lib.sh"

invocation="DURATION=$DURATION RATE=$RATE SUBSCRIBERS=$SUBSCRIBERS CONCURRENCY=$CONCURRENCY BOOKS=$BOOKS STORES=\"$STORES\" IDLE_CHANNELS=$IDLE_CHANNELS IDLE_SESSIONS=$IDLE_SESSIONS $0${*:+ $*}"

for tool in curl timeout; do
	command -v "$tool" >/dev/null || die "$tool is required on PATH"
done
case " $STORES " in *" redis "*)
	for tool in redis-server redis-cli; do
		command -v "$tool" >/dev/null || die "$tool is required on PATH (or STORES=memory)"
	done
	;;
esac

echo "stream-load: building $BIN and $LOADBIN" >&2
timeout 600 $GO build -o "$BIN" . || die "building $BIN failed"
timeout 600 $GO build -o "$LOADBIN" ./test/streamload || die "building $LOADBIN failed"

# Each subscriber is a socket in omsd and one in streamload.
want=$((SUBSCRIBERS + 4096))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
	ulimit -n "$((want > 65536 ? want : 65536))" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$want" ] ||
	die "open files limit $(ulimit -n) (hard $(ulimit -Hn)) is below $want for $SUBSCRIBERS subscribers; raise it or lower SUBSCRIBERS"

loadflags=(-duration "$DURATION" -rate "$RATE" -subscribers "$SUBSCRIBERS" -concurrency "$CONCURRENCY" -books "$BOOKS" -idle-channels "$IDLE_CHANNELS" -idle-sessions "$IDLE_SESSIONS")
[ -z "$TRACE_DIR" ] || loadflags+=(-trace-dir "$TRACE_DIR")
budget=$("$LOADBIN" "${loadflags[@]}" -budget) || die "bad knobs"
# omsd and redis-server outlive one store's streamload run by a margin at most.
life=$((budget + 120))

work=$(mktemp -d)
pids=()
cleanup() {
	stop_all
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# start_server STORE: starts omsd --dev (and redis-server for STORE=redis)
# under timeout; sets $base and $omsd_pid (omsd's own PID, for its RSS).
start_server() {
	local store=$1 port tpid
	port=$(free_port)
	local flags=(serve --dev --addr "127.0.0.1:$port" --metrics-addr "" --mail-outbox "$work/outbox-$store"
		--log-level warn --dev-market-maker=false --fix-addr off)
	if [ "$store" = redis ]; then
		start_redis "$work"
		flags+=(--redis-url "redis://127.0.0.1:$redis_port" --dev-redis --redis-prefix "stream-load-$$:")
	fi
	[ -z "$TRACE_DIR" ] || flags+=(--trace-dir "$TRACE_DIR")
	timeout -k 5 "$life" "$BIN" "${flags[@]}" </dev/null >"$work/omsd-$store.log" 2>&1 &
	tpid=$!
	pids+=("$tpid")
	base="http://127.0.0.1:$port"
	wait_http "$base/api/v1/util/health" || { tail -20 "$work/omsd-$store.log" >&2; die "omsd ($store) did not start"; }
	omsd_pid=$(ps -o pid= --ppid "$tpid" | tr -d ' ')
	[ -n "$omsd_pid" ] || die "omsd ($store): no PID under timeout $tpid"
}

# omsd_warnings STORE: omsd's warnings and errors after start-up, counted,
# with the first one's err.
omsd_warnings() {
	grep -E '"level":"(WARN|ERROR)"' "$work/omsd-$1.log" |
		grep -v -e 'dev mode' -e 'embedded memory store' -e 'SMTP is not configured' |
		awk -v s="$1" '{
			match($0, /"level":"[A-Z]+","msg":"[^"]*"/)
			k = substr($0, RSTART, RLENGTH); gsub(/"level":"|"msg":"|"/, "", k); sub(/,/, " ", k)
			if (!(k in n)) { e = ""; if (match($0, /"err(or)?":"[^"]*"/)) { e = substr($0, RSTART, RLENGTH); sub(/^"err(or)?":"/, "", e); sub(/"$/, "", e) }; ex[k] = e }
			n[k]++
		} END { for (k in n) printf "%-7s   · omsd log: %d x %s%s\n", s, n[k], k, (ex[k] != "" ? " (first: " ex[k] ")" : "") }' || true
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
start_load=$(loadavg)
: >"$work/rows"
: >"$work/notes"
commands=()
failed=()
for store in $STORES; do
	start_server "$store"
	cmd=("$LOADBIN" -base "$base" -pid "$omsd_pid" -store "$store" "${loadflags[@]}")
	commands+=("$store: $(printf '%q ' "${cmd[@]}")")
	echo "stream-load: $store: omsd PID $omsd_pid at $base (bound ${budget}s)" >&2
	# In the background, so a signal to this script is handled at once.
	timeout -k 10 "$((budget + 30))" "${cmd[@]}" >"$work/out-$store" &
	tool=$!
	pids+=("$tool")
	rc=0
	wait "$tool" || rc=$?
	unset 'pids[-1]' # reaped
	grep -v -e '   · ' "$work/out-$store" >>"$work/rows" || true
	grep -e '   · ' "$work/out-$store" >>"$work/notes" || true
	[ "$rc" = 0 ] || failed+=("$store: streamload exited with $rc (124: timed out; see its messages above)")
	stop_all
	omsd_warnings "$store" >>"$work/notes"
done

printf '\nmake stream-load: %s\n' "$invocation"
printf 'loopback, %s CPUs (shared by omsd, streamload and redis-server), load average %s at the start, %s at the end\n' \
	"$(nproc)" "$start_load" "$(loadavg)"
for c in "${commands[@]}"; do printf '  %s\n' "$c"; done
printf '\n'
"$LOADBIN" -header
cat "$work/rows"
cat <<'EOF'
  latency rows: delivery latency, from each order's scheduled send (open loop, so a late send is measured from
    when it was due: no coordinated omission) to its first execution report at a centrifuge-go subscriber;
    orders/s is the achieved rate (orders answered / time to the last answer).
  throughput rows: closed loop (each poster sends when its last order is answered); percentiles are the POST
    round trip. subs: idle WebSocket subscribers attached (besides the measuring one).
  missing: orders answered without a first report, unfilled: without a FILLED report, after the drain.
EOF
printf '\n'
cat "$work/notes"
for f in "${failed[@]}"; do echo "stream-load: FAILED $f"; done
[ "${#failed[@]}" = 0 ]
