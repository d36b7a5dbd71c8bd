package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/server"
)

func TestQueryCachedWithHeadersAndETag(t *testing.T) {
	// A unique alias gives this test its own cache entry.
	q := `{ cachedStats: getDINAStatistics { total_agents } }`
	first := query(t, "", q, nil)
	second := query(t, "", q, nil)
	if first.Header.Get("X-Cache") != "MISS" || second.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("X-Cache %q then %q, want MISS then HIT", first.Header.Get("X-Cache"), second.Header.Get("X-Cache"))
	}
	if string(first.RawBody) != string(second.RawBody) {
		t.Fatal("a hit must return the same bytes")
	}
	if cc := second.Header.Get("Cache-Control"); cc != "public, max-age=30" {
		t.Fatalf("Cache-Control = %q", cc)
	}
	// Shared caches must key the answer on the CORS origin as well as on the media type.
	for _, r := range []gqlResult{first, second} {
		if v := r.Header.Values("Vary"); strings.Join(v, ", ") != "Origin, Accept" {
			t.Fatalf("Vary = %q, want Origin, Accept", v)
		}
	}
	if v := query(t, tokens[security.RoleViewer], `{ varyCounts: threatCounts { all } }`, nil).Header.Get("Vary"); v != "Origin, Accept, Authorization, X-API-Key" {
		t.Fatalf("private answer: Vary = %q", v)
	}
	etag := second.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	body, _ := json.Marshal(map[string]any{"query": q})
	res := get(t, "/graphql?query="+url.QueryEscape(q), "Apollo-Require-Preflight", "true", "If-None-Match", etag)
	if res.Status != 304 || len(res.RawBody) != 0 {
		t.Fatalf("If-None-Match: %d %q", res.Status, res.RawBody)
	}
	// Another method is not performed when the precondition fails (RFC 9110 13.1.2).
	if res := post(t, "", "application/json", body, "If-None-Match", etag); res.Status != 412 {
		t.Fatalf("POST with a matching If-None-Match: %d", res.Status)
	}
	// The same bytes under the other media type are another representation, with another tag.
	strict := post(t, "", "application/json", body, "Accept", "application/graphql-response+json", "If-None-Match", etag)
	if strict.Status != 200 || strict.Header.Get("ETag") == etag || strict.Header.Get("ETag") == "" {
		t.Fatalf("graphql-response+json: %d ETag %q (application/json's is %q)", strict.Status, strict.Header.Get("ETag"), etag)
	}
	res = post(t, "", "application/json", body, "If-None-Match", `"other"`)
	if res.Status != 200 {
		t.Fatalf("non-matching If-None-Match: %d", res.Status)
	}
	// A cached answer says how old it is, so a downstream cache counts max-age from when it was
	// computed.
	if age, err := strconv.Atoi(res.Header.Get("Age")); err != nil || age < 0 || age > 30 {
		t.Fatalf("Age = %q", res.Header.Get("Age"))
	}
	// The cost extension makes another representation: it never answers 304 for the plain one.
	withCost, _ := json.Marshal(map[string]any{"query": q, "extensions": map[string]any{"cost": true}})
	res = post(t, "", "application/json", withCost, "If-None-Match", etag)
	if res.Status != 200 || !strings.Contains(string(res.RawBody), "requestedQueryCost") || res.Header.Get("ETag") == etag {
		t.Fatalf("cost extension: %d %v %s", res.Status, res.Header, res.RawBody)
	}
	// The same bytes under a media type the server refuses are refused, remembered answer or not.
	if res := post(t, "", "text/plain", body); res.Status != 415 {
		t.Fatalf("text/plain repeat of a cached request: %d %s", res.Status, res.RawBody)
	}
	// Errors are never cached.
	bad := `{ cachedBad: searchDINAAgents(query: "   ") { agent_id } }`
	for i := 0; i < 2; i++ {
		if r := query(t, "", bad, nil); r.Header.Get("X-Cache") != "MISS" || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("error response %d: X-Cache %q code %q", i, r.Header.Get("X-Cache"), r.code())
		}
	}
	// Mutations bypass the cache.
	if r := query(t, tokens[security.RoleAdmin], `mutation { deleteDINAAgent(agent_id: "none") }`, nil); r.Header.Get("X-Cache") != "BYPASS" {
		t.Fatalf("mutation X-Cache %q", r.Header.Get("X-Cache"))
	}
}

func TestScopesNeverLeak(t *testing.T) {
	// Role-gated answers are shared by callers holding the role ...
	q := `{ scoped: threatCounts { all } }`
	if r := query(t, tokens[security.RoleViewer], q, nil); r.Header.Get("X-Cache") != "MISS" || r.Header.Get("Cache-Control") != "private, max-age=30" {
		t.Fatalf("viewer: %v", r.Header)
	}
	if r := query(t, tokens[security.RoleAnalyst], q, nil); r.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("analyst should share the viewer's answer: %q", r.Header.Get("X-Cache"))
	}
	// ... but never served to a caller without it.
	if r := query(t, "", q, nil); r.code() != "UNAUTHENTICATED" || r.Header.Get("X-Cache") == "HIT" {
		t.Fatalf("anonymous got %s (X-Cache %q)", r.RawBody, r.Header.Get("X-Cache"))
	}
	// PRIVATE answers are per user.
	me := `{ scopedMe: me }`
	a := query(t, tokens[security.RoleViewer], me, nil)
	b := query(t, tokens[security.RoleAnalyst], me, nil)
	if strings.Contains(string(b.Data), "test-viewer") || !strings.Contains(string(a.Data), "test-viewer") || b.Header.Get("X-Cache") == "HIT" {
		t.Fatalf("me leaked across users: %s / %s", a.Data, b.Data)
	}
}

func TestMutationInvalidatesCachedReads(t *testing.T) {
	var created struct {
		A map[string]string `json:"createDINAAgent"`
	}
	mustData(t, tokens[security.RoleAdmin], `mutation { createDINAAgent(input: {full_name: "Invalida Cach", rank: "Major", category: OTHER}) { agent_id } }`, nil, &created)
	id := created.A["agent_id"]
	read := `query($id: String!) { invalidationProbe: getDINAAgent(agent_id: $id) { rank } }`
	vars := map[string]any{"id": id}
	query(t, "", read, vars)
	if r := query(t, "", read, vars); r.Header.Get("X-Cache") != "HIT" || !strings.Contains(string(r.Data), "Major") {
		t.Fatalf("second read: %q %s", r.Header.Get("X-Cache"), r.Data)
	}
	mustData(t, tokens[security.RoleAdmin], `mutation($id: String!) { updateDINAAgent(agent_id: $id, input: {rank: "Colonel"}) { rank } }`, vars, &struct{}{})
	r := query(t, "", read, vars)
	if r.Header.Get("X-Cache") == "HIT" || !strings.Contains(string(r.Data), "Colonel") {
		t.Fatalf("read after update: %q %s", r.Header.Get("X-Cache"), r.Data)
	}
	mustData(t, tokens[security.RoleAdmin], `mutation($id: String!) { deleteDINAAgent(agent_id: $id) }`, vars, &struct{}{})
}

func TestConcurrentColdRequestsExecuteOnce(t *testing.T) {
	// A search is one find on the army list, a round trip nothing in the background makes (the
	// warmer refreshes statistics, which are aggregations).
	q := `{ stampede: searchDINAAgents(query: "a", limit: 5) { agent_id } }`
	body, _ := json.Marshal(map[string]any{"query": q})
	before := storeOps(t)
	const n = 200
	var wg sync.WaitGroup
	results := make([]gqlResult, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = post(t, "", "application/json", body)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r.Status != 200 || len(r.Errors) != 0 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.RawBody)
		}
	}
	delta := opsDelta(before, storeOps(t))
	if n := delta["dina_army_list_agents/find"]; n != 1 {
		t.Fatalf("200 identical cold requests made %v searches (%v), want exactly one execution", n, delta)
	}
}

func TestPersistedQueries(t *testing.T) {
	q := `{ apq: getDINAStatistics { total_agents } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	send := func(body map[string]any) gqlResult {
		b, _ := json.Marshal(body)
		return post(t, "", "application/json", b)
	}
	if r := send(map[string]any{"extensions": ext}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %s", r.RawBody)
	}
	if r := send(map[string]any{"query": q, "extensions": ext}); r.Status != 200 || len(r.Errors) != 0 {
		t.Fatalf("register: %s", r.RawBody)
	}
	if r := send(map[string]any{"extensions": ext}); r.Status != 200 || !strings.Contains(string(r.Data), "total_agents") {
		t.Fatalf("hash only: %s", r.RawBody)
	}
	wrong := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
	if r := send(map[string]any{"query": q, "extensions": wrong}); r.Status != 400 || r.code() != "BAD_USER_INPUT" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("mismatched hash: %d %s", r.Status, r.RawBody)
	}
	for name, bad := range map[string]map[string]any{
		"malformed hash": {"version": 1, "sha256Hash": "abc"},
		"uppercase hash": {"version": 1, "sha256Hash": strings.ToUpper(hash)},
		"version 2":      {"version": 2, "sha256Hash": hash},
		"no version":     {"sha256Hash": hash},
	} {
		if r := send(map[string]any{"extensions": map[string]any{"persistedQuery": bad}}); r.Status != 400 || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("%s: %d %s", name, r.Status, r.RawBody)
		}
	}
	// A document that does not parse is not stored: its hash stays unknown.
	broken := `{ getDINAStatistics {`
	bsum := sha256.Sum256([]byte(broken))
	bext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(bsum[:])}}
	if r := send(map[string]any{"query": broken, "extensions": bext}); r.code() != "GRAPHQL_PARSE_FAILED" {
		t.Fatalf("broken registration: %s", r.RawBody)
	}
	if r := send(map[string]any{"extensions": bext}); r.code() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("broken document stored: %s", r.RawBody)
	}
	// Over GET, so a CDN can cache it.
	extJSON, _ := json.Marshal(ext)
	r := get(t, "/graphql?extensions="+url.QueryEscape(string(extJSON)), "Apollo-Require-Preflight", "true")
	if r.Status != 200 || !strings.Contains(string(r.Data), "total_agents") || r.Header.Get("Cache-Control") != "public, max-age=30" {
		t.Fatalf("APQ over GET: %d %v %s", r.Status, r.Header, r.RawBody)
	}
	// URL parameters hold exactly one JSON object each.
	for _, param := range []string{"extensions=" + url.QueryEscape(string(extJSON)+"junk"), "query=%7B+me+%7D&variables=%7B%7Djunk"} {
		if r := get(t, "/graphql?"+param, "Apollo-Require-Preflight", "true"); r.Status != 400 || r.code() != "BAD_USER_INPUT" {
			t.Fatalf("GET %s: %d %s", param, r.Status, r.RawBody)
		}
	}
}

func TestWarmTVEndpointsNeverMiss(t *testing.T) {
	_, base := serveApp(t, map[string]string{"NEKO_WARM": "true"})
	waitReadyAt(t, base)
	getAt := func(path string) gqlResult {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		return do(t, req)
	}
	// /ready answered only after the first warm-up pass. The TV monitor polls every 5 s; poll
	// faster, for longer than the shortest max-age (5 s), to see entries renewed ahead of expiry.
	deadline := time.Now().Add(7 * time.Second)
	polls := 0
	for time.Now().Before(deadline) {
		for _, p := range []string{"/api/mongodb-stats", "/api/ascii-art", "/api/stats", "/api/threat-counts", "/api/dina/stats", "/api/dina/perpetrators", "/api/threat-actors?category=ransomware"} {
			r := getAt(p)
			polls++
			if r.Status != 200 || r.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("poll %d of %s after /ready: %d X-Cache %q", polls, p, r.Status, r.Header.Get("X-Cache"))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, wq := range warmQueries {
		r := gqlAt(t, base, tokens[security.RoleViewer], wq.Query, nil)
		if r.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("warm query %s: X-Cache %q", wq.Name, r.Header.Get("X-Cache"))
		}
	}
	t.Logf("%d polls, all hits", polls)

	// A mutation invalidates warm answers; the warmer recomputes them at once, so the next poll
	// (a TV monitor polls every 5 s; here 2 s later) is a hit with the new data.
	stats := warmQueries[slices.IndexFunc(warmQueries, func(q server.WarmQuery) bool { return q.Name == "getDINAStatistics" })].Query
	total := func(r gqlResult) int {
		var out struct {
			S struct {
				Total int `json:"total_agents"`
			} `json:"getDINAStatistics"`
		}
		_ = json.Unmarshal(r.Data, &out)
		return out.S.Total
	}
	before := total(gqlAt(t, base, "", stats, nil))
	r := gqlAt(t, base, tokens[security.RoleAdmin], `mutation { createDINAAgent(input: {full_name: "Warm Watcher", rank: "Mayor", category: OTHER}) { agent_id } }`, nil)
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("mutation: %s", r.RawBody)
	}
	// How soon the warmer starts is TestWarmerRefreshesAfterInvalidation's to check; here the
	// poll waits out its pass (slow on a loaded machine) and then must find the new data warm.
	time.Sleep(2 * time.Second)
	var after gqlResult
	poll(15*time.Second, func() bool {
		after = gqlAt(t, base, "", stats, nil)
		return after.Header.Get("X-Cache") == "HIT" && total(after) == before+1
	})
	if after.Header.Get("X-Cache") != "HIT" || total(after) != before+1 {
		t.Fatalf("after a mutation: X-Cache %q, total %d, want HIT with %d", after.Header.Get("X-Cache"), total(after), before+1)
	}
	if r := getAt("/api/dina/stats"); r.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("/api/dina/stats after a mutation: X-Cache %q", r.Header.Get("X-Cache"))
	}
}

// A REST answer is keyed by its route and the parameters it reads: cache busters, a trailing
// slash or another letter case reach the same cached answer instead of the database.
func TestRESTKeysIgnoreWhatTheRouteDoesNotRead(t *testing.T) {
	if r := get(t, "/api/threat-counts"); r.Status != 200 {
		t.Fatalf("first: %d %s", r.Status, r.RawBody)
	}
	for _, path := range []string{"/api/threat-counts?cb=" + strconv.FormatInt(time.Now().UnixNano(), 10), "/api/threat-counts/", "/API/THREAT-COUNTS", "/api/threat-counts?a&&&"} {
		if r := get(t, path); r.Status != 200 || r.Header.Get("X-Cache") != "HIT" {
			t.Fatalf("%s: %d X-Cache %q", path, r.Status, r.Header.Get("X-Cache"))
		}
	}
	// What the route reads still counts.
	for _, cat := range []string{"predators", "ransomware"} {
		r := get(t, "/api/threat-actors?cb=1&category="+cat)
		if r.Status != 200 || !strings.Contains(string(r.RawBody), `"success":true`) {
			t.Fatalf("category %s: %d %s", cat, r.Status, r.RawBody)
		}
	}
}
