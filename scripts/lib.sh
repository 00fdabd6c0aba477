# Helpers the loopback load scripts share (load.sh, stream-load.sh,
# fix-load.sh). Source it after defining die; stop_all stops the PIDs in
# the caller's pids array.

# free_port prints a loopback TCP port nobody is listening on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_http URL waits up to 30 s for URL to answer 2xx.
wait_http() {
	for _ in $(seq 300); do
		curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_redis DIR starts a private redis-server (no persistence, its log in
# DIR) on a free loopback port, bounded by $life seconds (900 unless the
# caller set it), and waits for it: sets $redis_port and adds its pid to
# the caller's pids. It runs in a session of its own (setsid), as a
# service manager runs Redis: with the kernel's autogroup scheduling a
# session shares the CPU with other sessions first, and in the script's
# session Redis's one thread competed with every thread of omsd and of
# the load generator (docs/benchmarks.md, fourteenth session).
start_redis() {
	redis_port=$(free_port)
	setsid timeout -k 5 "${life:-900}" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
		--dir "$1" --logfile "$1/redis.log" </dev/null &
	pids+=($!)
	for _ in $(seq 50); do
		timeout 2 redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
}

# stop_all stops what was started (the caller's pids), last first (omsd
# before its Redis).
stop_all() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	pids=()
}
