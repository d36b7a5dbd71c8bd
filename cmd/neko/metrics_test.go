package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/security"
)

// The metrics named in DESIGN.md are an external contract: dashboards and alerts read them. These
// tests scrape /metrics of the end-to-end server before and after the event each metric counts.

// metricSample is one line of the Prometheus text exposition.
type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricsText is a parsed scrape.
type metricsText []metricSample

// scrapeMetrics GETs base/metrics and parses the samples.
func scrapeMetrics(t *testing.T, base string) metricsText {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	var out metricsText
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// parseSample parses `name{k="v",...} value [timestamp]`.
func parseSample(line string) (metricSample, error) {
	s := metricSample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name, line = line[:end], line[end:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ", ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad label")
			}
			key := line[:eq]
			line = line[eq+2:]
			var val strings.Builder
			for {
				if line == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				ch := line[0]
				line = line[1:]
				if ch == '"' {
					break
				}
				if ch == '\\' && line != "" {
					ch, line = line[0], line[1:]
					if ch == 'n' {
						ch = '\n'
					}
				}
				val.WriteByte(ch)
			}
			s.labels[key] = val.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.value = v
	return s, nil
}

// sum adds the samples named name whose labels include every pair of want (nil: all samples).
func (m metricsText) sum(name string, want map[string]string) float64 {
	total := 0.0
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// has reports whether any sample of the metric family name is exposed (histograms expose
// name_bucket, name_sum and name_count).
func (m metricsText) has(name string) bool {
	for _, s := range m {
		if s.name == name || strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.name, "_bucket"), "_count"), "_sum") == name {
			return true
		}
	}
	return false
}

func TestMetricsMoveWithTheirEvents(t *testing.T) {
	viewer := tokens[security.RoleViewer]
	unique := strconv.FormatInt(time.Now().UnixNano(), 36)

	type check struct {
		name   string
		metric string
		labels map[string]string
		event  func(t *testing.T)
	}
	checks := []check{
		{"request counted by route and status", "neko_http_requests_total", map[string]string{"route": "/health", "status": "200"},
			func(t *testing.T) { get(t, "/health") }},
		{"request latency observed by route", "neko_http_request_duration_seconds_count", map[string]string{"route": "/health"},
			func(t *testing.T) { get(t, "/health") }},
		{"uncached read reaches the store", "neko_store_operations_total", map[string]string{"collection": "dina_army_list_agents"},
			func(t *testing.T) {
				res := query(t, viewer, `query($id: String!) { getDINAAgent(agent_id: $id) { agent_id } }`, map[string]any{"id": "metrics-store-" + unique})
				if res.Header.Get("X-Cache") != "MISS" {
					t.Fatalf("first read: X-Cache %q, want MISS", res.Header.Get("X-Cache"))
				}
			}},
		// A repeat is answered by the exact-request memo (tier "memo") or by L1.
		{"repeated query hits the in-process cache", "neko_cache_lookups_total", map[string]string{"result": "hit"},
			func(t *testing.T) {
				vars := map[string]any{"id": "metrics-cache-" + unique}
				q := `query($id: String!) { getDINAAgent(agent_id: $id) { agent_id full_name } }`
				query(t, viewer, q, vars)
				if res := query(t, viewer, q, vars); res.Header.Get("X-Cache") != "HIT" {
					t.Fatalf("second read: X-Cache %q, want HIT", res.Header.Get("X-Cache"))
				}
			}},
		{"identical concurrent cold queries share one execution", "neko_singleflight_shared_total", nil,
			func(t *testing.T) {
				// A search scans the collection, so 20 callers released together overlap in the
				// flight; a unique term makes them miss the cache together.
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range 20 {
					wg.Go(func() {
						<-start
						res := query(t, viewer, `query Shared($q: String!) { searchDINAAgents(query: $q) { agent_id } }`, map[string]any{"q": "shared-" + unique})
						if res.Status != http.StatusOK || len(res.Errors) > 0 {
							t.Errorf("search: %d %s", res.Status, res.RawBody)
						}
					})
				}
				close(start)
				wg.Wait()
			}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			before := scrapeMetrics(t, baseURL).sum(c.metric, c.labels)
			c.event(t)
			after := scrapeMetrics(t, baseURL).sum(c.metric, c.labels)
			if after <= before {
				t.Fatalf("%s%v did not move: %v -> %v", c.metric, c.labels, before, after)
			}
		})
	}
}

func TestMetricsExposeTheContract(t *testing.T) {
	get(t, "/health") // at least one observation for the request vectors
	m := scrapeMetrics(t, baseURL)
	// Plain counters are exposed from the start, at 0; the request vectors have the request above.
	// neko_ratelimit_rejected_total moves in TestCluster's shared rate limit (tiny limits there).
	for _, name := range []string{
		"neko_http_requests_total", "neko_http_request_duration_seconds", "neko_singleflight_shared_total",
		"neko_ratelimit_rejected_total", "neko_threat_blocked_total",
	} {
		if !m.has(name) {
			t.Errorf("/metrics does not expose %s", name)
		}
	}
	// neko_breaker_state is set for each dependency when its breaker is built, and every database
	// pool's neko_bulkhead_rejected_total starts at 0, so both are exposed from the start.
	if !m.has("neko_breaker_state") {
		t.Errorf("/metrics does not expose neko_breaker_state")
	}
	for _, pool := range []string{"mongodb.point_read", "mongodb.list_read", "mongodb.aggregate", "mongodb.write"} {
		if !strings.Contains(string(get(t, "/metrics").RawBody), `neko_bulkhead_rejected_total{pool="`+pool+`"}`) {
			t.Errorf("/metrics does not expose neko_bulkhead_rejected_total{pool=%q}", pool)
		}
	}
	// Other vectors print only once a label set has been observed: neko_cache_lookups_total and
	// neko_store_operations_total are checked by TestMetricsMoveWithTheirEvents, and the rejected
	// counts moving by TestRefusalMetricsMove, which saturates a pool of its own App.
}

// TestRefusalMetricsMove proves the two refusal counters move when their event happens: a scanner
// blocked by threat scoring, and database calls refused by a saturated worker pool.
func TestRefusalMetricsMove(t *testing.T) {
	t.Run("threat scoring blocks a scanner", func(t *testing.T) {
		before := scrapeMetrics(t, baseURL).sum("neko_threat_blocked_total", nil)
		res := get(t, "/api/stats", "User-Agent", "sqlmap/1.7#stable (https://sqlmap.org)", "Fly-Client-IP", "198.18.7.77")
		if res.Status != http.StatusForbidden {
			t.Fatalf("scanner got %d", res.Status)
		}
		if after := scrapeMetrics(t, baseURL).sum("neko_threat_blocked_total", nil); after <= before {
			t.Fatalf("neko_threat_blocked_total did not move: %v -> %v", before, after)
		}
	})
	t.Run("a saturated pool refuses", func(t *testing.T) {
		_, base := serveApp(t, map[string]string{
			"NEKO_WARM": "false", "NEKO_DB_POOL_AGGREGATE": "1", "NEKO_DB_QUEUE_TIMEOUT": "1ms",
		})
		var wg sync.WaitGroup
		statuses := make([]int, 24)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Six different statistics at once, each read once for all its concurrent callers,
				// through the one-worker aggregate pool.
				stats := []string{"getDINAStatistics { total_agents }", "threatCounts { all }", "huntStats { total_hunts }",
					"casePatternStats { total_patterns }", "honeypotSummary { total_triggers }", "dinaStats { total_documents }"}
				q := fmt.Sprintf(`{ s%d: %s }`, i, stats[i%len(stats)])
				statuses[i] = gqlAt(t, base, tokens[security.RoleAdmin], q, nil).Status
			}()
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusOK && s != http.StatusServiceUnavailable {
				t.Fatalf("request %d: status %d, want 200 or a fast 503", i, s)
			}
		}
		got := scrapeMetrics(t, base).sum("neko_bulkhead_rejected_total", map[string]string{"pool": "mongodb.aggregate"})
		if got == 0 {
			t.Fatalf("neko_bulkhead_rejected_total{pool=mongodb.aggregate} did not move (statuses %v)", statuses)
		}
	})
}
