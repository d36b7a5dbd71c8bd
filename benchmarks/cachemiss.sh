#!/usr/bin/env bash
# Cache-miss throughput and memory under load: wrk with miss.lua gives every request a new root
# alias (a new document: document cache, response cache and database all miss), next to the same
# selection answered from the cache (post.lua), in one run. Prints rps, p99 and neko's RSS.
#
#   benchmarks/cachemiss.sh                   # 10 s per case, wrk -t2 -c32
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
PORT=${MISS_PORT:-18280}
ensure_tools
build_neko
start_neko "$PORT"
pid=$NEKO_PID
token=$(admin_token "$PORT")
work=$(mktemp -d /tmp/neko-miss.XXXXXX)
_dirs+=("$work")
url="http://127.0.0.1:$PORT/graphql"
printf '| case | rps | p50 ms | p99 ms | non-2xx | RSS after (MiB) |\n|---|---|---|---|---|---|\n'
run() { # NAME SCRIPT FIELD TOKEN
	local name=$1 script=$2 field=$3 tok=$4 rps p99 non p50
	printf '{"query":"{ %s }"}' "$field" >"$work/req.json"
	WRK_BODY_FILE="$work/req.json" WRK_QUERY_FIELD="$field" WRK_TOKEN="$tok" \
		wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$BENCH_DIR/$script" "$url" >"$OUT/cachemiss-$name.txt"
	read -r rps p99 non < <(wrk_summary "$OUT/cachemiss-$name.txt")
	p50=$(wrk_ms "$(awk '$1 == "50%" {print $2}' "$OUT/cachemiss-$name.txt")")
	echo "| $name | $rps | $p50 | $p99 | $non | $(($(rss_kib "$pid") / 1024)) |"
}
dina='getDINAStatistics { total_agents verified_count pending_count by_category { category count } }'
counts='threatCounts { all predators pedophiles dina_network ransomware state_sponsored crypto_crime }'
hunts='huntConversations(limit: 20) { _id status }'
run "public getDINAStatistics HIT" post.lua "$dina" ""
run "public getDINAStatistics MISS" miss.lua "$dina" ""
run "viewer threatCounts MISS" miss.lua "$counts" "$token"
run "analyst huntConversations(limit:20) MISS" miss.lua "$hunts" "$token"
echo "peak RSS $(($(hwm_kib "$pid") / 1024)) MiB"
