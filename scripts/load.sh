#!/usr/bin/env bash
# Loopback load run of omsd (make load). Builds the binary, starts it on a
# free loopback port with the memory store, then with a private redis-server
# on another free loopback port, and measures each route with wrk in the same
# run so every route can be given as a ratio to the health probe.
#
# Bounded: ROUNDS x routes x DURATION per store, plus start-up; every process
# it starts is killed on exit. Knobs (environment):
#   DURATION=5s  ROUNDS=3  THREADS=2  CONNECTIONS=10  STORES="memory redis"
# Each route is run ROUNDS times, interleaved with the others; the table
# shows the median round (by req/s) of each route.
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-10}
STORES=${STORES:-memory redis}
BIN=${BIN:-bin/omsd}
GO=${GO:-go}

die() { echo "load: $*" >&2; exit 1; }

for tool in curl redis-server; do
	command -v "$tool" >/dev/null || die "$tool is required on PATH"
done
if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "load: installing wrk (apt-get install wrk)" >&2
		{ apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null || die "could not install wrk"
	else
		die "wrk is required: apt-get install wrk (Debian/Ubuntu) or brew install wrk"
	fi
fi

echo "load: building $BIN" >&2
$GO build -o "$BIN" .

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port, wait_http, start_redis
source "$(dirname "$0")/lib.sh"

# A production-mode server (no --dev): own key, secret and one identity.
"$BIN" keys generate --out "$work/jwt.jwk" >/dev/null
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$work/secret"
password="load-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')-9"
cat >"$work/identities.json" <<EOF
[{"email":"load@oms.example","password":"$password","roles":["trader"],"name":"Load"},
 {"email":"load-maker@oms.example","password":"$password","roles":["maker"],"name":"Load maker"},
 {"email":"load-checker@oms.example","password":"$password","roles":["checker"],"name":"Load checker"}]
EOF

# start_server STORE: starts omsd (and redis-server for STORE=redis) and sets $base.
start_server() {
	local store=$1 port
	port=$(free_port)
	local env=(OMS_ADDR="127.0.0.1:$port" OMS_JWT_KEY_FILE="$work/jwt.jwk" OMS_SECRET_FILE="$work/secret"
		OMS_IDENTITIES_FILE="$work/identities.json" OMS_MAIL_OUTBOX="$work/outbox" OMS_LOG_FORMAT=json
		OMS_MARKET_SESSION=continuous)
	if [ "$store" = redis ]; then
		start_redis "$work"
		env+=(OMS_REDIS_URL="redis://127.0.0.1:$redis_port/0" OMS_REDIS_PREFIX="load-$$:")
	fi
	# One JSON line per request, written to a file as in production.
	env "${env[@]}" "$BIN" serve >"$work/omsd-$store.log" 2>&1 &
	pids+=($!)
	base="http://127.0.0.1:$port"
	wait_http "$base/api/v1/util/health" || { tail -20 "$work/omsd-$store.log" >&2; die "omsd ($store) did not start"; }
}

# expect_status METHOD URL STATUS [curl args...]: the route answers as the
# table says it does, so a broken setup cannot pass for a fast one.
expect_status() {
	local method=$1 url=$2 want=$3 got
	shift 3
	got=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" "$@" "$url")
	[ "$got" = "$want" ] || die "$method $url answered $got, want $want"
}

# to_ms VALUE: wrk's "812.00us" / "1.23ms" / "1.01s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n }'
}

# measure NAME SCRIPT URL: one wrk run; appends "name rps p50 p99 errors" to $work/results.
measure() {
	local name=$1 script=$2 url=$3 out rps p50 p99 non2xx errs
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "$url")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
	errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
	echo "$name $rps $p50 $p99 ${errs:-0}" >>"$work/results"
}

# wrk request scripts.
cat >"$work/get.lua" <<'EOF'
wrk.method = "GET"
EOF
cat >"$work/verify.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"code":"123456"}'
wrk.headers["Content-Type"] = "application/json"
EOF

printf '\n'
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*average[s]*: //'; }
printf 'make load: wrk -t%s -c%s -d%s, %s round(s) per route (median shown), loopback, %s CPUs, load average %s\n' \
	"$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$(nproc)" "$(loadavg)"
printf '%-7s %-36s %7s %10s %8s %8s %7s\n' store route status 'req/s' 'p50 ms' 'p99 ms' '×health'

for store in $STORES; do
	start_server "$store"
	jwt=$(curl -fsS "$base/api/auth/login" -H 'Content-Type: application/json' \
		-d "{\"identifier\":\"load@oms.example\",\"password\":\"$password\"}" |
		sed -n 's/.*"jwt":"\([^"]*\)".*/\1/p')
	[ -n "$jwt" ] || die "login failed ($store)"
	# The trading account, through the maker-checker workflow as in
	# production: create it, deposit, grant the load identity TRADE.
	login_as() {
		curl -fsS "$base/api/auth/login" -H 'Content-Type: application/json' \
			-d "{\"identifier\":\"$1@oms.example\",\"password\":\"$password\"}" | sed -n 's/.*"jwt":"\([^"]*\)".*/\1/p'
	}
	mjwt=$(login_as load-maker)
	cjwt=$(login_as load-checker)
	for ref in '{"kind":"comp_id","value":"LOAD"}' '{"kind":"sender_sub_id","value":"00999"}'; do
		curl -fsS -o /dev/null "$base/api/v1/util/reference" -H "Authorization: Bearer $mjwt" -H 'Content-Type: application/json' -d "$ref" ||
			die "adding reference value $ref failed ($store)"
	done
	# Eight accounts over seven instruments (two share VNM at different
	# prices): orders of different instruments run in parallel (one writer
	# per book), and no two lanes contend for one account.
	lanes=("LOAD000001 FPT 95000" "LOAD000002 VNM 60000" "LOAD000003 HPG 26000" "LOAD000004 SHS 12500"
		"LOAD000005 PVS 33000" "LOAD000006 ACV 85000" "LOAD000007 MCH 110000" "LOAD000008 VNM 59000")
	for lane in "${lanes[@]}"; do
		read -r acct _ _ <<<"$lane"
		for req in '{"request_type":"CREATE_ACCOUNT","payload":{"account_code":"'$acct'","name":"Load","internal_client_code":"'$acct'","client_code":"'$acct'","comp_id":"LOAD","account_type":1,"invest_code":"8000","forn_invest_type_code":"00","is_mm_account":false,"sender_sub_id":"00999","email":"load@oms.example","phone":"+84900000000"}}' \
			'{"request_type":"DEPOSIT","payload":{"account_id":"'$acct'","amount":1000000000000000}}' \
			'{"request_type":"GRANT_PERMISSION","payload":{"user_id":"load@oms.example","account_code":"'$acct'","level":"TRADE"}}'; do
			id=$(curl -fsS "$base/api/v1/util/requests" -H "Authorization: Bearer $mjwt" -H 'Content-Type: application/json' -d "$req" |
				sed -n 's/.*"id":\([0-9]*\).*/\1/p')
			curl -fsS -o /dev/null -X POST "$base/api/v1/util/requests/$id/approve" -H "Authorization: Bearer $cjwt" \
				-H 'Content-Type: application/json' -d '{}' || die "approving $req failed ($store)"
		done
	done
	# Buys that rest in the book (nothing to match): the full path of entry
	# (bearer, validation, risk with a cash hold, the store, the venue),
	# with a ClOrdID generated per order, round-robin over the lanes.
	bodies=()
	for lane in "${lanes[@]}"; do
		read -r acct sym px <<<"$lane"
		bodies+=("'{\"account_id\":\"$acct\",\"symbol\":\"$sym\",\"side\":\"B\",\"qty\":100,\"order_type\":\"LO\",\"price\":\"$px\"}'")
	done
	order=$(eval echo "${bodies[0]}")
	cat >"$work/orders.lua" <<EOF
local bodies = { $(IFS=,; echo "${bodies[*]}") }
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer $jwt" }
local n = 0
request = function()
	n = n + 1
	return wrk.format("POST", nil, headers, bodies[(n % #bodies) + 1])
end
EOF
	cat >"$work/bearer.lua" <<EOF
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $jwt"
EOF
	# name|method|path|status|script
	routes=(
		"health|GET|/api/v1/util/health|200|get.lua"
		"bearer|GET|/api/v1/oms/risk/rules|200|bearer.lua"
		"verify|POST|/api/auth/recovery/verify|401|verify.lua"
		"orders|POST|/api/v1/orders/new|200|orders.lua"
	)
	for r in "${routes[@]}"; do
		IFS='|' read -r name method path status script <<<"$r"
		case $script in
		bearer.lua) expect_status "$method" "$base$path" "$status" -H "Authorization: Bearer $jwt" ;;
		orders.lua) expect_status "$method" "$base$path" "$status" -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d "$order" ;;
		verify.lua) expect_status "$method" "$base$path" "$status" -H 'Content-Type: application/json' -d '{"code":"123456"}' ;;
		*) expect_status "$method" "$base$path" "$status" ;;
		esac
	done
	# Warm up (connections, caches, the heap) before anything is recorded.
	DURATION=2s measure warmup "$work/bearer.lua" "$base/api/v1/oms/risk/rules"
	: >"$work/results"
	for _ in $(seq "$ROUNDS"); do
		for r in "${routes[@]}"; do
			IFS='|' read -r name method path status script <<<"$r"
			measure "$name" "$work/$script" "$base$path"
		done
	done
	health_rps=$(awk '$1 == "health" {print $2}' "$work/results" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	for r in "${routes[@]}"; do
		IFS='|' read -r name method path status script <<<"$r"
		# The median round by req/s, with its own latencies.
		read -r rps p50 p99 errs < <(awk -v n="$name" '$1 == n {print $2, $3, $4, $5}' "$work/results" |
			sort -g | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}')
		ratio=$(awk -v a="$rps" -v b="$health_rps" 'BEGIN {printf "%.2f", a / b}')
		printf '%-7s %-36s %7s %10.0f %8s %8s %7s%s\n' "$store" "$method $path" "$status" "$rps" "$p50" "$p99" "$ratio" \
			"$([ "${errs:-0}" != 0 ] && echo "  ($errs socket errors)")"
	done
	# Stop this store's processes before the next store starts.
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
done
printf 'load average at the end: %s (other work on the machine shows here; ratios to health are the comparable figures)\n' "$(loadavg)"
