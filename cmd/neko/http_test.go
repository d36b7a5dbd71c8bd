package main

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/neko-defense/neko/security"
)

func mintToken(t *testing.T, secret string, now time.Time, ttl time.Duration) string {
	t.Helper()
	a, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte(secret), AdminUsername: "x", AdminPassword: "y",
		TokenTTL: ttl, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Issue(security.Identity{Username: "admin-ish", Role: security.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestBadInputGetsClearErrors(t *testing.T) {
	expired := mintToken(t, testSecret, time.Now().Add(-48*time.Hour), time.Hour)
	wrongKey := mintToken(t, "another-secret-another-secret-0000", time.Now(), time.Hour)
	parts := strings.Split(tokens[security.RoleViewer], ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"viewer"`, `"admin"`, 1))) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	huge := `{"query":"{ getDINAStatistics { total_agents } }","variables":{"pad":"` + strings.Repeat("x", 70000) + `"}}`
	// Small in bytes, large once decoded: more values than any request may hold.
	manyValues := `{"query":"{ __typename }","variables":{"v":[` + strings.Repeat("0,", 20000) + `0]}}`
	const gqlResp = "application/graphql-response+json"

	cases := []struct {
		name        string
		token       string
		contentType string
		accept      string
		body        string
		status      int
		code        string
	}{
		{"malformed JSON", "", "application/json", "", `{"query": `, 400, "BAD_USER_INPUT"},
		{"malformed JSON strict media", "", "application/json", gqlResp, `{"query": `, 400, "BAD_USER_INPUT"},
		{"body not an object", "", "application/json", "", `"just a string"`, 400, "BAD_USER_INPUT"},
		{"batch of non-objects", "", "application/json", "", `[1, 2]`, 400, "BAD_USER_INPUT"},
		{"empty batch", "", "application/json", "", `[]`, 400, "BAD_USER_INPUT"},
		{"empty body", "", "application/json", "", ``, 400, "BAD_USER_INPUT"},
		{"query not a string", "", "application/json", "", `{"query": 42}`, 400, "BAD_USER_INPUT"},
		{"variables not an object", "", "application/json", "", `{"query":"{ me }","variables":[1]}`, 400, "BAD_USER_INPUT"},
		{"unsupported media type", "", "text/plain", "", `{"query":"{ me }"}`, 415, "BAD_USER_INPUT"},
		{"form post", "", "application/x-www-form-urlencoded", "", `query=%7Bme%7D`, 415, "BAD_USER_INPUT"},
		{"oversize body", "", "application/json", "", huge, 413, "BAD_USER_INPUT"},
		{"too many JSON values", "", "application/json", "", manyValues, 400, "BAD_USER_INPUT"},
		{"syntax error", "", "application/json", "", `{"query":"{ getDINAStatistics { "}`, 200, "GRAPHQL_PARSE_FAILED"},
		{"syntax error strict media", "", "application/json", gqlResp, `{"query":"{ getDINAStatistics { "}`, 400, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", "", "application/json", "", `{"query":"{ nope }"}`, 200, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown field strict media", "", "application/json", gqlResp, `{"query":"{ nope }"}`, 400, "GRAPHQL_VALIDATION_FAILED"},
		{"variable of wrong type", "", "application/json", "", `{"query":"query($n: Int!) { getDINAAgents(limit: $n) { pagination { total } } }","variables":{"n":"ten"}}`, 200, "BAD_USER_INPUT"},
		{"variable of wrong type strict", "", "application/json", gqlResp, `{"query":"query($n: Int!) { getDINAAgents(limit: $n) { pagination { total } } }","variables":{"n":"ten"}}`, 400, "BAD_USER_INPUT"},
		{"missing required variable", "", "application/json", "", `{"query":"query($q: String!) { searchDINAAgents(query: $q) { agent_id } }"}`, 200, "BAD_USER_INPUT"},
		{"unknown enum in variables", "", "application/json", "", `{"query":"query($s: DINASortBy) { getDINAAgents(sortBy: $s) { pagination { total } } }","variables":{"s":"full_name_asc"}}`, 200, "BAD_USER_INPUT"},
		{"unknown operationName", "", "application/json", "", `{"query":"query A { me } query B { me }","operationName":"C"}`, 200, "GRAPHQL_VALIDATION_FAILED"},
		{"several operations without a name", "", "application/json", "", `{"query":"query A { me } query B { me }"}`, 200, "GRAPHQL_VALIDATION_FAILED"},
		{"page below one", "", "application/json", "", `{"query":"{ getDINAAgents(page: 0) { pagination { total } } }"}`, 200, "BAD_USER_INPUT"},
		{"expired token", expired, "application/json", "", `{"query":"{ me }"}`, 200, "UNAUTHENTICATED"},
		{"token signed with another key", wrongKey, "application/json", "", `{"query":"{ me }"}`, 200, "UNAUTHENTICATED"},
		{"tampered token", tampered, "application/json", "", `{"query":"{ me }"}`, 200, "UNAUTHENTICATED"},
		{"alg none token", none, "application/json", "", `{"query":"{ me }"}`, 200, "UNAUTHENTICATED"},
		{"garbage token", "garbage", "application/json", "", `{"query":"{ me }"}`, 200, "UNAUTHENTICATED"},
		{"viewer calls admin mutation", tokens[security.RoleViewer], "application/json", "", `{"query":"mutation { deleteDINAAgent(agent_id: \"x\") }"}`, 200, "FORBIDDEN"},
		{"not acceptable", "", "application/json", "text/html", `{"query":"{ me }"}`, 406, "BAD_USER_INPUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := post(t, c.token, c.contentType, []byte(c.body), "Accept", c.accept)
			if res.Status != c.status || res.code() != c.code {
				t.Fatalf("status %d code %q, want %d %q: %s", res.Status, res.code(), c.status, c.code, truncate(res.RawBody))
			}
			if res.Errors[0].Message == "" {
				t.Fatal("error without a message")
			}
			if got := res.Header.Get("X-Cache"); got != "BYPASS" && got != "MISS" {
				t.Fatalf("X-Cache %q on an error answer", got)
			}
			// Errors come in the media type the client asked for, request errors included.
			if c.accept == gqlResp && !strings.HasPrefix(res.Header.Get("Content-Type"), gqlResp) {
				t.Fatalf("Content-Type %q, want %s", res.Header.Get("Content-Type"), gqlResp)
			}
		})
	}
}

// Compressed request bodies are decoded within the body limit: a small gzip body that expands
// past it (a decompression bomb) is refused without being expanded in full.
func TestCompressedBodies(t *testing.T) {
	compress := func(enc string, b []byte) []byte {
		var buf bytes.Buffer
		var w io.WriteCloser = gzip.NewWriter(&buf)
		if enc == "deflate" {
			w = zlib.NewWriter(&buf)
		}
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	small := []byte(`{"query":"{ getDINAStatistics { total_agents } }"}`)
	bomb := []byte(`{"query":"{ getDINAStatistics { total_agents } }","variables":{"pad":"` + strings.Repeat("x", 10<<20) + `"}}`)
	cases := []struct {
		name, encoding string
		body           []byte
		status         int
	}{
		{"gzip", "gzip", compress("gzip", small), 200},
		{"deflate", "deflate", compress("deflate", small), 200},
		{"bomb", "gzip", compress("gzip", bomb), 413},
		{"not gzip", "gzip", small, 400},
		{"unsupported encoding", "br", small, 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := post(t, "", "application/json", c.body, "Content-Encoding", c.encoding)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, truncate(res.RawBody))
			}
			if c.status == 200 && (len(res.Errors) > 0 || !strings.Contains(string(res.Data), "total_agents")) {
				t.Fatalf("answer: %s", res.RawBody)
			}
			if c.status != 200 && (res.code() != "BAD_USER_INPUT" || res.Errors[0].Message == "") {
				t.Fatalf("error: %s", res.RawBody)
			}
		})
	}
}

func TestBatches(t *testing.T) {
	body := `[{"query":"{ getDINAStatistics { total_agents } }"},{"query":"{ me }"}]`
	res := post(t, "", "application/json", []byte(body))
	var items []gqlResult
	if err := json.Unmarshal(res.RawBody, &items); err != nil || res.Status != 200 || len(items) != 2 {
		t.Fatalf("batch: %d %s", res.Status, res.RawBody)
	}
	if len(items[0].Errors) != 0 || items[1].code() != "UNAUTHENTICATED" {
		t.Fatalf("batch items: %s", res.RawBody)
	}
	before := storeOps(t)
	big := "[" + strings.TrimSuffix(strings.Repeat(`{"query":"{ getDINAStatistics { total_agents } }"},`, 1000), ",") + "]"
	res = post(t, "", "application/json", []byte(big))
	if res.Status != 400 || res.code() != "QUERY_TOO_COMPLEX" || res.Errors[0].Extensions["maxBatchSize"] != 10.0 {
		t.Fatalf("batch of 1000: %d %s", res.Status, truncate(res.RawBody))
	}
	if d := opsDelta(before, storeOps(t)); len(d) != 0 {
		t.Fatalf("rejected batch reached the database: %v", d)
	}
}

func truncate(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

func TestGraphQLErrorShape(t *testing.T) {
	res := post(t, "", "application/json", []byte(`{"query":"{\n  getDINAStatistics { total_agents }\n  me\n}"}`))
	if res.Status != 200 || len(res.Errors) != 1 {
		t.Fatalf("got %d %s", res.Status, res.RawBody)
	}
	e := res.Errors[0]
	if e.Extensions["code"] != "UNAUTHENTICATED" || len(e.Path) != 1 || e.Path[0] != "me" || len(e.Locations) != 1 {
		t.Fatalf("error = %+v", e)
	}
	loc, _ := e.Locations[0].(map[string]any)
	if loc["line"] != 3.0 || loc["column"] != 3.0 {
		t.Fatalf("location = %v, want line 3 column 3", loc)
	}
	// me is non-null, so its error nulls the whole data object.
	if string(res.Data) != "null" {
		t.Fatalf("data = %s, want null (non-null me propagates)", res.Data)
	}
}

func TestGETQueriesOnly(t *testing.T) {
	q := url.QueryEscape(`query Stats { getDINAStatistics { total_agents } }`)
	res := get(t, "/graphql?query="+q+"&operationName=Stats")
	if res.Status != 400 || res.code() != "BAD_USER_INPUT" || !strings.Contains(res.Errors[0].Message, "cross-site") {
		t.Fatalf("GET without a preflight header must be refused (CSRF): %d %s", res.Status, res.RawBody)
	}
	res = get(t, "/graphql?query="+q+"&operationName=Stats", "Apollo-Require-Preflight", "true")
	if res.Status != 200 || len(res.Errors) != 0 || !strings.Contains(string(res.Data), "total_agents") {
		t.Fatalf("GET query: %d %s", res.Status, res.RawBody)
	}
	m := url.QueryEscape(`mutation { deleteDINAAgent(agent_id: "x") }`)
	res = get(t, "/graphql?query="+m, "X-Apollo-Operation-Name", "Del")
	if res.Status != 405 || res.code() != "BAD_USER_INPUT" || res.Header.Get("Allow") != "POST" {
		t.Fatalf("mutation over GET: %d %v %s", res.Status, res.Header, res.RawBody)
	}
	res = get(t, "/graphql?query="+q+"&variables=notjson", "Content-Type", "application/json")
	if res.Status != 400 || res.code() != "BAD_USER_INPUT" {
		t.Fatalf("bad variables over GET: %d %s", res.Status, res.RawBody)
	}
	req, _ := http.NewRequest(http.MethodPut, baseURL+"/graphql", nil)
	if res := do(t, req); res.Status != 405 || res.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("PUT: %d %v", res.Status, res.Header)
	}
}

func TestResponseMediaTypes(t *testing.T) {
	body := []byte(`{"query":"{ getDINAStatistics { total_agents } }"}`)
	for accept, want := range map[string]string{
		"":                                  "application/json",
		"*/*":                               "application/json",
		"application/json":                  "application/json",
		"application/graphql-response+json": "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9": "application/graphql-response+json",
	} {
		res := post(t, "", "application/json; charset=utf-8", body, "Accept", accept)
		if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), want) {
			t.Errorf("Accept %q: %d %s", accept, res.Status, res.Header.Get("Content-Type"))
		}
	}
}

func TestCommonHeaders(t *testing.T) {
	res := get(t, "/health")
	if res.Header.Get("X-Neko-Region") != "scl" || len(res.Header.Get("X-Request-Id")) < 16 {
		t.Fatalf("headers = %v", res.Header)
	}
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/health", nil)
	req.Header.Set("X-Request-Id", "trace-abc-123")
	if res := do(t, req); res.Header.Get("X-Request-Id") != "trace-abc-123" {
		t.Fatalf("request id not propagated: %v", res.Header)
	}
	req.Header.Set("X-Request-Id", "bad id with spaces")
	if res := do(t, req); res.Header.Get("X-Request-Id") == "bad id with spaces" {
		t.Fatal("malformed request id echoed")
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	res := get(t, "/health")
	for h, want := range map[string]string{
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "SAMEORIGIN",
		"Referrer-Policy":           "no-referrer",
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		"X-Xss-Protection":          "0",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	for _, banned := range []string{"X-Powered-By", "Server"} {
		if v := res.Header.Get(banned); v != "" {
			t.Errorf("banner header %s: %q", banned, v)
		}
	}
	if res.Header.Get("Content-Security-Policy") != "" {
		t.Error("CSP is for production only")
	}
	req, _ := http.NewRequest(http.MethodOptions, baseURL+"/graphql", nil)
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,authorization")
	pre := do(t, req)
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight from allowed origin: %d %v", pre.Status, pre.Header)
	}
	// A browser page may read every header of the contract (DESIGN's list, X-Neko-Defense too).
	get := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, baseURL+"/api/stats", nil)
		r.Header.Set("Origin", "http://localhost:3000")
		return r
	}
	exposed := strings.ToLower(do(t, get()).Header.Get("Access-Control-Expose-Headers"))
	for _, h := range []string{"x-cache", "etag", "cache-control", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
		"retry-after", "x-request-id", "x-neko-region", "x-neko-threat-score", "x-neko-defense"} {
		if !strings.Contains(","+exposed+",", ","+h+",") {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
	req.Header.Set("Origin", "https://evil.example")
	if pre := do(t, req); pre.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got ACAO %q", pre.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	for _, p := range []string{"/health", "/api/health", "/ready"} {
		if res := get(t, p); res.Status != 200 {
			t.Errorf("%s: %d %s", p, res.Status, res.RawBody)
		}
	}
	query(t, "", `{ getDINAStatistics { total_agents } }`, nil)
	res := get(t, "/metrics")
	body := string(res.RawBody)
	for _, want := range []string{
		`neko_http_requests_total{route="/graphql",status="200"}`,
		`neko_http_request_duration_seconds_bucket{route="/graphql"`,
		`neko_store_operations_total{collection="dina_army_list_agents",op="aggregate"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if res := get(t, "/no/such/route"); res.Status != 404 || res.code() != "BAD_USER_INPUT" {
		t.Errorf("unknown route: %d %s", res.Status, res.RawBody)
	}
}

func TestIntrospection(t *testing.T) {
	var out struct {
		S struct {
			Query struct{ Name string } `json:"queryType"`
			Types []struct{ Name string }
		} `json:"__schema"`
		T struct {
			Fields []struct{ Name string }
		} `json:"__type"`
	}
	mustData(t, "", `{ __schema { queryType { name } types { name } } __type(name: "ThreatActorType") { fields { name } } }`, nil, &out)
	if out.S.Query.Name != "Query" || len(out.T.Fields) != 17 {
		t.Fatalf("introspection = %+v", out)
	}
	// The query GraphiQL, Apollo Sandbox and code generators send fits the default limits.
	standard, err := os.ReadFile("../../graphql/testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var full struct {
		S struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	mustData(t, "", string(standard), nil, &full)
	if len(full.S.Types) < 20 {
		t.Fatalf("standard introspection: %d types", len(full.S.Types))
	}
}

func TestRESTEndpointsFromDatabase(t *testing.T) {
	type envelope struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Count   *int            `json:"count"`
	}
	read := func(path string, dst any) {
		t.Helper()
		res := get(t, path)
		if res.Status != 200 {
			t.Fatalf("%s: %d %s", path, res.Status, truncate(res.RawBody))
		}
		if err := json.Unmarshal(res.RawBody, dst); err != nil {
			t.Fatal(err)
		}
	}
	var e envelope
	var counts map[string]int
	read("/api/threat-counts", &e)
	json.Unmarshal(e.Data, &counts)
	if !e.Success || counts["all"] != len(dataset.ThreatActors) {
		t.Errorf("/api/threat-counts all = %d, want %d", counts["all"], len(dataset.ThreatActors))
	}

	read("/api/threat-actors?category=ransomware", &e)
	var actors []map[string]any
	json.Unmarshal(e.Data, &actors)
	want := 0
	for _, a := range dataset.ThreatActors {
		want += b2i(inCategory(a.Type, a.Category, a.ActorClassification, a.Network, a.TargetType, a.Description, a.StateActor, a.StateSponsored, "ransomware"))
	}
	if e.Count == nil || *e.Count != want || len(actors) != want {
		t.Errorf("/api/threat-actors?category=ransomware: %d actors, want %d", len(actors), want)
	}

	// The stored documents as they are: a legacy threat_level stays the string it was, dates are
	// ISO strings with milliseconds, _id is hex.
	read("/api/threat-actors", &e)
	json.Unmarshal(e.Data, &actors)
	for _, a := range actors {
		raw, legacy := dataset.ActorOverrides[a["actor_id"].(string)]
		if !legacy {
			continue
		}
		var level any
		for _, f := range raw {
			if f.Key == "threat_level" {
				level = f.Value
			}
		}
		if level == nil {
			continue // only its rank was overridden
		}
		firstSeen, _ := a["metadata"].(map[string]any)["first_seen"].(string)
		if a["threat_level"] != level || len(firstSeen) != len("2006-01-02T15:04:05.000Z") || len(a["_id"].(string)) != 24 {
			t.Errorf("/api/threat-actors: %v has threat_level %v first_seen %q _id %v, want the stored %v", a["actor_id"], a["threat_level"], firstSeen, a["_id"], level)
		}
	}

	var stats struct {
		Data map[string]any `json:"data"`
	}
	read("/api/stats", &stats)
	if stats.Data["total_threats"] != float64(len(dataset.ThreatActors)) {
		t.Errorf("/api/stats total_threats = %v", stats.Data["total_threats"])
	}

	read("/api/ascii-art", &e)
	if e.Count == nil || *e.Count != len(dataset.AsciiArt) || *e.Count < 3 {
		t.Errorf("/api/ascii-art count = %v", e.Count)
	}

	var mongo struct {
		Success bool `json:"success"`
		Data    struct {
			Database struct {
				Name        string `json:"name"`
				Collections int    `json:"collections"`
			} `json:"database"`
			Top []struct {
				Name  string `json:"name"`
				Count int    `json:"count"`
			} `json:"topCollections"`
			Performance map[string]string `json:"performance"`
		} `json:"data"`
	}
	read("/api/mongodb-stats", &mongo)
	if !mongo.Success || mongo.Data.Database.Name != "neko-defense-system" || mongo.Data.Database.Collections < 8 || len(mongo.Data.Top) == 0 ||
		mongo.Data.Performance["dataSizeHuman"] == "" {
		t.Errorf("/api/mongodb-stats = %+v", mongo)
	}

	var dina struct {
		Data struct {
			Total int `json:"total_documents"`
			P     map[string]int
		} `json:"data"`
	}
	read("/api/dina/stats", &dina)
	if dina.Data.Total != len(dataset.Perpetrators) {
		t.Errorf("/api/dina/stats total = %d", dina.Data.Total)
	}

	read("/api/dina/perpetrators", &e)
	var perps []map[string]any
	json.Unmarshal(e.Data, &perps)
	if len(perps) != len(dataset.Perpetrators) || perps[0]["legalStatus"] == nil || perps[0]["organization"] == nil {
		t.Errorf("/api/dina/perpetrators = %d items", len(perps))
	}

	var all struct {
		Data       []map[string]any `json:"data"`
		Pagination map[string]any   `json:"pagination"`
		Filter     string           `json:"filter"`
	}
	read("/api/dina/all-agents?page=2&limit=25&filter=convicted", &all)
	convicted := 0
	for _, a := range dataset.AllAgents {
		convicted += b2i(a.LegalStatus != nil && a.LegalStatus.Convicted)
	}
	if all.Pagination["total_agents"] != float64(convicted) || all.Pagination["current_page"] != 2.0 || all.Filter != "convicted" ||
		len(all.Data) != min(25, max(0, convicted-25)) {
		t.Errorf("/api/dina/all-agents = %v (%d items), want total %d", all.Pagination, len(all.Data), convicted)
	}
	// REST errors keep the original's {success:false, error} beside the errors array.
	res := get(t, "/api/threat-actors?category="+strings.Repeat("x", 100))
	var failed struct {
		Success   *bool  `json:"success"`
		Error     string `json:"error"`
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(res.RawBody, &failed); err != nil || res.Status != 400 || res.code() != "BAD_USER_INPUT" ||
		failed.Success == nil || *failed.Success || failed.Error == "" || len(failed.Timestamp) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("REST error: %d %s", res.Status, res.RawBody)
	}
	// Paging parameters read as the original's parseInt(x, 10) || default, bounded.
	for query, want := range map[string][2]float64{
		"page=zero": {1, 50}, "page=0&limit=0": {1, 50}, "page=-1&limit=-5": {1, 50}, "page=2abc&limit=5.5": {2, 5},
		"page=9223372036854775807&limit=100000": {100000, 100},
	} {
		read("/api/dina/all-agents?"+query, &all)
		if all.Pagination["current_page"] != want[0] || all.Pagination["page_size"] != want[1] {
			t.Errorf("/api/dina/all-agents?%s: pagination %v, want page %v of %v", query, all.Pagination, want[0], want[1])
		}
	}
}

// HEAD is a GET without the body, on /graphql as on REST; other methods on a REST route are 405
// with Allow, as on /graphql.
func TestHeadAndMethodNotAllowed(t *testing.T) {
	req, _ := http.NewRequest(http.MethodHead, baseURL+"/graphql?query="+url.QueryEscape("{ getDINAStatistics { total_agents } }"), nil)
	req.Header.Set("Apollo-Require-Preflight", "true")
	req.Header.Set("User-Agent", "neko-e2e/1.0 (test client)")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || resp.Header.Get("X-Cache") == "" {
		t.Fatalf("HEAD /graphql: %d %v", resp.StatusCode, resp.Header)
	}
	for _, method := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
		req, _ := http.NewRequest(method, baseURL+"/api/threat-counts", nil)
		if res := do(t, req); res.Status != 405 || res.Header.Get("Allow") != "GET, HEAD" || res.code() != "BAD_USER_INPUT" {
			t.Fatalf("%s /api/threat-counts: %d Allow %q: %s", method, res.Status, res.Header.Get("Allow"), res.RawBody)
		}
	}
}
