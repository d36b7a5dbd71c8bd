package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
	"github.com/neko-defense/neko/store/seed"
)

// The end-to-end suite starts the whole program once (embedded database, demo data, HTTP
// listener on a free port) and talks to it over real HTTP, like a client would.

const (
	testSecret   = "e2e-secret-e2e-secret-e2e-secret-0123"
	testAdmin    = "wakibaka"
	testPassword = "correct-horse"
)

var (
	baseURL string
	dataset = seed.Generate(seed.Small, demoSeed)
	tokens  = map[security.Role]string{}
)

func TestMain(m *testing.M) {
	if os.Getenv(mainHelperEnv) == "1" { // the test binary standing in for neko (TestSecondSignalEndsTheDrain)
		os.Args = append(os.Args[:1], "serve")
		main()
	}
	os.Exit(runE2E(m))
}

// mainHelperEnv makes the test binary run neko's main instead of the tests.
const mainHelperEnv = "NEKO_TEST_RUN_MAIN"

func runE2E(m *testing.M) int {
	dir, err := os.MkdirTemp("", "neko-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	env := map[string]string{
		"PORT": "0", "NEKO_DATA_DIR": dir, "JWT_SECRET": testSecret, "ADMIN_PASSWORD": testPassword,
		"NEKO_LOG_LEVEL": "error", "NEKO_BODY_LIMIT": "65536", "FLY_REGION": "scl",
		// Security scenarios send their own Fly-Client-IP (203.0.113.x), so that a block or an
		// exhausted rate limit stays within its scenario instead of locking out 127.0.0.1.
		"NEKO_TRUSTED_PROXIES": "127.0.0.1/32,::1/128", "NEKO_AUDIT_FLUSH": "200ms",
		// Every functional test shares the loopback address; the rate limit itself is tested on
		// an App of its own with a tiny limit (security_test.go).
		"NEKO_RATE_ANONYMOUS": "100000/1000000", "NEKO_RATE_USER": "100000/1000000",
		// Tests here count database round trips; the warmer's background refreshes would add to
		// them. Warming is tested on an App of its own (TestWarmTVEndpointsNeverMiss).
		"NEKO_WARM": "false",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, err := Start(ctx, cfg, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	go app.Serve()
	defer app.Close()
	baseURL = "http://" + app.Addr()
	if err := waitReady(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	auth, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte(testSecret), AdminUsername: "x", AdminPassword: "y"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, r := range []security.Role{security.RoleViewer, security.RoleAnalyst, security.RoleAdmin} {
		tokens[r], _ = auth.Issue(security.Identity{Username: "test-" + r.String(), Role: r})
	}
	return m.Run()
}

// waitReady polls /ready until the server has warmed its cache and reaches its database.
func waitReady(ctx context.Context) error {
	for {
		resp, err := http.Get(baseURL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server never became ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// gqlResult is a decoded GraphQL response.
type gqlResult struct {
	Status  int             `json:"-"`
	Header  http.Header     `json:"-"`
	Data    json.RawMessage `json:"data"`
	Errors  []gqlError      `json:"errors"`
	RawBody []byte          `json:"-"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Locations  []any          `json:"locations"`
	Extensions map[string]any `json:"extensions"`
}

func (r gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func do(t *testing.T, req *http.Request) gqlResult {
	t.Helper()
	// Send what a browser dashboard sends: the threat scorer rightly flags a client with
	// Go's bare headers hammering one address, and every test shares 127.0.0.1/::1.
	for k, v := range map[string]string{"Accept": "application/json", "Accept-Language": "en", "User-Agent": "neko-e2e/1.0 (test client)"} {
		if _, set := req.Header[k]; !set {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	res := gqlResult{Status: resp.StatusCode, Header: resp.Header, RawBody: body}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && !bytes.HasPrefix(body, []byte("[")) {
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, body)
		}
	}
	return res
}

func post(t *testing.T, token, contentType string, body []byte, headers ...string) gqlResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

// query posts a GraphQL query with variables and returns the response.
func query(t *testing.T, token, q string, vars map[string]any) gqlResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return post(t, token, "application/json", body)
}

// mustData runs q and decodes data into dst, failing on any error.
func mustData(t *testing.T, token, q string, vars map[string]any, dst any) {
	t.Helper()
	res := query(t, token, q, vars)
	if res.Status != 200 || len(res.Errors) > 0 {
		t.Fatalf("query failed: status %d: %s", res.Status, res.RawBody)
	}
	if err := json.Unmarshal(res.Data, dst); err != nil {
		t.Fatalf("decode data: %v: %s", err, res.Data)
	}
}

func get(t *testing.T, path string, headers ...string) gqlResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

func TestPublicDINAStatisticsMatchesSeed(t *testing.T) {
	var out struct {
		S struct {
			Total    int `json:"total_agents"`
			Verified int `json:"verified_count"`
			Pending  int `json:"pending_count"`
			ByCat    []struct {
				Category string
				Count    int
			} `json:"by_category"`
		} `json:"getDINAStatistics"`
	}
	mustData(t, "", `{ getDINAStatistics { total_agents verified_count pending_count by_category { category count } } }`, nil, &out)
	wantVerified, wantPending := 0, 0
	byCat := map[string]int{}
	for _, a := range dataset.DINAAgents {
		switch a.VerificationStatus {
		case "verified":
			wantVerified++
		case "pending":
			wantPending++
		}
		byCat[strings.ToUpper(a.Category)]++
	}
	if out.S.Total != len(dataset.DINAAgents) || out.S.Verified != wantVerified || out.S.Pending != wantPending {
		t.Fatalf("got %+v, want total %d verified %d pending %d", out.S, len(dataset.DINAAgents), wantVerified, wantPending)
	}
	if len(out.S.ByCat) != 6 {
		t.Fatalf("by_category has %d entries, want all 6 categories", len(out.S.ByCat))
	}
	for _, c := range out.S.ByCat {
		if byCat[c.Category] != c.Count {
			t.Errorf("category %s: %d, want %d", c.Category, c.Count, byCat[c.Category])
		}
	}
}

func TestThreatCountsMatchSeed(t *testing.T) {
	var out struct {
		C map[string]int `json:"threatCounts"`
	}
	mustData(t, tokens[security.RoleViewer], `{ threatCounts { all predators pedophiles dina_network ransomware state_sponsored crypto_crime } }`, nil, &out)
	want := map[string]int{}
	for _, a := range dataset.ThreatActors {
		want["all"]++
		for _, cat := range []string{"predators", "pedophiles", "dina_network", "ransomware", "state_sponsored", "crypto_crime"} {
			if inCategory(a.Type, a.Category, a.ActorClassification, a.Network, a.TargetType, a.Description, a.StateActor, a.StateSponsored, cat) {
				want[cat]++
			}
		}
	}
	for k, v := range want {
		if out.C[k] != v {
			t.Errorf("%s = %d, want %d", k, out.C[k], v)
		}
	}
	if want["all"] == 0 || want["crypto_crime"] == 0 || want["dina_network"] == 0 {
		t.Fatalf("seed should cover every category: %v", want)
	}
}

// inCategory restates the category predicates of reference §3.2 independently of the store.
func inCategory(typ, category, class, network, target, desc string, stateActor, stateSponsored *bool, cat string) bool {
	lowerDesc := strings.ToLower(desc)
	switch cat {
	case "predators":
		return typ == "predator" || class == "INDIVIDUAL_PREDATOR" || category == "predator"
	case "pedophiles":
		return typ == "pedophile" || class == "PEDOPHILE" || category == "pedophile" || target == "children" ||
			strings.Contains(lowerDesc, "pedophil") || strings.Contains(lowerDesc, "child abuse") || strings.Contains(lowerDesc, "csam")
	case "dina_network":
		return network == "DINA" || class == "DINA_NETWORK" || category == "dina_network"
	case "ransomware":
		return typ == "cybercrime_group" || class == "CYBERCRIME_RANSOMWARE" || category == "ransomware"
	case "state_sponsored":
		return (stateActor != nil && *stateActor) || (stateSponsored != nil && *stateSponsored) || strings.Contains(strings.ToUpper(class), "STATE_SPONSORED")
	case "crypto_crime":
		return category == "crypto_crime" || class == "CRYPTO_CRIME" || typ == "crypto_thief"
	}
	return true
}

func TestThreatActorsSortedAndLimited(t *testing.T) {
	var out struct {
		A []struct {
			ID    string `json:"actor_id"`
			Level *int   `json:"threat_level"`
			Rank  *int   `json:"rank"`
		} `json:"threatActors"`
	}
	mustData(t, tokens[security.RoleViewer], `query($n: Int!) { threatActors(limit: $n) { actor_id threat_level rank } }`, map[string]any{"n": 50}, &out)
	if len(out.A) != 50 {
		t.Fatalf("got %d actors, want 50", len(out.A))
	}
	// Numeric levels come first, highest first. BSON orders numbers before strings, so actors
	// whose stored level is a legacy string (coerced on read) sort after every number.
	prev := 1 << 30
	for _, a := range out.A {
		if _, legacy := dataset.ActorOverrides[a.ID]; legacy || a.Level == nil {
			continue
		}
		if *a.Level > prev {
			t.Fatalf("not sorted by threat_level desc: %d after %d", *a.Level, prev)
		}
		prev = *a.Level
	}
}

func TestThreatActorLegacyLevelCoerced(t *testing.T) {
	for id, over := range dataset.ActorOverrides {
		var stored any
		for _, e := range over {
			if e.Key == "threat_level" {
				stored = e.Value
			}
		}
		s, ok := stored.(string)
		if !ok {
			continue
		}
		want := map[string]any{"LOW": 25.0, "MEDIUM": 50.0, "HIGH": 75.0, "CRITICAL": 100.0}[strings.ToUpper(s)]
		var out struct {
			A map[string]any `json:"threatActor"`
		}
		mustData(t, tokens[security.RoleViewer], `query($id: String!) { threatActor(actorId: $id) { actor_id threat_level } }`, map[string]any{"id": id}, &out)
		if out.A["threat_level"] != want {
			t.Errorf("actor %s stored %q: threat_level %v, want %v", id, s, out.A["threat_level"], want)
		}
	}
}

func TestMissingThreatActorIsNull(t *testing.T) {
	res := query(t, tokens[security.RoleViewer], `{ threatActor(actorId: "nope") { name } }`, nil)
	if res.Status != 200 || len(res.Errors) != 0 || string(res.Data) != `{"threatActor":null}` {
		t.Fatalf("got %d %s", res.Status, res.RawBody)
	}
}

func TestStatisticsMatchSeed(t *testing.T) {
	var out struct {
		H struct {
			Total    float64 `json:"total_triggers"`
			Traps    float64 `json:"unique_traps"`
			IPs      float64 `json:"unique_ips"`
			MostTrap struct {
				Trap  string  `json:"trap_name"`
				Count float64 `json:"trigger_count"`
			} `json:"most_active_trap"`
		} `json:"honeypotSummary"`
		Hunts struct {
			Total     int `json:"total_hunts"`
			Active    int `json:"active_hunts"`
			Completed int `json:"completed_hunts"`
			Captures  int `json:"successful_captures"`
		} `json:"huntStats"`
		P struct {
			Total int `json:"total_patterns"`
			High  int `json:"high_reusability"`
		} `json:"casePatternStats"`
		D struct {
			Docs int                                          `json:"total_documents"`
			P    struct{ Total, Convicted, Unprosecuted int } `json:"perpetrators"`
		} `json:"dinaStats"`
	}
	mustData(t, tokens[security.RoleViewer], `{
		honeypotSummary { total_triggers unique_traps unique_ips most_active_trap { trap_name trigger_count } }
		huntStats { total_hunts active_hunts completed_hunts successful_captures }
		casePatternStats { total_patterns high_reusability }
		dinaStats { total_documents perpetrators { total convicted unprosecuted } }
	}`, nil, &out)

	traps, ips := map[string]int{}, map[string]bool{}
	for _, tr := range dataset.HoneypotTriggers {
		traps[tr.TrapName]++
		ips[tr.IPAddress] = true
	}
	maxTrap := 0
	for _, n := range traps {
		maxTrap = max(maxTrap, n)
	}
	if int(out.H.Total) != len(dataset.HoneypotTriggers) || int(out.H.Traps) != len(traps) || int(out.H.IPs) != len(ips) ||
		int(out.H.MostTrap.Count) != maxTrap || traps[out.H.MostTrap.Trap] != maxTrap {
		t.Errorf("honeypotSummary = %+v; want total %d traps %d ips %d max %d", out.H, len(dataset.HoneypotTriggers), len(traps), len(ips), maxTrap)
	}
	var active, completed, captured int
	for _, h := range dataset.Hunts {
		active += b2i(h.Status == "active")
		completed += b2i(h.Status == "completed")
		captured += b2i(h.Outcome == "captured")
	}
	if out.Hunts.Total != len(dataset.Hunts) || out.Hunts.Active != active || out.Hunts.Completed != completed || out.Hunts.Captures != captured {
		t.Errorf("huntStats = %+v; want %d/%d/%d/%d", out.Hunts, len(dataset.Hunts), active, completed, captured)
	}
	high := 0
	for _, p := range dataset.CasePatterns {
		high += b2i(p.Reusability == "high")
	}
	if out.P.Total != len(dataset.CasePatterns) || out.P.High != high {
		t.Errorf("casePatternStats = %+v; want %d/%d", out.P, len(dataset.CasePatterns), high)
	}
	convicted := 0
	for _, p := range dataset.Perpetrators {
		convicted += b2i(p.LegalStatus != nil && p.LegalStatus.Convicted)
	}
	if out.D.Docs != len(dataset.Perpetrators) || out.D.P.Convicted != convicted || out.D.P.Unprosecuted != len(dataset.Perpetrators)-convicted {
		t.Errorf("dinaStats = %+v; want %d docs, %d convicted", out.D, len(dataset.Perpetrators), convicted)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDINAAgentsPaginationFilterSort(t *testing.T) {
	var out struct {
		R struct {
			Agents []struct {
				ID       string `json:"agent_id"`
				Name     string `json:"full_name"`
				Category string `json:"category"`
				Legal    string `json:"legal_status"`
			} `json:"agents"`
			P struct {
				Total, Page, Limit, TotalPages int
				HasNext                        bool `json:"hasNextPage"`
				HasPrev                        bool `json:"hasPreviousPage"`
			} `json:"pagination"`
		} `json:"getDINAAgents"`
	}
	q := `query($f: DINAAgentFilter, $p: Int!, $s: DINASortBy) {
		getDINAAgents(filter: $f, page: $p, limit: 7, sortBy: $s) {
			agents { agent_id full_name category legal_status }
			pagination { total page limit totalPages hasNextPage hasPreviousPage }
		} }`
	mustData(t, "", q, map[string]any{"f": map[string]any{"category": "BRIGADE"}, "p": 2, "s": "FULL_NAME_DESC"}, &out)
	var names []string
	for _, a := range dataset.DINAAgents {
		if a.Category == "Brigade" {
			names = append(names, a.FullName)
		}
	}
	slices.Sort(names)
	slices.Reverse(names)
	wantPages := (len(names) + 6) / 7
	if out.R.P.Total != len(names) || out.R.P.Page != 2 || out.R.P.Limit != 7 || out.R.P.TotalPages != wantPages || !out.R.P.HasPrev || out.R.P.HasNext != (2 < wantPages) {
		t.Fatalf("pagination = %+v, want total %d pages %d", out.R.P, len(names), wantPages)
	}
	for i, a := range out.R.Agents {
		if a.Category != "BRIGADE" {
			t.Errorf("agent %s category %s", a.ID, a.Category)
		}
		if a.Name != names[7+i] {
			t.Errorf("agent %d = %q, want %q (full_name desc)", i, a.Name, names[7+i])
		}
	}
	// Limits are clamped to 100 as in the original.
	mustData(t, "", `{ getDINAAgents(limit: 5000) { pagination { limit } } }`, nil, &out)
	if out.R.P.Limit != 100 {
		t.Errorf("limit = %d, want clamp to 100", out.R.P.Limit)
	}
}

func TestSearchDINAAgents(t *testing.T) {
	target := dataset.DINAAgents[3]
	word := strings.Fields(target.FullName)[0]
	var out struct {
		A []struct {
			Name string `json:"full_name"`
		} `json:"searchDINAAgents"`
	}
	mustData(t, "", `query($q: String!) { searchDINAAgents(query: $q, limit: 50) { full_name } }`, map[string]any{"q": strings.ToUpper(word)}, &out)
	found := false
	for _, a := range out.A {
		found = found || a.Name == target.FullName
	}
	if !found {
		t.Fatalf("search %q did not find %q in %v", word, target.FullName, out.A)
	}
	// As $text did: any of the words, ignoring accents the stored name does not have.
	accented := strings.NewReplacer("a", "á", "e", "é", "i", "í", "o", "ó", "u", "ú").Replace(strings.ToLower(word))
	q := "Zzqxnomatch " + accented
	mustData(t, "", `query($q: String!) { searchDINAAgents(query: $q, limit: 50) { full_name } }`, map[string]any{"q": q}, &out)
	found = false
	for _, a := range out.A {
		found = found || a.Name == target.FullName
	}
	if !found {
		t.Fatalf("search %q did not find %q in %v", q, target.FullName, out.A)
	}
	// Regex metacharacters are literal text, not patterns.
	mustData(t, "", `{ searchDINAAgents(query: ".*") { full_name } }`, nil, &out)
	if len(out.A) != 0 {
		t.Fatalf("'.*' matched %d agents; user text must not be a regex", len(out.A))
	}
}

func TestDINAAgentLifecycleAndRoles(t *testing.T) {
	create := `mutation($in: CreateDINAAgentInput!) { createDINAAgent(input: $in) { agent_id full_name category legal_status verification_status created_by } }`
	in := map[string]any{"in": map[string]any{"full_name": "Tovar Quen Ilsa", "rank": "Captain", "category": "ENLISTED"}}

	if res := query(t, "", create, in); res.code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous create: %s", res.RawBody)
	}
	if res := query(t, tokens[security.RoleViewer], create, in); res.code() != "FORBIDDEN" || string(res.Data) != "null" {
		t.Fatalf("viewer create: %s", res.RawBody)
	}
	var created struct {
		A map[string]string `json:"createDINAAgent"`
	}
	mustData(t, tokens[security.RoleAdmin], create, in, &created)
	id := created.A["agent_id"]
	if !strings.HasPrefix(id, "dina-tovar-quen-ilsa-") || created.A["category"] != "ENLISTED" ||
		created.A["legal_status"] != "UNKNOWN" || created.A["verification_status"] != "PENDING" || created.A["created_by"] != "test-admin" {
		t.Fatalf("created = %v", created.A)
	}
	var updated struct {
		A map[string]string `json:"updateDINAAgent"`
	}
	mustData(t, tokens[security.RoleAdmin], `mutation($id: String!) { updateDINAAgent(agent_id: $id, input: {legal_status: CONVICTED, region: "Norte"}) { legal_status region full_name } }`,
		map[string]any{"id": id}, &updated)
	if updated.A["legal_status"] != "CONVICTED" || updated.A["region"] != "Norte" || updated.A["full_name"] != "Tovar Quen Ilsa" {
		t.Fatalf("updated = %v", updated.A)
	}
	var got struct {
		A map[string]string `json:"getDINAAgent"`
	}
	mustData(t, "", `query($id: String!) { getDINAAgent(agent_id: $id) { legal_status } }`, map[string]any{"id": id}, &got)
	if got.A["legal_status"] != "CONVICTED" {
		t.Fatalf("read back = %v", got.A)
	}
	var del struct {
		OK bool `json:"deleteDINAAgent"`
	}
	mustData(t, tokens[security.RoleAdmin], `mutation($id: String!) { deleteDINAAgent(agent_id: $id) }`, map[string]any{"id": id}, &del)
	if !del.OK {
		t.Fatal("delete returned false")
	}
	mustData(t, tokens[security.RoleAdmin], `mutation($id: String!) { deleteDINAAgent(agent_id: $id) }`, map[string]any{"id": id}, &del)
	if del.OK {
		t.Fatal("second delete returned true")
	}
	var upd struct {
		A *map[string]string `json:"updateDINAAgent"`
	}
	mustData(t, tokens[security.RoleAdmin], `mutation { updateDINAAgent(agent_id: "missing", input: {rank: "X"}) { rank } }`, nil, &upd)
	if upd.A != nil {
		t.Fatal("update of a missing agent should be null")
	}
}

// Agents of one name created at once (the id holds the creation millisecond) all get created,
// each with its own id.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	const n = 12
	create := `mutation { createDINAAgent(input: {full_name: "Twin Creation", rank: "Major", category: OTHER}) { agent_id } }`
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := query(t, tokens[security.RoleAdmin], create, nil)
			var out struct {
				A struct {
					ID string `json:"agent_id"`
				} `json:"createDINAAgent"`
			}
			if len(res.Errors) > 0 || json.Unmarshal(res.Data, &out) != nil {
				t.Errorf("create %d: %s", i, res.RawBody)
			}
			ids[i] = out.A.ID
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, id := range ids {
			query(t, tokens[security.RoleAdmin], `mutation($id: String!) { deleteDINAAgent(agent_id: $id) }`, map[string]any{"id": id})
		}
	})
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != n || ids[0] == "" {
		t.Fatalf("ids = %v", ids)
	}
}

// A statistic selected under several aliases is computed once: the aliases cost the database
// what one does (they used to overflow its aggregate pool with 503s).
func TestAliasedStatisticsReadOnce(t *testing.T) {
	ops := func(q string) map[string]float64 {
		before := storeOps(t)
		if res := query(t, "", q, nil); res.Status != 200 || len(res.Errors) > 0 {
			t.Fatalf("%s: %d %s", q, res.Status, res.RawBody)
		}
		// Only the statistic's collection: background work (the API key reload, the audit
		// flush) may touch others meanwhile.
		delta := opsDelta(before, storeOps(t))
		maps.DeleteFunc(delta, func(op string, _ float64) bool { return !strings.HasPrefix(op, store.CollArmyList+"/") })
		return delta
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36) // fresh aliases: nothing cached
	one := ops("{ one" + stamp + ": getDINAStatistics { total_agents } }")
	var four strings.Builder
	four.WriteString("{ ")
	for i := range 4 {
		fmt.Fprintf(&four, "a%d%s: getDINAStatistics { total_agents } ", i, stamp)
	}
	four.WriteString("}")
	if got := ops(four.String()); !maps.Equal(got, one) {
		t.Fatalf("four aliases: %v; one: %v", got, one)
	}
}

// A dashboard query of every statistic at once fits the default database pools.
func TestEveryStatisticInOneQuery(t *testing.T) {
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36) // fresh aliases: nothing cached
	q := fmt.Sprintf(`{ a%[1]s: threatCounts { all } b%[1]s: honeypotSummary { total_triggers } c%[1]s: huntStats { total_hunts }
		d%[1]s: casePatternStats { total_patterns } e%[1]s: getDINAStatistics { total_agents } f%[1]s: dinaStats { total_documents } }`, stamp)
	if res := query(t, tokens[security.RoleAdmin], q, nil); res.Status != 200 || len(res.Errors) > 0 {
		t.Fatalf("six statistics: %d %s", res.Status, res.RawBody)
	}
}

func TestRoleRequirementsFromSchema(t *testing.T) {
	cases := []struct {
		name  string
		token string
		query string
		code  string
	}{
		{"anonymous threatCounts", "", `{ threatCounts { all } }`, "UNAUTHENTICATED"},
		{"viewer triggers", tokens[security.RoleViewer], `{ honeypotTriggers(limit: 1) { ip_address } }`, "FORBIDDEN"},
		{"analyst triggers", tokens[security.RoleAnalyst], `{ honeypotTriggers(limit: 1) { ip_address } }`, ""},
		{"viewer hunts", tokens[security.RoleViewer], `{ huntConversations(limit: 1) { session_id } }`, "FORBIDDEN"},
		{"analyst hunts", tokens[security.RoleAnalyst], `{ huntConversations(limit: 1) { session_id } }`, ""},
		{"public army list", "", `{ getDINAAgents(limit: 1) { agents { agent_id } } }`, ""},
		{"anonymous me", "", `{ me }`, "UNAUTHENTICATED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := query(t, c.token, c.query, nil)
			if res.Status != 200 || res.code() != c.code {
				t.Fatalf("status %d code %q, want 200 %q: %s", res.Status, res.code(), c.code, res.RawBody)
			}
		})
	}
}

// Every caller is answered as itself: tokens of one length sent at once by many users (the
// server reuses request buffers between them), and one name holding two roles.
func TestEachCallerIsItself(t *testing.T) {
	auth, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte(testSecret), AdminUsername: "x", AdminPassword: "y"})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, role security.Role) string {
		tok, err := auth.Issue(security.Identity{Username: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	users := make([]string, 40)
	toks := make([]string, len(users))
	for i := range users {
		users[i] = fmt.Sprintf("crowd-%02d", i)
		toks[i] = issue(users[i], security.RoleViewer)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		got := make([]string, len(users))
		for i := range users {
			wg.Go(func() {
				body, _ := json.Marshal(map[string]any{"query": fmt.Sprintf("{ me r%d: me }", round)})
				req, _ := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+toks[i])
				req.Header.Set("User-Agent", "neko-e2e/1.0 (test client)")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					got[i] = err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = string(b)
			})
		}
		wg.Wait()
		for i, g := range got {
			if strings.Count(g, "as: "+users[i]+" (viewer)") != 2 {
				t.Fatalf("round %d: %s got %s", round, users[i], g)
			}
		}
	}

	// One name, two roles (two API keys may share a name; a promoted user holds old tokens):
	// the private answer of one is never the other's.
	var me struct{ Me string }
	mustData(t, issue("twin", security.RoleViewer), `{ me }`, nil, &me)
	if !strings.Contains(me.Me, "twin (viewer)") {
		t.Fatalf("viewer twin: %q", me.Me)
	}
	mustData(t, issue("twin", security.RoleAdmin), `{ me }`, nil, &me)
	if !strings.Contains(me.Me, "twin (admin)") {
		t.Fatalf("admin twin answered %q", me.Me)
	}
}

func TestLoginAndMe(t *testing.T) {
	var out struct {
		L struct {
			Token string `json:"access_token"`
			User  map[string]string
		} `json:"login"`
	}
	mustData(t, "", `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p, language: "es"}) { access_token user { username role language } } }`,
		map[string]any{"u": testAdmin, "p": testPassword}, &out)
	if out.L.Token == "" || out.L.User["role"] != "admin" || out.L.User["language"] != "es" {
		t.Fatalf("login = %+v", out.L)
	}
	var me struct{ Me string }
	mustData(t, out.L.Token, `{ me }`, nil, &me)
	if !strings.Contains(me.Me, testAdmin) || !strings.Contains(me.Me, "admin") {
		t.Fatalf("me = %q", me.Me)
	}
	for name, c := range map[string][2]string{"wrong password": {testAdmin, "wrong-password"}, "unknown user": {"mallory", testPassword}} {
		t.Run(name, func(t *testing.T) {
			res := query(t, "", `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { access_token } }`, map[string]any{"u": c[0], "p": c[1]})
			if res.code() != "UNAUTHENTICATED" || string(res.Data) != "null" {
				t.Fatalf("got %s", res.RawBody)
			}
		})
	}
	res := query(t, "", `mutation { login(input: {username: "wakibaka", password: "short"}) { access_token } }`, nil)
	if res.code() != "BAD_USER_INPUT" {
		t.Fatalf("short password: %s", res.RawBody)
	}
}
