#!/usr/bin/env bash
# Load profiles reproducing the shapes of the original's stress tests (reference §6: artillery
# dashboard-flow / tv-monitor-flow, k6 spike / stress / soak), driven by vegeta against a neko
# started here (embedded database, fresh temp dir, rate limits and threat blocking out of reach).
# vegeta is open-model (a fixed arrival rate, like artillery's arrivalRate), so each phase of a
# profile is a rate and a duration; the request mix comes from a targets file.
#
#   benchmarks/profiles/run.sh PROFILE...     # dashboard-flow tv-monitor-flow spike stress soak | all
#   SHORT=1 benchmarks/profiles/run.sh all    # what `make load` runs (each profile 10-20 s)
#
# Each profile prints req/s, p50/p95/p99, error rate and PASS/FAIL against the original's
# thresholds; the script exits 1 if any profile fails.
source "$(dirname "$0")/../lib.sh"
SHORT=${SHORT:-0}
PORT=${LOAD_PORT:-18180}
BASE="http://127.0.0.1:$PORT"
ensure_tools
build_neko
start_neko "$PORT"
pid=$NEKO_PID
work=$(mktemp -d /tmp/neko-load.XXXXXX)
_dirs+=("$work")

# GraphQL bodies of the dashboard (public, cacheable)
printf '%s' '{"query":"{ getDINAStatistics { total_agents verified_count pending_count by_category { category count } } }"}' >"$work/dina.json"
printf '%s' '{"query":"{ getDINAStatistics { total_agents by_category { category count } } }"}' >"$work/dinastats.json"

get() { printf 'GET %s%s\n\n' "$BASE" "$1"; }
gql() { printf 'POST %s/graphql\nContent-Type: application/json\n@%s\n\n' "$BASE" "$1"; }

# targets: one request per line group; vegeta walks them round-robin, so the line counts are
# the mix of the original's scenarios (weights in the comments).
{ # dashboard-flow: 70 % overview (health, stats, threat-counts, stats x2), 20 % investigation
	# (threat-actors, mongodb-stats), 10 % health check (health, stats) + the GraphQL dashboard
	for i in 1 2 3 4 5 6 7; do get /api/health; get /api/stats; get /api/threat-counts; get /api/stats; get /api/stats; done
	for i in 1 2; do get /api/threat-actors; get /api/mongodb-stats; done
	get /api/health; get /api/stats
	for i in 1 2 3 4 5; do gql "$work/dina.json"; gql "$work/dinastats.json"; done
} >"$work/dashboard-flow.targets"
{ # tv-monitor-flow: one monitor's cycle
	get /api/ascii-art; get /api/stats; get /api/mongodb-stats; get /api/threat-counts; get /api/health
	get /api/ascii-art; get /api/stats; get /api/ascii-art; get /api/stats
} >"$work/tv-monitor-flow.targets"
{ # k6 spike/stress: health, stats, threat-counts; threat-actors with p=0.2-0.3
	for i in 1 2 3; do get /api/health; get /api/stats; get /api/threat-counts; done
	get /api/threat-actors
} >"$work/mixed.targets"
{ # soak: health, stats, threat-counts, 20 % threat-actors, 10 % mongodb-stats
	for i in 1 2 3 4 5 6 7 8 9 10; do get /api/health; get /api/stats; get /api/threat-counts; done
	get /api/threat-actors; get /api/threat-actors; get /api/mongodb-stats
} >"$work/soak.targets"

# attack NAME TARGETS RATE DURATION: one phase; results appended to $work/NAME.*.bin
attack() {
	local name=$1 targets=$2 rate=$3 dur=$4 n
	n=$(ls "$work" | grep -c "^$name\..*\.bin$" || true)
	vegeta attack -targets "$targets" -rate "$rate" -duration "$dur" -timeout 10s -max-workers 2000 \
		>"$work/$name.$n.bin"
}

# verdict NAME MAXERR P95MS P99MS: summarises the phases of NAME and grades them.
verdict() {
	local name=$1 maxerr=$2 p95max=$3 p99max=$4
	vegeta report -type=json "$work/$name".*.bin >"$OUT/load-$name.json"
	python3 - "$OUT/load-$name.json" "$name" "$maxerr" "$p95max" "$p99max" "$(rss_kib "$pid")" "$(hwm_kib "$pid")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, maxerr, p95max, p99max, rss, hwm = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
lat = r["latencies"]
ms = lambda k: lat[k] / 1e6
err = 1 - r["success"]
ok = err < maxerr and ms("95th") < p95max and ms("99th") < p99max
codes = ",".join(f"{k}:{v}" for k, v in sorted(r["status_codes"].items()))
print(f"{name:16s} reqs={r['requests']:<7d} rate={r['rate']:.1f}/s thru={r['throughput']:.1f}/s "
      f"p50={ms('50th'):.2f}ms p95={ms('95th'):.2f}ms p99={ms('99th'):.2f}ms max={ms('max'):.1f}ms "
      f"err={err*100:.2f}% codes={codes} rss={int(rss)//1024}MiB peak={int(hwm)//1024}MiB "
      f"[thresholds err<{maxerr*100:g}% p95<{p95max:g}ms p99<{p99max:g}ms] {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}

# s LONG SHORT: picks a phase duration
s() { if [ "$SHORT" = 1 ]; then echo "$2"; else echo "$1"; fi; }

profile() {
	case $1 in
	dashboard-flow) # artillery: 30 s @2/s, ramp 2->10/s, 120 s @10/s, ramp 10->2 (each arrival ~6 requests)
		attack "$1" "$work/dashboard-flow.targets" 12/s "$(s 15s 3s)"
		attack "$1" "$work/dashboard-flow.targets" 36/s "$(s 30s 3s)"
		attack "$1" "$work/dashboard-flow.targets" 60/s "$(s 60s 8s)"
		attack "$1" "$work/dashboard-flow.targets" 30/s "$(s 15s 3s)"
		verdict "$1" 0.05 1000 2000 ;;
	tv-monitor-flow) # artillery: 180 s @1 arrival/s, 9 requests per ~105 s visit (~9 req/s steady);
		# compressed 5x: 45 req/s, i.e. about 25 TV monitors polling at 5x the original cadence
		attack "$1" "$work/tv-monitor-flow.targets" 45/s "$(s 60s 15s)"
		verdict "$1" 0.01 500 1000 ;;
	spike) # k6: 10 -> 200 -> 10 -> 300 -> 10 VUs; artillery 5 -> 50 -> 5 -> 75 -> 5 arrivals/s
		attack "$1" "$work/mixed.targets" 20/s "$(s 30s 3s)"
		attack "$1" "$work/mixed.targets" 400/s "$(s 30s 4s)"
		attack "$1" "$work/mixed.targets" 20/s "$(s 30s 3s)"
		attack "$1" "$work/mixed.targets" 600/s "$(s 30s 4s)"
		attack "$1" "$work/mixed.targets" 20/s "$(s 30s 3s)"
		verdict "$1" 0.20 2000 5000 ;;
	stress) # k6: 50 -> 100 -> 200 -> 300 -> 400 -> 500 VUs (sleep ~1-2 s each): steps of rate
		local r
		for r in 100 250 500 1000 1500; do
			attack "$1" "$work/mixed.targets" "$r/s" "$(s 20s 3s)"
			vegeta report -type=json "$(ls -t "$work/$1".*.bin | head -1)" | python3 -c 'if 1:
				import json, sys
				r = json.load(sys.stdin); l = r["latencies"]
				print("  step rate=%.0f/s thru=%.0f/s p95=%.2fms p99=%.2fms err=%.2f%%" % (r["rate"], r["throughput"], l["95th"] / 1e6, l["99th"] / 1e6, (1 - r["success"]) * 100))'
		done
		verdict "$1" 0.20 5000 10000 ;;
	soak) # k6 1 h @20 VUs / artillery 1 h @5 arrivals/s, shortened: 150 s (make load: 20 s) at 100 req/s
		local before after
		before=$(rss_kib "$pid")
		attack "$1" "$work/soak.targets" 100/s "$(s 150s 20s)"
		after=$(rss_kib "$pid")
		echo "  soak RSS before=$((before / 1024))MiB after=$((after / 1024))MiB"
		verdict "$1" 0.02 1000 2000 ;;
	*) echo "unknown profile $1" >&2; return 2 ;;
	esac
}

profiles=("$@")
[ ${#profiles[@]} = 0 ] || [ "${profiles[0]}" = all ] && profiles=(dashboard-flow tv-monitor-flow spike stress soak)
status=0
echo "# neko load profiles (SHORT=$SHORT) against $BASE, pid $pid, RSS at start $(($(rss_kib "$pid") / 1024)) MiB"
for p in "${profiles[@]}"; do
	profile "$p" || status=1
done
exit $status
