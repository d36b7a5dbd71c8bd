#!/usr/bin/env bash
# Hit-path capacity check (issue 4): the full neko stack answering a cached GraphQL query
# (X-Cache: HIT) against two bare Fiber apps: "bare" returns the same body with the same
# Content-Type and nothing else; "bare+hdr" returns the same response bytes, i.e. also the ~20
# headers neko sends (security headers, RateLimit-*, X-Request-Id, caching headers), set with
# c.Set as any Fiber handler would. All are driven by the same wrk command, alternating
# neko, bare, bare+hdr, neko, ... so drift on a shared machine cancels; the ratios are what
# counts. Target: full-stack rps >= 85 % of the baseline, p99 <= 2x.
#
#   benchmarks/hitpath.sh                    # 2 rounds x 10 s per server and case
#   ROUNDS=3 DURATION=15s CONNS=64 THREADS=2 benchmarks/hitpath.sh
#
# Cases: "public" (getDINAStatistics, public cache scope) and "viewer" (threatCounts with a
# bearer token: authenticated, per-user cache scope). Exits 1 if a target is missed.
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
NEKO_PORT=${NEKO_PORT:-18080}
BARE_PORT=${BARE_PORT:-18081}
HDR_PORT=${HDR_PORT:-18082}

# The warmer's refreshes recompute dashboard statistics on the embedded database, which runs in
# the server's process here (with MongoDB that work happens on the database server): on this
# 2-core machine it would steal a third of the CPU from the hit path being measured. Warming is
# measured by the load profiles instead.
export NEKO_WARM=${NEKO_WARM:-false}

ensure_tools
build_neko
(cd "$ROOT" && go build -o "$BIN/barefiber" ./benchmarks/cmd/barefiber)
start_neko "$NEKO_PORT"
neko_pid=$NEKO_PID
token=$(admin_token "$NEKO_PORT")
[ -n "$token" ] || { echo "login failed" >&2; exit 1; }

work=$(mktemp -d /tmp/neko-hitpath.XXXXXX)
_dirs+=("$work")
printf '%s' '{"query":"{ getDINAStatistics { total_agents verified_count pending_count by_category { category count } } }"}' >"$work/public.req"
printf '%s' '{"query":"{ threatCounts { all predators pedophiles dina_network ransomware state_sponsored crypto_crime } }"}' >"$work/viewer.req"

# warm CASE TOKEN: repeats the request until X-Cache: HIT; saves the body, the Content-Type and
# the other response headers (for bare+hdr; Fiber adds Date and Content-Length itself).
warm() {
	local case=$1 tok=$2 i auth=()
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	for i in $(seq 20); do
		curl -s -D "$work/$case.hdr" -o "$work/$case.body" -X POST "http://127.0.0.1:$NEKO_PORT/graphql" \
			-H 'Content-Type: application/json' "${auth[@]}" --data-binary @"$work/$case.req"
		if grep -qi '^x-cache: HIT' "$work/$case.hdr"; then
			tr -d '\r' <"$work/$case.hdr" | awk -F': ' 'tolower($1) == "content-type" {print $2}' >"$work/$case.ctype"
			tr -d '\r' <"$work/$case.hdr" | grep ': ' | grep -viE '^(date|content-type|content-length|server):' >"$work/$case.extra"
			return 0
		fi
		sleep 0.2
	done
	echo "$case never became a cache HIT" >&2
	cat "$work/$case.hdr" "$work/$case.body" >&2
	return 1
}

status=0
declare -A sum_rps sum_p99
echo "# hit path: wrk -t$THREADS -c$CONNS -d$DURATION --latency -s post.lua, $ROUNDS alternating rounds"
printf '%-7s %-5s %-8s %10s %9s %7s\n' case round server rps p99_ms non2xx
for case in public viewer; do
	tok=""
	[ "$case" = viewer ] && tok=$token
	warm "$case" "$tok"
	"$BIN/barefiber" -addr "127.0.0.1:$BARE_PORT" -body "$work/$case.body" -content-type "$(cat "$work/$case.ctype")" &
	bare_pid=$!
	"$BIN/barefiber" -addr "127.0.0.1:$HDR_PORT" -body "$work/$case.body" -content-type "$(cat "$work/$case.ctype")" -headers "$work/$case.extra" &
	hdr_pid=$!
	_pids+=("$bare_pid" "$hdr_pid")
	for p in "$BARE_PORT" "$HDR_PORT"; do
		for i in $(seq 50); do curl -s -o /dev/null -X POST "http://127.0.0.1:$p/graphql" && break; sleep 0.1; done
		cmp -s "$work/$case.body" <(curl -s -X POST "http://127.0.0.1:$p/graphql") || { echo "bare body differs" >&2; exit 1; }
	done
	for r in $(seq "$ROUNDS"); do
		for server in neko bare bare+hdr; do
			port=$NEKO_PORT
			[ "$server" = bare ] && port=$BARE_PORT
			[ "$server" = bare+hdr ] && port=$HDR_PORT
			WRK_BODY_FILE="$work/$case.req" WRK_TOKEN="$tok" \
				wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$BENCH_DIR/post.lua" \
				"http://127.0.0.1:$port/graphql" >"$OUT/hitpath-$case-$server-$r.txt"
			read -r rps p99 non < <(wrk_summary "$OUT/hitpath-$case-$server-$r.txt")
			printf '%-7s %-5s %-8s %10s %9s %7s\n' "$case" "$r" "$server" "$rps" "$p99" "$non"
			sum_rps[$case-$server]=$(awk -v a="${sum_rps[$case-$server]:-0}" -v b="$rps" 'BEGIN {print a + b}')
			sum_p99[$case-$server]=$(awk -v a="${sum_p99[$case-$server]:-0}" -v b="$p99" 'BEGIN {print a + b}')
			[ "${non:-0}" = 0 ] || { echo "  $server answered $non non-2xx responses" >&2; status=1; }
		done
	done
	# the cache must still be answering HITs after the runs
	curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$NEKO_PORT/graphql" -H 'Content-Type: application/json' \
		${tok:+-H "Authorization: Bearer $tok"} --data-binary @"$work/$case.req" | grep -i '^x-cache' >"$work/$case.after" || true
	kill "$bare_pid" "$hdr_pid"
	wait "$bare_pid" "$hdr_pid" 2>/dev/null || true
done
echo
echo "# summary (means over rounds); neko RSS after runs: $(rss_kib "$neko_pid") KiB, peak $(hwm_kib "$neko_pid") KiB"
printf '| case | baseline | neko rps | baseline rps | rps ratio | neko p99 ms | baseline p99 ms | p99 ratio | result |\n|---|---|---|---|---|---|---|---|---|\n'
for case in public viewer; do
	for base in bare bare+hdr; do
		line=$(awk -v n="$ROUNDS" -v nr="${sum_rps[$case-neko]}" -v br="${sum_rps[$case-$base]}" \
			-v np="${sum_p99[$case-neko]}" -v bp="${sum_p99[$case-$base]}" 'BEGIN {
			nr /= n; br /= n; np /= n; bp /= n; rr = nr / br; pr = np / bp
			ok = (rr >= 0.85 && pr <= 2.0) ? "PASS" : "FAIL"
			printf "%.0f|%.0f|%.1f %%|%.2f|%.2f|%.2fx|%s", nr, br, rr * 100, np, bp, pr, ok }')
		IFS='|' read -r nr br rr np bp pr ok <<<"$line"
		echo "| $case | $base | $nr | $br | $rr | $np | $bp | $pr | $ok |"
		[ "$ok" = PASS ] || status=1
	done
done
exit $status
