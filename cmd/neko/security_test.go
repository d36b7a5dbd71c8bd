package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neko-defense/neko/security"
)

// The security scenarios run against the TestMain server, which trusts 127.0.0.1 as a proxy:
// each scenario sends its own Fly-Client-IP from 203.0.113.0/24 (TEST-NET-3), so a block or a
// spent rate limit stays inside the scenario. Honeypot scenarios use 198.18.0.0/15 instead: the
// demo data already holds triggers from the TEST-NET ranges.

// browser are the headers of a dashboard in a browser.
var browser = []string{
	"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
	"Accept", "application/json, text/plain, */*", "Accept-Language", "en-US,en;q=0.9",
	"Referer", "http://localhost:3000/dashboard", "Origin", "http://localhost:3000",
}

func from(ip string, headers ...string) []string {
	return append([]string{"Fly-Client-IP", ip}, headers...)
}

// gqlFrom posts a GraphQL operation as the client at ip, with extra headers.
func gqlFrom(t *testing.T, ip, token, q string, vars map[string]any, headers ...string) gqlResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return post(t, token, "application/json", body, from(ip, headers...)...)
}

// eventually retries check until it succeeds or 10 s pass: records reach the database through
// the server's asynchronous writers, and over HTTP polling is the only signal there is.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func assertBlockedBody(t *testing.T, res gqlResult) {
	t.Helper()
	if res.Status != http.StatusForbidden || res.code() != "FORBIDDEN" {
		t.Fatalf("want 403 FORBIDDEN, got %d: %s", res.Status, res.RawBody)
	}
	if res.Errors[0].Message != "Request blocked by security policy" {
		t.Fatalf("message = %q", res.Errors[0].Message)
	}
	if id, _ := res.Errors[0].Extensions["securityId"].(string); !strings.HasPrefix(id, "NEKO-") {
		t.Fatalf("securityId = %v", res.Errors[0].Extensions["securityId"])
	}
}

// mustDataFrom runs a GraphQL operation as the client at ip with token, from a browser, and
// decodes its data into dst; any error fails the test.
func mustDataFrom(t *testing.T, ip, token, q string, vars map[string]any, dst any) {
	t.Helper()
	res := gqlFrom(t, ip, token, q, vars, browser...)
	if res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("%s: %d %s", q, res.Status, res.RawBody)
	}
	if err := json.Unmarshal(res.Data, dst); err != nil {
		t.Fatal(err)
	}
}

// sqlmapProbe is what sqlmap sends: its user agent and a UNION SELECT in the query string.
func sqlmapProbe(t *testing.T, ip string) gqlResult {
	t.Helper()
	return get(t, "/api/threat-actors?category=x%27%20UNION%20SELECT%20password%20FROM%20users--", from(ip, "User-Agent", "sqlmap/1.7")...)
}

func TestScannerIsBlockedThenRefusedByBlockList(t *testing.T) {
	const ip = "203.0.113.10"
	res := sqlmapProbe(t, ip)
	assertBlockedBody(t, res)
	score, err := strconv.Atoi(res.Header.Get("X-Neko-Threat-Score"))
	if err != nil || score < 70 {
		t.Fatalf("X-Neko-Threat-Score = %q, want >= 70", res.Header.Get("X-Neko-Threat-Score"))
	}
	// A REST refusal has the original's body and headers besides the errors array.
	var body struct {
		Success    *bool  `json:"success"`
		Message    string `json:"message"`
		SecurityID string `json:"securityId"`
		Score      int    `json:"threatScore"`
	}
	if err := json.Unmarshal(res.RawBody, &body); err != nil || body.Success == nil || *body.Success ||
		body.Message != "Request blocked by security policy" || !strings.HasPrefix(body.SecurityID, "NEKO-") ||
		body.Score < 70 || res.Header.Get("X-Neko-Defense") != "BLOCKED" {
		t.Fatalf("REST refusal: %v %s", res.Header, res.RawBody)
	}
	// The next request, however innocent, is refused by the block list before scoring.
	res = get(t, "/api/stats", from(ip, browser...)...)
	assertBlockedBody(t, res)
	if res.Header.Get("X-Neko-Threat-Score") != "" {
		t.Fatalf("the block list answered after scoring: %v", res.Header)
	}
	// Through a trusted proxy, an address the client writes into X-Forwarded-For itself does
	// not hide the one the proxy appended.
	res = get(t, "/api/stats", append([]string{"X-Forwarded-For", "198.51.100.1, " + ip}, browser...)...)
	assertBlockedBody(t, res)
	// Another address is not affected, and the operational routes stay reachable.
	if res := get(t, "/api/stats", from("203.0.113.11", browser...)...); res.Status != http.StatusOK {
		t.Fatalf("other address: %d %s %v", res.Status, res.RawBody, res.Header)
	}
	if res := get(t, "/health", from(ip)...); res.Status != http.StatusOK {
		t.Fatalf("/health from a blocked address: %d", res.Status)
	}
}

// Bad credentials make an anonymous caller, as in the original: a dashboard still sending its
// expired token can read public data and log in again, and a field that needs a role tells it
// why it has none. A junk Authorization header takes a scanner past neither threat scoring nor
// the honeypot.
func TestBadCredentialsStillFaceTheDefenses(t *testing.T) {
	res := get(t, "/api/stats", from("203.0.113.14", append([]string{"Authorization", "Bearer junk"}, browser...)...)...)
	if res.Status != http.StatusOK || res.Header.Get("RateLimit-Remaining") == "" {
		t.Fatalf("public REST with a bad token: %d %v %s", res.Status, res.Header, res.RawBody)
	}
	res = post(t, "junk", "application/json", []byte(`{"query":"{ me }"}`), from("203.0.113.14", browser...)...)
	if res.Status != http.StatusOK || res.code() != "UNAUTHENTICATED" || res.Errors[0].Message != "invalid or expired token" ||
		res.Header.Get("RateLimit-Remaining") == "" {
		t.Fatalf("bad token on /graphql: %d %v %s", res.Status, res.Header, res.RawBody)
	}
	res = post(t, "junk", "application/json", []byte(`{"query":"{ getDINAStatistics { total_agents } }"}`), from("203.0.113.14", browser...)...)
	if res.Status != http.StatusOK || len(res.Errors) > 0 || !strings.Contains(string(res.Data), `"total_agents"`) {
		t.Fatalf("public query with a bad token: %d %s", res.Status, res.RawBody)
	}
	login, _ := json.Marshal(map[string]any{"query": `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { access_token } }`,
		"variables": map[string]any{"u": testAdmin, "p": testPassword}})
	if res := post(t, "expired.or.tampered", "application/json", login, from("203.0.113.14", browser...)...); res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("login with a stale token: %d %s", res.Status, res.RawBody)
	}

	probe := get(t, "/api/threat-actors?category=x%27%20UNION%20SELECT%20password%20FROM%20users--",
		from("203.0.113.15", "User-Agent", "sqlmap/1.7", "Authorization", "Bearer junk")...)
	assertBlockedBody(t, probe)

	trap := get(t, "/wp-login.php", from("198.18.0.35", "User-Agent", "Mozilla/5.0 (compatible; scanner-test)", "X-API-Key", "neko_junk")...)
	if trap.Status != http.StatusForbidden || !strings.Contains(string(trap.RawBody), "WordPress") {
		t.Fatalf("trap with a bad key: %d %s", trap.Status, trap.RawBody)
	}
}

func TestBrowserPollingIsNeverBlocked(t *testing.T) {
	const ip = "203.0.113.20"
	for i := range 40 {
		path := "/api/stats"
		if i%2 == 1 {
			path = "/api/threat-counts"
		}
		res := get(t, path, from(ip, browser...)...)
		if res.Status != http.StatusOK {
			t.Fatalf("poll %d: %d %s", i, res.Status, res.RawBody)
		}
		if s := res.Header.Get("X-Neko-Threat-Score"); s != "" {
			if n, _ := strconv.Atoi(s); n >= 40 {
				t.Fatalf("poll %d scored %d", i, n)
			}
		}
	}
	var out struct {
		C struct{ All int } `json:"threatCounts"`
	}
	for i := range 10 { // an authenticated dashboard polling GraphQL is never penalised for its rate
		res := gqlFrom(t, ip, tokens[security.RoleViewer], `{ threatCounts { all } }`, nil, browser...)
		if res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("graphql poll %d: %d %s", i, res.Status, res.RawBody)
		}
		_ = json.Unmarshal(res.Data, &out)
	}
}

// A challenged client (curl's default user agent scores 40) is served, and recorded once as a
// STANDARD_MONITORING incident however often it asks: the playbook that only logs.
func TestChallengedClientIsMonitoredNotBlocked(t *testing.T) {
	const ip = "203.0.113.16"
	for i := range 3 {
		res := get(t, "/api/stats", from(ip, "User-Agent", "curl/8.5.0", "Accept", "*/*")...)
		if res.Status != http.StatusOK || res.Header.Get("X-Neko-Threat-Score") != "40" {
			t.Fatalf("request %d: %d %v %s", i, res.Status, res.Header, res.RawBody)
		}
	}
	type incident struct {
		IP          string `json:"ip"`
		Category    string `json:"category"`
		Playbook    string `json:"playbook"`
		AutoBlocked bool   `json:"auto_blocked"`
	}
	var mine []incident
	eventually(t, "the monitoring incident", func() bool {
		var out struct {
			I []incident `json:"securityIncidents"`
		}
		res := gqlFrom(t, "203.0.113.17", tokens[security.RoleAdmin], `{ securityIncidents(limit: 500) { ip category playbook auto_blocked } }`, nil, browser...)
		if err := json.Unmarshal(res.Data, &out); err != nil || len(res.Errors) > 0 {
			t.Fatalf("securityIncidents: %s", res.RawBody)
		}
		mine = slices.DeleteFunc(out.I, func(in incident) bool { return in.IP != ip })
		return len(mine) > 0
	})
	if len(mine) != 1 || mine[0].Playbook != "STANDARD_MONITORING" || mine[0].Category != "suspicious_activity" || mine[0].AutoBlocked {
		t.Fatalf("incidents of the challenged client: %+v", mine)
	}
}

func TestHoneypotTrapsAnswerDecoysAndRecord(t *testing.T) {
	cases := []struct {
		ip, path, trap, contentType, body string
	}{
		{"198.18.0.30", "/wp-login.php", "wordpress_login", "text/html", "WordPress"},
		{"198.18.0.31", "/.env", "env_file", "text/plain", "DB_PASS="},
		{"198.18.0.32", "/admin/config/users", "admin_panel_deep", "application/json", "Access Denied"},
	}
	for _, c := range cases {
		t.Run(c.trap, func(t *testing.T) {
			res := get(t, c.path, from(c.ip, "User-Agent", "Mozilla/5.0 (compatible; scanner-test)")...)
			if res.Status != http.StatusForbidden || !strings.HasPrefix(res.Header.Get("Content-Type"), c.contentType) ||
				!strings.Contains(string(res.RawBody), c.body) {
				t.Fatalf("decoy: %d %s %s", res.Status, res.Header.Get("Content-Type"), res.RawBody)
			}
			var out struct {
				T []struct {
					TrapName    string `json:"trap_name"`
					IP          string `json:"ip_address"`
					Method      string `json:"request_method"`
					Path        string `json:"request_path"`
					UserAgent   string `json:"user_agent"`
					ThreatLevel string `json:"threat_level"`
				} `json:"honeypotTriggersByIp"`
			}
			attempt := 0
			eventually(t, "the trigger of "+c.path, func() bool {
				attempt++ // a new limit each time: the answer is cached for 10 s
				mustData(t, tokens[security.RoleAnalyst], `query($ip: String!, $n: Int!) { honeypotTriggersByIp(ipAddress: $ip, limit: $n) {
					trap_name ip_address request_method request_path user_agent threat_level } }`,
					map[string]any{"ip": c.ip, "n": 100 + attempt}, &out)
				return len(out.T) > 0
			})
			tr := out.T[0]
			if tr.TrapName != c.trap || tr.IP != c.ip || tr.Method != "GET" || tr.Path != c.path ||
				tr.UserAgent != "Mozilla/5.0 (compatible; scanner-test)" || tr.ThreatLevel == "" {
				t.Fatalf("trigger = %+v", tr)
			}
		})
	}
	// Traps never shadow real routes.
	for _, path := range []string{"/api/health", "/api/stats", "/health", "/metrics"} {
		if res := get(t, path, from("203.0.113.33", browser...)...); res.Status != http.StatusOK {
			t.Fatalf("%s: %d", path, res.Status)
		}
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	const ip = "203.0.113.40"
	admin := tokens[security.RoleAdmin]
	type keyInfo struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Role  string `json:"role"`
		State string `json:"state"`
	}
	var created struct {
		C struct {
			Key  string  `json:"key"`
			Info keyInfo `json:"info"`
		} `json:"createApiKey"`
	}
	mustData(t, admin, `mutation { createApiKey(name: "lobby tv", role: VIEWER) { key info { id name role state } } }`, nil, &created)
	key, id := created.C.Key, created.C.Info.ID
	if !strings.HasPrefix(key, "neko_") || created.C.Info.Role != "VIEWER" || created.C.Info.State != "ACTIVE" {
		t.Fatalf("created = %+v", created.C)
	}
	reads := func(t *testing.T, key string) gqlResult {
		t.Helper()
		return gqlFrom(t, ip, "", `{ threatCounts { all } }`, nil, "X-API-Key", key)
	}
	bearer := func(t *testing.T, key string) gqlResult {
		t.Helper()
		return gqlFrom(t, ip, key, `{ threatCounts { all } }`, nil)
	}
	for name, send := range map[string]func(*testing.T, string) gqlResult{"X-API-Key": reads, "Bearer": bearer} {
		if res := send(t, key); res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("%s: %d %s", name, res.Status, res.RawBody)
		}
	}
	// A viewer key cannot read analyst data.
	if res := gqlFrom(t, ip, "", `{ honeypotTriggers(limit: 1) { trap_name } }`, nil, "X-API-Key", key); res.code() != "FORBIDDEN" {
		t.Fatalf("viewer key on analyst field: %s", res.RawBody)
	}

	var rotated struct {
		R struct {
			Key  string  `json:"key"`
			Info keyInfo `json:"info"`
		} `json:"rotateApiKey"`
	}
	mustData(t, admin, `mutation($id: ID!) { rotateApiKey(id: $id, graceMinutes: 60) { key info { id state } } }`, map[string]any{"id": id}, &rotated)
	if rotated.R.Key == key || rotated.R.Info.ID == id {
		t.Fatalf("rotate returned the same key: %+v", rotated.R)
	}
	for name, k := range map[string]string{"old key in grace": key, "new key": rotated.R.Key} {
		if res := reads(t, k); res.Status != http.StatusOK || len(res.Errors) > 0 {
			t.Fatalf("%s: %d %s", name, res.Status, res.RawBody)
		}
	}
	var list struct {
		K []keyInfo `json:"apiKeys"`
	}
	mustData(t, admin, `{ apiKeys { id name role state } }`, nil, &list)
	states := map[string]string{}
	for _, k := range list.K {
		states[k.ID] = k.State
	}
	if states[id] != "GRACE" || states[rotated.R.Info.ID] != "ACTIVE" {
		t.Fatalf("states = %v", states)
	}

	for _, revoke := range []string{id, rotated.R.Info.ID} {
		var out struct {
			R keyInfo `json:"revokeApiKey"`
		}
		mustData(t, admin, `mutation($id: ID!) { revokeApiKey(id: $id) { id state } }`, map[string]any{"id": revoke}, &out)
		if out.R.State != "REVOKED" {
			t.Fatalf("revoked state = %q", out.R.State)
		}
	}
	for name, res := range map[string]gqlResult{"old": reads(t, key), "new": reads(t, rotated.R.Key), "bearer": bearer(t, key)} {
		if res.code() != "UNAUTHENTICATED" || res.Errors[0].Message != "invalid or expired token" {
			t.Fatalf("revoked %s key: %d %s", name, res.Status, res.RawBody)
		}
	}
	// Rotating a revoked key or an unknown one is the caller's mistake.
	for _, bad := range []string{id, "000000000000"} {
		res := query(t, admin, `mutation($id: ID!) { rotateApiKey(id: $id) { key } }`, map[string]any{"id": bad})
		if res.code() != "BAD_USER_INPUT" {
			t.Fatalf("rotate %s: %s", bad, res.RawBody)
		}
	}
	// Only admins manage keys.
	if res := query(t, tokens[security.RoleAnalyst], `mutation { createApiKey(name: "x", role: ADMIN) { key } }`, nil); res.code() != "FORBIDDEN" {
		t.Fatalf("analyst creating a key: %s", res.RawBody)
	}
}

func TestOperatorInjectionIsRejected(t *testing.T) {
	const ip = "203.0.113.50"
	// A typed String input field cannot carry an object: variable coercion refuses it.
	res := gqlFrom(t, ip, "", `query($filter: DINAAgentFilter) { getDINAAgents(filter: $filter) { agents { agent_id } } }`,
		map[string]any{"filter": map[string]any{"rank": map[string]any{"$ne": nil}}}, browser...)
	if res.code() != "BAD_USER_INPUT" || res.Data != nil && string(res.Data) != "null" {
		t.Fatalf("operator in a filter: %d %s", res.Status, res.RawBody)
	}
	// In a String argument an operator is literal text: it matches nothing and changes no query.
	var out struct {
		S []struct {
			ID string `json:"agent_id"`
		} `json:"searchDINAAgents"`
	}
	r := gqlFrom(t, ip, "", `query($q: String!) { searchDINAAgents(query: $q) { agent_id } }`, map[string]any{"q": `{"$gt": ""}`}, browser...)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("operator text in a search: %s", r.RawBody)
	}
	if err := json.Unmarshal(r.Data, &out); err != nil || len(out.S) != 0 {
		t.Fatalf("search for operator text matched %d agents (%v): %s", len(out.S), err, r.Data)
	}
}

func TestLoginThrottledAfterFiveFailures(t *testing.T) {
	const ip = "203.0.113.60"
	login := `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { access_token } }`
	vars := map[string]any{"u": "throttle-victim", "p": "wrong-password"}
	for i := range 5 {
		if res := gqlFrom(t, ip, "", login, vars, browser...); res.code() != "UNAUTHENTICATED" {
			t.Fatalf("attempt %d: %s", i+1, res.RawBody)
		}
	}
	res := gqlFrom(t, ip, "", login, vars, browser...)
	if res.code() != "RATE_LIMITED" || res.Status != http.StatusTooManyRequests {
		t.Fatalf("6th attempt: %d %s", res.Status, res.RawBody)
	}
	// Five failures a minute: the next attempt is allowed in about 12 s.
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Fatalf("6th attempt Retry-After = %q, want the seconds until the next attempt", res.Header.Get("Retry-After"))
	}
	// Throttled logins are the throttle's refusals, not the rate limiter's: however many, they
	// do not escalate to a block of the address (which would let anyone failing logins for a
	// username get its owner blocked).
	for range 4 {
		gqlFrom(t, ip, "", login, vars, browser...)
	}
	if res := get(t, "/api/stats", from(ip, browser...)...); res.Status != http.StatusOK {
		t.Fatalf("after throttled logins, the address is refused: %d %s", res.Status, res.RawBody)
	}
}

func TestAdminSecurityQueries(t *testing.T) {
	const scanner, adminIP = "203.0.113.70", "203.0.113.71"
	assertBlockedBody(t, sqlmapProbe(t, scanner))

	// A real login, audited by the authenticator.
	var login struct {
		L struct {
			Token string `json:"access_token"`
		} `json:"login"`
	}
	res := gqlFrom(t, adminIP, "", `mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { access_token } }`,
		map[string]any{"u": testAdmin, "p": testPassword}, browser...)
	if err := json.Unmarshal(res.Data, &login); err != nil || login.L.Token == "" {
		t.Fatalf("login: %s", res.RawBody)
	}
	admin := login.L.Token
	adminQuery := func(q string, vars map[string]any, dst any) {
		t.Helper()
		mustDataFrom(t, adminIP, admin, q, vars, dst)
	}

	var blocked struct {
		B []struct {
			IP, Reason string
			Expires    string `json:"expires_at"`
		} `json:"blockedAddresses"`
	}
	adminQuery(`{ blockedAddresses { ip reason expires_at } }`, nil, &blocked)
	found := false
	for _, b := range blocked.B {
		found = found || b.IP == scanner
	}
	if !found {
		t.Fatalf("blockedAddresses lacks %s: %+v", scanner, blocked.B)
	}

	type incident struct {
		IP          string `json:"ip"`
		Category    string `json:"category"`
		Playbook    string `json:"playbook"`
		AutoBlocked bool   `json:"auto_blocked"`
		Score       int    `json:"threat_score"`
	}
	var got incident
	eventually(t, "the scanner's incident", func() bool {
		var out struct {
			I []incident `json:"securityIncidents"`
		}
		adminQuery(`{ securityIncidents(limit: 200) { ip category playbook auto_blocked threat_score } }`, nil, &out)
		for _, in := range out.I {
			if in.IP == scanner {
				got = in
				return true
			}
		}
		return false
	})
	if got.Category != "sql_injection" || !got.AutoBlocked || got.Score < 70 || got.Playbook == "" {
		t.Fatalf("incident = %+v", got)
	}

	type event struct {
		Action   string `json:"action"`
		Category string `json:"category"`
		IP       string `json:"actor_ip"`
		User     string `json:"actor_user"`
		Result   string `json:"result"`
	}
	findEvent := func(category, action, ip string) bool {
		var out struct {
			E []event `json:"auditLog"`
		}
		adminQuery(`query($c: String, $ip: String) { auditLog(limit: 100, category: $c, ip: $ip) { action category actor_ip actor_user result } }`,
			map[string]any{"c": category, "ip": ip}, &out)
		for _, e := range out.E {
			if e.Action == action && e.IP == ip && e.Category == category {
				return true
			}
		}
		return false
	}
	eventually(t, "the audited login", func() bool { return findEvent("auth", "login", adminIP) })
	eventually(t, "the audited incident", func() bool { return findEvent("security", "incident_sql_injection", scanner) })
	eventually(t, "the audited mutation", func() bool { return findEvent("data", "mutation_login", adminIP) })
	eventually(t, "the audited admin read", func() bool { return findEvent("access", "read_blockedAddresses", adminIP) })

	var stats struct {
		S struct {
			Incidents    int `json:"incidents"`
			ActiveBlocks int `json:"active_blocks"`
		} `json:"securityStats"`
	}
	adminQuery(`{ securityStats { incidents active_blocks by_category { key count } } }`, nil, &stats)
	if stats.S.Incidents < 1 {
		t.Fatalf("securityStats = %+v", stats.S)
	}

	// Manual blocks, validated with net/netip.
	if res := gqlFrom(t, adminIP, admin, `mutation { blockAddress(ip: "300.1.2.3", reason: "x") { ip } }`, nil, browser...); res.code() != "BAD_USER_INPUT" {
		t.Fatalf("bad ip: %s", res.RawBody)
	}
	for _, ip := range []string{"0.0.0.0", "::", "255.255.255.255", "127.0.0.1", "::1"} { // no client, or this host
		if res := gqlFrom(t, adminIP, admin, `mutation($ip: String!) { blockAddress(ip: $ip, reason: "x") { ip } }`, map[string]any{"ip": ip}, browser...); res.code() != "BAD_USER_INPUT" {
			t.Fatalf("block %s: %s", ip, res.RawBody)
		}
	}

	const manual = "203.0.113.72"
	var blk struct {
		B struct {
			IP        string `json:"ip"`
			Temporary bool   `json:"temporary"`
		} `json:"blockAddress"`
	}
	adminQuery(`mutation($ip: String!) { blockAddress(ip: $ip, reason: "test", minutes: 5) { ip temporary } }`, map[string]any{"ip": manual}, &blk)
	if blk.B.IP != manual {
		t.Fatalf("blockAddress = %+v", blk.B)
	}
	assertBlockedBody(t, get(t, "/api/stats", from(manual, browser...)...))
	var unblocked struct {
		U bool `json:"unblockAddress"`
	}
	adminQuery(`mutation($ip: String!) { unblockAddress(ip: $ip) }`, map[string]any{"ip": manual}, &unblocked)
	if !unblocked.U {
		t.Fatal("unblockAddress = false")
	}
	if res := get(t, "/api/stats", from(manual, browser...)...); res.Status != http.StatusOK {
		t.Fatalf("after unblock: %d %s", res.Status, res.RawBody)
	}
	// The audit log names what the administrator blocked and unblocked, and their user agent.
	for _, action := range []string{"address_block", "address_unblock"} {
		eventually(t, "the audited "+action, func() bool {
			var out struct {
				E []struct {
					Action   string `json:"action"`
					Resource string `json:"resource_id"`
					UA       string `json:"actor_user_agent"`
				} `json:"auditLog"`
			}
			adminQuery(`{ auditLog(limit: 100, category: "security") { action resource_id actor_user_agent } }`, nil, &out)
			for _, e := range out.E {
				if e.Action == action && e.Resource == manual && e.UA == browser[1] {
					return true
				}
			}
			return false
		})
	}

	// Viewers and analysts see none of it.
	for _, role := range []security.Role{security.RoleViewer, security.RoleAnalyst} {
		for _, q := range []string{`{ securityIncidents { ip } }`, `{ blockedAddresses { ip } }`, `{ auditLog { action } }`, `{ securityStats { incidents } }`, `{ apiKeys { id } }`} {
			if res := query(t, tokens[role], q, nil); res.code() != "FORBIDDEN" {
				t.Fatalf("%s %s: %s", role, q, res.RawBody)
			}
		}
	}
	// A refused attempt to read the audit log is itself audited, with a role too low or a token
	// that fails.
	const curious = "203.0.113.72"
	if res := gqlFrom(t, curious, tokens[security.RoleViewer], `{ auditLog { action } }`, nil, browser...); res.code() != "FORBIDDEN" {
		t.Fatalf("viewer reading the audit log: %s", res.RawBody)
	}
	const forger = "203.0.113.73"
	if res := gqlFrom(t, forger, "forged.token.here", `{ auditLog { action } }`, nil, browser...); res.code() != "UNAUTHENTICATED" {
		t.Fatalf("bad token reading the audit log: %s", res.RawBody)
	}
	eventually(t, "the refused read with a bad token", func() bool {
		var out struct {
			E []event `json:"auditLog"`
		}
		adminQuery(`query($ip: String) { auditLog(limit: 10, category: "access", ip: $ip) { action category actor_ip actor_user result } }`,
			map[string]any{"ip": forger}, &out)
		return slices.ContainsFunc(out.E, func(e event) bool { return e.Action == "read_auditLog" && e.Result == "blocked" })
	})
	eventually(t, "the refused admin read", func() bool {
		var out struct {
			E []event `json:"auditLog"`
		}
		// NUL bytes are stripped from string arguments, the category's included.
		adminQuery(`query($ip: String) { auditLog(limit: 10, category: "acc\u0000ess", ip: $ip) { action category actor_ip actor_user result } }`,
			map[string]any{"ip": curious}, &out)
		return slices.ContainsFunc(out.E, func(e event) bool {
			return e.Action == "read_auditLog" && e.Result == "blocked" && e.User != ""
		})
	})
}

// TestRateLimitRefusesAndEscalates starts a second server with a tiny anonymous rate limit over
// its own database.
func TestRateLimitRefusesAndEscalates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second server")
	}
	_, base := serveApp(t, map[string]string{"NEKO_RATE_ANONYMOUS": "0.1/3", "NEKO_RATE_USER": "0.1/3", "NEKO_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"})
	url := base + "/api/stats"
	send := func(ip string, extra ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		headers := append(slices.Clone(browser), extra...)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		req.Header.Set("Fly-Client-IP", ip)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	const ip = "203.0.113.90"
	for i := range 3 {
		resp := send(ip)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit-Limit") != "3" || resp.Header.Get("RateLimit-Remaining") == "" {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	for i := range 3 { // three refusals in a row: the third runs RATE_LIMIT_VIOLATION
		resp := send(ip)
		var res gqlResult
		_ = json.NewDecoder(resp.Body).Decode(&res)
		if resp.StatusCode != http.StatusTooManyRequests || res.code() != "RATE_LIMITED" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("refusal %d: %d %v %+v", i, resp.StatusCode, resp.Header, res)
		}
	}
	resp := send(ip)
	var res gqlResult
	_ = json.NewDecoder(resp.Body).Decode(&res)
	if resp.StatusCode != http.StatusForbidden || res.code() != "FORBIDDEN" {
		t.Fatalf("after hammering: %d %+v", resp.StatusCode, res)
	}
	if resp := send("203.0.113.91"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: %d", resp.StatusCode)
	}

	// An IPv6 client holds its whole /64: rotating the address inside it neither escapes the
	// limit nor the escalation's block, which covers the /64; the next /64 is another client.
	for i, want := range []int{200, 200, 200, 429, 429, 429, 403} {
		addr := "2001:db8:90:1::" + strconv.Itoa(i+1)
		if resp := send(addr); resp.StatusCode != want {
			t.Fatalf("IPv6 request %d from %s: %d, want %d", i, addr, resp.StatusCode, want)
		}
	}
	if resp := send("2001:db8:90:1:ffff:ffff:ffff:ffff"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an unused address of the blocked /64: %d", resp.StatusCode)
	}
	if resp := send("2001:db8:90:2::1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another /64: %d", resp.StatusCode)
	}

	// A batch that runs out of tokens partway answers RATE_LIMITED for the items refused, in a
	// well-formed array.
	batch := `[{"query":"{ __typename }"},{"query":"{ getDINAAgents(limit: 50) { agents { rank } } }"},{"query":"{ getDINAAgents(limit: 50) { agents { full_name } } }"}]`
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(batch))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Fly-Client-IP", "203.0.113.93")
	req.Header.Set("User-Agent", browser[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var items []gqlResult
	err = json.NewDecoder(resp.Body).Decode(&items)
	resp.Body.Close()
	if err != nil || len(items) != 3 || len(items[0].Errors) > 0 || items[2].code() != "RATE_LIMITED" {
		t.Fatalf("batch over the limit: %d %v %+v", resp.StatusCode, err, items)
	}

	// A user over their own limit is refused, but the address is not blocked for it: others may
	// share it (an office, a TV monitor behind the same router).
	viewer := []string{"Authorization", "Bearer " + tokens[security.RoleViewer]}
	for i := range 8 {
		resp := send("203.0.113.94", viewer...)
		if want := map[bool]int{true: 200, false: 429}[i < 3]; resp.StatusCode != want {
			t.Fatalf("user request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}

	// Requests with bad credentials are charged to their address like anonymous ones.
	for i, want := range []int{200, 200, 200, 429} {
		if resp := send("203.0.113.92", "Authorization", "Bearer junk"); resp.StatusCode != want {
			t.Fatalf("bad credentials, request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}

	// A token this server signed that expired within the hour is charged like them too, but its
	// refusals never block the address: its holder was a legitimate client whose token ran out.
	past, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte(testSecret), AdminUsername: "x", AdminPassword: "y",
		TokenTTL: time.Hour, Now: func() time.Time { return time.Now().Add(-70 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := past.Issue(security.Identity{Username: "night-shift", Role: security.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{200, 200, 200, 429, 429, 429, 429, 429} {
		if resp := send("203.0.113.95", "Authorization", "Bearer "+expired); resp.StatusCode != want {
			t.Fatalf("expired token, request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}

}

// TestIPv6ClientIsBlockedByItsPrefix: a block of an IPv6 client, by a playbook or an
// administrator, covers its /64, which it could otherwise rotate through; the listing shows the
// /64, which unblocks like an address; the incident keeps the exact address.
func TestIPv6ClientIsBlockedByItsPrefix(t *testing.T) {
	const scanner, rotated, neighbour, adminIP = "2001:db8:70:1::1", "2001:db8:70:1::2", "2001:db8:70:2::1", "203.0.113.75"
	assertBlockedBody(t, sqlmapProbe(t, scanner))
	assertBlockedBody(t, get(t, "/api/stats", from(rotated, browser...)...))
	if res := get(t, "/api/stats", from(neighbour, browser...)...); res.Status != http.StatusOK {
		t.Fatalf("another /64: %d %s", res.Status, res.RawBody)
	}

	admin := tokens[security.RoleAdmin]
	adminQuery := func(q string, vars map[string]any, dst any) {
		t.Helper()
		mustDataFrom(t, adminIP, admin, q, vars, dst)
	}
	listed := func(ip string) bool {
		var out struct {
			B []struct {
				IP string `json:"ip"`
			} `json:"blockedAddresses"`
		}
		adminQuery(`{ blockedAddresses { ip } }`, nil, &out)
		return slices.ContainsFunc(out.B, func(b struct {
			IP string `json:"ip"`
		}) bool {
			return b.IP == ip
		})
	}
	if !listed("2001:db8:70:1::/64") || listed(scanner) {
		t.Fatal("blockedAddresses does not show the scanner's /64 (and only it)")
	}
	eventually(t, "the incident with the exact address", func() bool {
		var out struct {
			I []struct {
				IP string `json:"ip"`
			} `json:"securityIncidents"`
		}
		adminQuery(`{ securityIncidents(limit: 100) { ip } }`, nil, &out)
		for _, in := range out.I {
			if in.IP == scanner {
				return true
			}
		}
		return false
	})

	// The listing's /64 unblocks the whole /64.
	var unblocked struct {
		U bool `json:"unblockAddress"`
	}
	adminQuery(`mutation($ip: String!) { unblockAddress(ip: $ip) }`, map[string]any{"ip": "2001:db8:70:1::/64"}, &unblocked)
	if !unblocked.U {
		t.Fatal("unblockAddress(/64) = false")
	}
	if res := get(t, "/api/stats", from(rotated, browser...)...); res.Status != http.StatusOK {
		t.Fatalf("after unblocking the /64: %d %s", res.Status, res.RawBody)
	}

	// An administrator's block of an IPv6 address blocks its /64 too.
	var blk struct {
		B struct {
			IP string `json:"ip"`
		} `json:"blockAddress"`
	}
	adminQuery(`mutation($ip: String!) { blockAddress(ip: $ip, reason: "test", minutes: 5) { ip } }`, map[string]any{"ip": "2001:db8:70:3::9"}, &blk)
	if blk.B.IP != "2001:db8:70:3::/64" {
		t.Fatalf("blockAddress(IPv6) = %+v, want the /64", blk.B)
	}
	assertBlockedBody(t, get(t, "/api/stats", from("2001:db8:70:3::ffff", browser...)...))
	if res := get(t, "/api/stats", from("2001:db8:70:4::9", browser...)...); res.Status != http.StatusOK {
		t.Fatalf("another /64 after an admin block: %d", res.Status)
	}
	// Refused: a /64 that holds this host's loopback address, and prefixes of other lengths.
	for _, ip := range []string{"::2", "::/64", "2001:db8:70::/48", "203.0.113.0/24"} {
		if res := gqlFrom(t, adminIP, admin, `mutation($ip: String!) { blockAddress(ip: $ip, reason: "x") { ip } }`, map[string]any{"ip": ip}, browser...); res.code() != "BAD_USER_INPUT" {
			t.Fatalf("block %s: %s", ip, res.RawBody)
		}
	}
	adminQuery(`mutation($ip: String!) { unblockAddress(ip: $ip) }`, map[string]any{"ip": "2001:db8:70:3::1"}, &unblocked)
	if !unblocked.U {
		t.Fatal("unblockAddress(an address of the blocked /64) = false")
	}
	if res := get(t, "/api/stats", from("2001:db8:70:3::ffff", browser...)...); res.Status != http.StatusOK {
		t.Fatalf("after unblocking: %d", res.Status)
	}
}
