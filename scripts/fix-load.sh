#!/usr/bin/env bash
# Loopback load run of omsd's FIX acceptor through the real QuickFIX C++
# engine (test/outside/fix/initiator, its `load` command). Builds omsd and
# the initiator, then for each store (memory, then a private redis-server)
# starts `omsd serve --dev` and, over the demo session DEMOCLIENT>OMSD:
#   - warm-up: `load WARMUP 0 ...`;
#   - latency: NewOrderSingle -> first ExecutionReport(new, 150=0) round
#     trip at RATE orders/s for DURATION seconds (`load RATE*DURATION RATE`),
#     once with the orders left in the book (`keep`: the issue's measure,
#     on an omsd of its own after a deposit that covers their holds), and
#     once, on a second omsd, with each order cancelled as below (twice
#     the messages);
#   - throughput: `load MAX_N 0 ...`, as fast as the session answers with at
#     most 64 orders in flight.
# Every order is a limit buy at the instrument's floor (rests, never
# trades); outside the `keep` run each is cancelled as soon as its 150=0
# arrives, so cash holds are released. On Redis the second omsd first
# measures the REST route POST /api/v1/orders/new the same way (wrk,
# REST_CONNECTIONS connections, each order cancelled through
# POST /api/v1/orders/cancel once accepted), for the comparison, before
# the FIX session's first logon.
#
# Bounded: every process runs under `timeout` and is killed on exit.
# Knobs (environment):
#   RATE=1000 DURATION=10 WARMUP=200 MAX_N=5000 STORES="memory redis"
#   REST_DURATION=10s REST_CONNECTIONS=16 REST_THREADS=2
#   KEEP=1 (keep the work directory: omsd, redis and initiator logs)
#   TMPBASE=/dev/shm (make the work directory there: the initiator's file
#     store and the logs on tmpfs)
#   ACCOUNT=099C000001 SYMBOL=SHS QTY=100 PRICE=11700 (SHS's floor: the
#     cheapest resting buy of the dev instruments, 1.17M VND held per order)
set -euo pipefail

RATE=${RATE:-1000}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-200}
MAX_N=${MAX_N:-5000}
STORES=${STORES:-memory redis}
REST_DURATION=${REST_DURATION:-10s}
REST_CONNECTIONS=${REST_CONNECTIONS:-16}
REST_THREADS=${REST_THREADS:-2}
ACCOUNT=${ACCOUNT:-099C000001}
SYMBOL=${SYMBOL:-SHS}
QTY=${QTY:-100}
PRICE=${PRICE:-11700}
GO=${GO:-go}

die() { echo "fix-load: $*" >&2; exit 1; }
# free_port, wait_http, start_redis, stop_all
source "$(dirname "$0")/lib.sh"

cd "$(dirname "$0")/.."
for tool in curl timeout make g++ wrk; do
	command -v "$tool" >/dev/null || die "$tool is required on PATH (apt-get install wrk g++ make libquickfix-dev)"
done
case " $STORES " in *" redis "*)
	for tool in redis-server redis-cli; do
		command -v "$tool" >/dev/null || die "$tool is required on PATH (or STORES=memory)"
	done
	;;
esac

work=$(mktemp -d ${TMPBASE:+-p "$TMPBASE"})
pids=()
cleanup() {
	stop_all
	if [ -n "${KEEP:-}" ]; then echo "fix-load: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fix-load: building omsd and the initiator" >&2
timeout 600 $GO build -o "$work/omsd" . || die "building omsd failed"
timeout 600 make -s -C test/outside/fix >&2 || die "building test/outside/fix/initiator failed"
initiator=$PWD/test/outside/fix/initiator
dict=$PWD/test/outside/fix/FIX42.xml
life=240 # seconds any one server or initiator may live


# start_server STORE: starts omsd --dev (and redis-server for STORE=redis)
# under timeout; sets $base and $fix_port.
start_server() {
	local store=$1 port
	port=$(free_port)
	fix_port=$(free_port)
	local flags=(serve --dev --addr "127.0.0.1:$port" --metrics-addr "" --fix-addr "127.0.0.1:$fix_port"
		--mail-outbox "$work/outbox-$store" --log-level warn --dev-market-maker=false)
	if [ "$store" = redis ]; then
		start_redis "$work"
		flags+=(--redis-url "redis://127.0.0.1:$redis_port" --dev-redis --redis-prefix "fixload:$$:")
	fi
	timeout -k 5 "$life" "$work/omsd" "${flags[@]}" </dev/null >>"$work/omsd-$store.log" 2>&1 &
	pids+=($!)
	base="http://127.0.0.1:$port"
	wait_http "$base/api/v1/util/health" || { tail -20 "$work/omsd-$store.log" >&2; die "omsd ($store) did not start"; }
}

# deposit: the demo maker files a DEPOSIT to $ACCOUNT and the demo checker
# approves it, so the `keep` run's orders (which stay in the book with
# their holds) never run out of cash.
deposit() {
	local mjwt cjwt id
	login() {
		curl -fsS -m 10 "$base/api/auth/login" -H 'Content-Type: application/json' \
			-d "{\"identifier\":\"$1@oms.example\",\"password\":\"demo-$1-pass\"}" | sed -n 's/.*"jwt":"\([^"]*\)".*/\1/p'
	}
	mjwt=$(login maker)
	cjwt=$(login checker)
	id=$(curl -fsS -m 10 "$base/api/v1/util/requests" -H "Authorization: Bearer $mjwt" -H 'Content-Type: application/json' \
		-d '{"request_type":"DEPOSIT","payload":{"account_id":"'"$ACCOUNT"'","amount":1000000000000000}}' | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
	[ -n "$id" ] || die "filing the deposit to $ACCOUNT failed"
	curl -fsS -m 10 -o /dev/null -X POST "$base/api/v1/util/requests/$id/approve" -H "Authorization: Bearer $cjwt" \
		-H 'Content-Type: application/json' -d '{}' || die "approving the deposit to $ACCOUNT failed"
}

# qf_settings STORE: the initiator's settings for the demo session.
qf_settings() {
	cat >"$work/qf-$1.cfg" <<EOF
[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath=$work/qf-store-$1
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary=$dict
ValidateUserDefinedFields=Y
SocketConnectHost=127.0.0.1
SocketConnectPort=$fix_port
HeartBtInt=30

[SESSION]
BeginString=FIX.4.2
SenderCompID=DEMOCLIENT
TargetCompID=OMSD
EOF
	echo "$work/qf-$1.cfg"
}

# qf_expect REGEX SECONDS: reads the initiator's lines (all kept in
# $qf_log) until one matches REGEX; sets $qf_line to it.
qf_expect() {
	local end=$((SECONDS + $2)) line
	while ((SECONDS < end)) && [ -n "${QF[0]:-}" ]; do
		IFS= read -r -t "$((end - SECONDS))" line <&"${QF[0]}" || break
		echo "$line" >>"$qf_log"
		if [[ $line =~ $1 ]]; then
			qf_line=$line
			return 0
		fi
	done
	return 1
}

# qf_load STORE LABEL SECONDS N RATE MODE: one `load` (MODE cancel or
# keep); prints its line and any error line, with the answered orders per
# second.
qf_load() {
	local store=$1 label=$2 bound=$3 n=$4 rate=$5 mode=$6 result rps
	echo "load $n $rate $ACCOUNT $SYMBOL 1 $QTY $PRICE $mode" >&"${QF[1]}"
	qf_expect '^load n=' "$bound" || die "$store: no result of load $n $rate within ${bound}s (see below)"
	result=$qf_line
	qf_expect '^(ok|error) load' 15 || die "$store: load $n $rate did not end"
	rps=$(awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
		END {printf "%.0f", (v["elapsed_s"] > 0 ? v["ok"] / v["elapsed_s"] : 0)}' <<<"$result")
	printf '%-6s fix  %-12s %s ok_per_s=%s\n' "$store" "$label" "$result" "$rps" >>"$work/results"
	[[ $qf_line == ok* ]] || printf '%-6s fix  %-12s %s\n' "$store" "$label" "$qf_line" >>"$work/results"
}

# qf_start STORE TAG / qf_stop STORE: the initiator, logged on / logged
# out; TAG names its settings and file store (one per omsd started).
qf_start() {
	local store=$1
	qf_log=$work/qf-$store.log
	coproc QF { exec timeout -k 5 "$life" "$initiator" "$(qf_settings "$2")" 2>&1; }
	pids+=("$QF_PID")
	qf_expect '^ready' 10 || die "$store: the initiator did not start: $(cat "$qf_log")"
	echo start >&"${QF[1]}"
	qf_expect '^logon' 15 || die "$store: no logon: $(tail -5 "$qf_log")"
}

qf_stop() {
	local store=$1
	echo quit >&"${QF[1]}"
	qf_expect '^logout' 10 || true
	grep -E '^out .*\|35=(3|j)\|' "$qf_log" | head -3 | sed "s/^/$store  QuickFIX rejected: /" >>"$work/results" || true
}

# rest.lua: each wrk connection posts a resting buy (unique ref_order_id)
# and, once it is accepted, its cancel; done() sums every thread.
cat >"$work/rest.lua" <<EOF
local threads, count = {}, 0
function setup(thread)
	count = count + 1
	thread:set("tid", count)
	table.insert(threads, thread)
end
news, cancels, failed, firsterr = 0, 0, 0, ""
local prefix, n, queue, head, tail = "", 0, {}, 1, 0
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("JWT") }
local order = '{"ref_order_id":"%s","account_id":"$ACCOUNT","symbol":"$SYMBOL","side":"B","qty":$QTY,"order_type":"LO","price":"$PRICE"}'
function init(args) prefix = args[1] .. "-" .. tid .. "-" end
function request()
	if head <= tail then
		local id = queue[head]
		queue[head], head = nil, head + 1
		return wrk.format("POST", "/api/v1/orders/cancel", headers, '{"order_id":"' .. id .. '"}')
	end
	n = n + 1
	return wrk.format("POST", "/api/v1/orders/new", headers, string.format(order, prefix .. n))
end
function response(status, hdrs, body)
	if status ~= 200 then
		failed = failed + 1
		if firsterr == "" then firsterr = status .. " " .. body:sub(1, 200) end
	elseif body:find('"msg_type":"D"', 1, true) then
		news = news + 1
		tail = tail + 1
		queue[tail] = body:match('"request_id":"([^"]+)"')
	else
		cancels = cancels + 1
	end
end
function done(summary, latency, requests)
	local nw, cx, fl, err = 0, 0, 0, ""
	for _, t in ipairs(threads) do
		nw, cx, fl = nw + t:get("news"), cx + t:get("cancels"), fl + t:get("failed")
		if err == "" then err = t:get("firsterr") end
	end
	local s = summary.duration / 1e6
	io.write(string.format("orders=%d cancels=%d failed=%d orders_per_s=%.0f requests_per_s=%.0f p50_us=%d p99_us=%d max_us=%d elapsed_s=%.3f\n",
		nw, cx, fl, nw / s, summary.requests / s, latency:percentile(50), latency:percentile(99), latency.max, s))
	if err ~= "" then io.write("error " .. err .. "\n") end
end
EOF

# run_rest STORE: a warm-up and the measured wrk run, as the demo trader.
run_rest() {
	local store=$1 out
	JWT=$(curl -fsS -m 10 "$base/api/auth/login" -H 'Content-Type: application/json' \
		-d '{"identifier":"trader@oms.example","password":"demo-trader-pass"}' | sed -n 's/.*"jwt":"\([^"]*\)".*/\1/p')
	[ -n "$JWT" ] || die "$store: login as trader@oms.example failed"
	export JWT
	local wrk=(wrk -t"$REST_THREADS" -c"$REST_CONNECTIONS" -s "$work/rest.lua")
	timeout 60 "${wrk[@]}" -d2s "$base" -- "rw$$" >/dev/null || die "$store: wrk warm-up failed"
	out=$(timeout 120 "${wrk[@]}" -d"$REST_DURATION" "$base" -- "rm$$") || die "$store: wrk failed"
	grep -E '^(orders=|error )' <<<"$out" | sed "s/^/$(printf '%-6s rest %-10s ' "$store" "c=$REST_CONNECTIONS")/" >>"$work/results"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
start_load=$(loadavg)
: >"$work/results"
for store in $STORES; do
	echo "fix-load: $store" >&2
	# The issue's measure on an omsd of its own: its orders stay in the
	# book, which would weigh on the runs after it.
	start_server "$store"
	deposit
	qf_start "$store" "$store-keep"
	qf_load "$store" warm-up 60 "$WARMUP" 0 cancel
	qf_load "$store" "rate=$RATE" $((DURATION + 60)) $((RATE * DURATION)) "$RATE" keep
	qf_stop "$store"
	stop_all
	start_server "$store"
	# REST first, before the FIX session's first logon of the day: its
	# orders' reports are not queued for the session (and the initiator,
	# whose output is read only while it runs a load, is not flooded).
	[ "$store" != redis ] || run_rest "$store"
	qf_start "$store" "$store"
	qf_load "$store" warm-up 60 "$WARMUP" 0 cancel
	qf_load "$store" "rate=$RATE+cx" $((DURATION + 60)) $((RATE * DURATION)) "$RATE" cancel
	qf_load "$store" max 120 "$MAX_N" 0 cancel
	qf_stop "$store"
	stop_all
	grep -E '"level":"(WARN|ERROR)"' "$work/omsd-$store.log" | grep -v -e 'dev mode' -e 'embedded memory store' -e 'SMTP is not configured' |
		head -5 | sed "s/^/$store  omsd log: /" >>"$work/results" || true
done

printf '\nfix-load: RATE=%s DURATION=%s WARMUP=%s MAX_N=%s STORES="%s" REST_CONNECTIONS=%s REST_THREADS=%s REST_DURATION=%s\n' \
	"$RATE" "$DURATION" "$WARMUP" "$MAX_N" "$STORES" "$REST_CONNECTIONS" "$REST_THREADS" "$REST_DURATION"
printf 'loopback, %s CPUs (shared by omsd, the initiator or wrk, and redis-server), load average %s at the start, %s at the end\n' \
	"$(nproc)" "$start_load" "$(loadavg)"
printf 'orders: LO buy %s %s at %s (resting) on %s; rate=%s: they stay in the book; rate=%s+cx, max and rest: each is cancelled once accepted\n' \
	"$QTY" "$SYMBOL" "$PRICE" "$ACCOUNT" "$RATE" "$RATE"
cat "$work/results"
cat <<'EOF'
  fix rows: the initiator's `load` line. p*_us: NewOrderSingle sent -> its first ExecutionReport 150=0 (steady
    clock, from the actual send); sent_per_s: achieved send rate; ok_per_s: ok / elapsed_s (first send -> last
    150=0), with RATE 0 the session's throughput at <= 64 orders in flight (cancels included in omsd's work).
    rate=RATE is the issue's measure (NewOrderSingles only); rate=RATE+cx sends each order's cancel too (twice
    the messages each way).
  rest row: wrk closed loop, each connection alternates POST /orders/new and POST /orders/cancel of that order;
    orders_per_s counts accepted new orders; percentiles are over both requests.
EOF
