# Shared helpers of the benchmark scripts (sourced, not run).
# Builds the neko binary and starts it with the embedded database in a temp dir, with rate
# limits high enough that a load generator on one address is never limited, and threat-score
# thresholds out of reach: the scorer still scores every request (its cost is measured) but a
# load generator hammering from one address, which the detector rightly flags, is not blocked.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export GOFLAGS=-mod=mod
BIN="$BENCH_DIR/.bin"
export PATH="$BIN:$PATH"
OUT="${BENCH_OUT:-$BENCH_DIR/out}"
mkdir -p "$OUT"

ADMIN_PW=${ADMIN_PW:-bench-admin-password}
_pids=()
_dirs=()
cleanup() {
	local p
	for p in "${_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for p in "${_dirs[@]}"; do rm -rf "$p"; done
}
trap cleanup EXIT INT TERM

ensure_tools() {
	"$BENCH_DIR/tools.sh" >/dev/null
}

# build_neko: builds ./cmd/neko into $BIN/neko unless NEKO_BIN names a binary already built.
build_neko() {
	if [ -n "${NEKO_BIN:-}" ]; then
		cp "$NEKO_BIN" "$BIN/neko" 2>/dev/null || true
		return
	fi
	(cd "$ROOT" && go build -trimpath -o "$BIN/neko" ./cmd/neko)
}

# start_neko PORT: runs neko on PORT (embedded database, fresh temp dir); sets NEKO_PID.
start_neko() {
	local port=$1 dir
	dir=$(mktemp -d /tmp/neko-bench.XXXXXX)
	_dirs+=("$dir")
	PORT=$port NEKO_DATA_DIR="$dir" NEKO_LOG_LEVEL=error \
		NEKO_RATE_ANONYMOUS=1000000/1000000 NEKO_RATE_USER=1000000/1000000 NEKO_RATE_ADMIN=1000000/1000000 \
		NEKO_THREAT_BLOCK_SCORE=${NEKO_THREAT_BLOCK_SCORE:-1000000} NEKO_THREAT_CHALLENGE_SCORE=${NEKO_THREAT_CHALLENGE_SCORE:-999999} \
		NEKO_WARM=${NEKO_WARM:-true} \
		JWT_SECRET=benchmark-secret-0123456789abcdef0123456789abcdef ADMIN_PASSWORD="$ADMIN_PW" \
		"$BIN/neko" serve >"$dir/neko.log" 2>&1 &
	NEKO_PID=$!
	_pids+=("$NEKO_PID")
	local i
	for i in $(seq 120); do
		if curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then return 0; fi
		kill -0 "$NEKO_PID" 2>/dev/null || { cat "$dir/neko.log" >&2; return 1; }
		sleep 0.5
	done
	echo "neko did not become ready on :$port" >&2
	return 1
}

# admin_token PORT: logs in as the admin and prints the access token.
admin_token() {
	curl -sf -X POST "http://127.0.0.1:$1/graphql" -H 'Content-Type: application/json' \
		-d "{\"query\":\"mutation { login(input:{username:\\\"wakibaka\\\", password:\\\"$ADMIN_PW\\\"}) { access_token } }\"}" |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# rss_kib PID: resident set size of PID in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# hwm_kib PID: peak resident set size of PID in KiB.
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# wrk_ms "1.23ms": converts a wrk latency to milliseconds.
wrk_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

# wrk_summary FILE: prints "RPS P99_MS NON2XX" from a `wrk --latency` output.
wrk_summary() {
	local rps p99 non
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$1")
	p99=$(wrk_ms "$(awk '$1 == "99%" {print $2}' "$1")")
	non=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$1")
	echo "$rps $p99 ${non:-0}"
}
