package defense

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/neko-defense/neko/internal/slotcache"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

const mozilla = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// browser is a request with a browser's headers.
func browser(ip, path string, at time.Time) RequestInfo {
	return RequestInfo{IP: ip, Method: "GET", Path: path, UserAgent: mozilla, Now: at,
		Headers: HeaderUserAgent | HeaderAccept | HeaderAcceptLanguage | HeaderAcceptEncoding | HeaderConnection}
}

func newTestScorer(t testing.TB, cfg ScorerConfig) *Scorer {
	t.Helper()
	s, err := NewScorer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScoreRules(t *testing.T) {
	curl := RequestInfo{IP: "ip", Method: "GET", Path: "/api/health", UserAgent: "curl/8.5.0",
		Headers: HeaderUserAgent | HeaderAccept}
	bare := RequestInfo{IP: "ip", Method: "GET", Path: "/api/health"}
	sqlmap := RequestInfo{IP: "ip", Method: "GET", Path: "/", UserAgent: "sqlmap/1.7#stable (https://sqlmap.org)",
		Headers: HeaderUserAgent}
	with := func(r RequestInfo, f func(*RequestInfo)) RequestInfo { f(&r); return r }
	path := func(p string) RequestInfo { return browser("ip", p, t0) }

	tests := []struct {
		name     string
		req      RequestInfo
		raw      int
		action   Action
		category string
		reasons  []string // must all be present
	}{
		{"browser", path("/api/stats"), 0, ActionAllow, "", nil},
		{"curl default user agent", curl, 40, ActionChallenge, CategoryAutomation, []string{"Known attack tool: curl"}},
		{"curl counting every header", with(curl, func(r *RequestInfo) { r.HeaderCount = 2 }), 55, ActionChallenge, CategoryAutomation, []string{"Few headers"}},
		{"curl without version is not the tool", with(curl, func(r *RequestInfo) { r.UserAgent = "curl-like agent" }), 0, ActionAllow, "", nil},
		{"no user agent, no accept", bare, 55, ActionChallenge, CategoryAnomaly,
			[]string{"Missing or short User-Agent", "Few headers", "Missing User-Agent header", "Missing Accept header"}},
		{"short user agent", with(path("/"), func(r *RequestInfo) { r.UserAgent = "Go" }), 20, ActionAllow, "", []string{"Missing or short User-Agent"}},
		{"user agent outside Headers", with(path("/"), func(r *RequestInfo) { r.Headers &^= HeaderUserAgent }), 0, ActionAllow, "", nil},
		{"sqlmap, few headers", sqlmap, 95, ActionBlock, CategoryAutomation, []string{"Known attack tool: sqlmap", "Offensive security tool"}},
		{"sqlmap with browser headers", with(path("/"), func(r *RequestInfo) { r.UserAgent = "sqlmap/1.7#stable (https://sqlmap.org)" }),
			70, ActionBlock, CategoryAutomation, []string{"Known attack tool: sqlmap", "Offensive security tool"}},
		{"sqlmap injecting", with(sqlmap, func(r *RequestInfo) { r.Path = "/api/threat-actors?id=1%20UNION%20SELECT%20password%20FROM%20users" }),
			130, ActionBlock, CategorySQLInjection, []string{"SQL injection pattern"}},
		{"nikto with browser headers", with(path("/"), func(r *RequestInfo) { r.UserAgent = "Mozilla/5.00 (Nikto/2.1.6)" }), 70, ActionBlock, CategoryAutomation, []string{"Known attack tool: nikto"}},
		{"python-requests", with(path("/"), func(r *RequestInfo) { r.UserAgent = "python-requests/2.31.0" }), 40, ActionChallenge, CategoryAutomation, nil},
		{"traversal", path("/files?name=../../etc/passwd"), 35, ActionAllow, "", []string{"Path traversal pattern"}},
		{"encoded traversal", path("/files?name=%2e%2e%2F%2e%2e%2Fetc%2Fpasswd"), 35, ActionAllow, "", []string{"Path traversal pattern"}},
		{"union select from", path("/api/x?q=union+select+name+from+users"), 35, ActionAllow, "", []string{"SQL injection pattern"}},
		{"drop table, upper case", path("/api/x?q=DROP%20TABLE%20actors"), 35, ActionAllow, "", []string{"SQL injection pattern"}},
		{"select without from", path("/api/x?q=select"), 0, ActionAllow, "", nil},
		{"from before select", path("/api/x?from=a&select=b"), 0, ActionAllow, "", nil},
		{"xss", path("/search?q=<script>alert(1)</script>"), 35, ActionAllow, "", []string{"XSS pattern"}},
		{"xss handler", path("/search?q=%3Cimg%20src=x%20onerror=alert(1)%3E"), 35, ActionAllow, "", []string{"XSS pattern"}},
		{"env file", path("/.env"), 35, ActionAllow, "", []string{"Sensitive file pattern"}},
		{"git config", path("/.git/config"), 35, ActionAllow, "", []string{"Sensitive file pattern"}},
		{"admin path", path("/wp-admin/install.php"), 35, ActionAllow, "", []string{"Admin path probe"}},
		{"command", path("/api/x?cmd=system(id)"), 35, ActionAllow, "", []string{"Command injection pattern"}},
		{"traversal + sensitive + admin", path("/admin/../../.env"), 105, ActionBlock, CategoryReconnaissance,
			[]string{"Path traversal pattern", "Sensitive file pattern", "Admin path probe"}},
		{"command injection blocks", path("/admin?x=eval(atob(1))&f=../x"), 105, ActionBlock, CategoryCommandInjection, nil},
		{"large payload", with(path("/graphql"), func(r *RequestInfo) { r.Method = "POST"; r.PayloadSize = 10<<20 + 1 }), 20, ActionAllow, "", []string{"Large payload"}},
		{"payload at the limit", with(path("/graphql"), func(r *RequestInfo) { r.PayloadSize = 10 << 20 }), 0, ActionAllow, "", nil},
		{"authenticated, no headers", with(bare, func(r *RequestInfo) { r.Authenticated = true; r.UserAgent = "tv" }), 20, ActionAllow, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScorer(t, ScorerConfig{})
			if tc.req.Now.IsZero() {
				tc.req.Now = t0
			}
			v := s.Score(tc.req)
			if v.Raw != tc.raw || v.Score != min(tc.raw, 100) || v.Action != tc.action || v.Category != tc.category {
				t.Errorf("Score = raw %d score %d %v %q %v; want raw %d %v %q", v.Raw, v.Score, v.Action, v.Category, v.Reasons, tc.raw, tc.action, tc.category)
			}
			for _, r := range tc.reasons {
				if !slices.Contains(v.Reasons, r) {
					t.Errorf("reasons %v lack %q", v.Reasons, r)
				}
			}
			if (v.Raw == 0) != (v.Reasons == nil) {
				t.Errorf("reasons %v for raw %d", v.Reasons, v.Raw)
			}
		})
	}
}

func TestScoreFrequency(t *testing.T) {
	s := newTestScorer(t, ScorerConfig{})
	// One request a second, no User-Agent, no Accept: 55 each, +15 from the
	// 31st request in 60 s, +30 from the 51st (reference §4.1, verified).
	for i := 1; i <= 55; i++ {
		v := s.Score(RequestInfo{IP: "203.0.113.5", Method: "GET", Path: "/api/health", Now: t0.Add(time.Duration(i-1) * time.Second)})
		want := 55
		switch {
		case i > 50:
			want = 85
		case i > 30:
			want = 70
		}
		if v.Raw != want {
			t.Fatalf("request %d: raw %d, want %d (%v)", i, v.Raw, want, v.Reasons)
		}
		if blocked := v.Action == ActionBlock; blocked != (i >= 31) {
			t.Fatalf("request %d: action %v", i, v.Action)
		}
		if i == 31 && v.Category != CategoryRateLimit {
			t.Errorf("category %q, want %q", v.Category, CategoryRateLimit)
		}
	}
	// A minute of silence empties the window.
	v := s.Score(RequestInfo{IP: "203.0.113.5", Method: "GET", Path: "/api/health", Now: t0.Add(55*time.Second + time.Minute)})
	if v.Raw != 55 {
		t.Errorf("after a quiet minute: raw %d, want 55", v.Raw)
	}
	// The window slides: 40 requests in second 0, then one at second 59
	// sees 41, one at second 60 sees only itself.
	s = newTestScorer(t, ScorerConfig{})
	r := browser("198.51.100.1", "/", t0)
	for range 40 {
		s.Score(r)
	}
	r.Now = t0.Add(59 * time.Second)
	if v := s.Score(r); !slices.Contains(v.Reasons, "Elevated request rate") {
		t.Errorf("second 59: %v, want elevated rate", v.Reasons)
	}
	r.Now = t0.Add(60 * time.Second)
	if v := s.Score(r); v.Raw != 0 {
		t.Errorf("second 60: %d %v, want 0", v.Raw, v.Reasons)
	}
}

func TestScoreMustHold(t *testing.T) {
	t.Run("browser at 2 req/s for 2 minutes is never blocked", func(t *testing.T) {
		s := newTestScorer(t, ScorerConfig{})
		peak := 0
		for i := range 240 {
			v := s.Score(browser("192.0.2.10", "/api/threat-counts", t0.Add(time.Duration(i)*500*time.Millisecond)))
			if v.Action == ActionBlock {
				t.Fatalf("request %d blocked: %d %v", i, v.Raw, v.Reasons)
			}
			peak = max(peak, v.Raw)
		}
		if peak != 30 {
			t.Errorf("peak score %d, want 30 (high rate only)", peak)
		}
	})
	t.Run("authenticated monitor with a short user agent polling every 5s", func(t *testing.T) {
		s := newTestScorer(t, ScorerConfig{})
		paths := []string{"/api/stats", "/api/threat-counts", "/api/health", "/api/dina/stats", "/graphql"}
		for i := range 720 { // an hour
			v := s.Score(RequestInfo{IP: "192.0.2.20", Method: "GET", Path: paths[i%len(paths)], UserAgent: "tv/1",
				Authenticated: true, Now: t0.Add(time.Duration(i) * 5 * time.Second)})
			if v.Action != ActionAllow {
				t.Fatalf("poll %d: %v %d %v", i, v.Action, v.Raw, v.Reasons)
			}
		}
	})
	t.Run("authenticated dashboard bursting is not rate-penalised", func(t *testing.T) {
		s := newTestScorer(t, ScorerConfig{})
		for i := range 200 {
			r := browser("192.0.2.21", "/graphql?op="+strconv.Itoa(i), t0.Add(time.Duration(i)*10*time.Millisecond))
			r.Authenticated = true
			if v := s.Score(r); v.Raw != 0 {
				t.Fatalf("request %d: %d %v", i, v.Raw, v.Reasons)
			}
		}
	})
	t.Run("scanner flooding distinct URLs gets the scan score", func(t *testing.T) {
		s := newTestScorer(t, ScorerConfig{})
		for i := 1; i <= 20; i++ {
			v := s.Score(browser("192.0.2.30", "/api/threat-actors?page="+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second)))
			if scanning := slices.Contains(v.Reasons, "Endpoint scanning"); scanning != (i >= 16) {
				t.Fatalf("request %d: reasons %v", i, v.Reasons)
			}
			if i >= 16 && v.Raw != 25 {
				t.Fatalf("request %d: raw %d, want 25", i, v.Raw)
			}
		}
	})
	t.Run("sqlmap scanning is blocked", func(t *testing.T) {
		s := newTestScorer(t, ScorerConfig{})
		var v Verdict
		for i := range 20 {
			v = s.Score(RequestInfo{IP: "192.0.2.40", Method: "GET", Path: "/?id=" + strconv.Itoa(i), UserAgent: "sqlmap/1.7",
				Headers: HeaderUserAgent, Now: t0.Add(time.Duration(i) * time.Second)})
		}
		if v.Action != ActionBlock || v.Raw != 120 {
			t.Errorf("after 20 probes: %v %d %v", v.Action, v.Raw, v.Reasons)
		}
	})
}

func TestScoreBehaviour(t *testing.T) {
	s := newTestScorer(t, ScorerConfig{})
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	var v Verdict
	for i := range 10 {
		r := browser("192.0.2.50", "/graphql", t0.Add(time.Duration(i)*time.Second))
		r.UserAgent = fmt.Sprintf("%s agent-%d", mozilla, i%4)
		r.Method = methods[i%4]
		v = s.Score(r)
		if i < 9 && v.Raw != 0 {
			t.Fatalf("request %d scored %d %v before 10 requests of history", i, v.Raw, v.Reasons)
		}
	}
	if v.Raw != 25 || !slices.Contains(v.Reasons, "Multiple user agents") || !slices.Contains(v.Reasons, "Multiple HTTP methods") {
		t.Errorf("10th request: %d %v, want 25 from both behaviour rules", v.Raw, v.Reasons)
	}
	// Three agents and three methods are within the norm.
	s = newTestScorer(t, ScorerConfig{})
	for i := range 12 {
		r := browser("192.0.2.51", "/graphql", t0.Add(time.Duration(i)*time.Second))
		r.UserAgent = fmt.Sprintf("%s agent-%d", mozilla, i%3)
		r.Method = methods[i%3]
		if v := s.Score(r); v.Raw != 0 {
			t.Fatalf("request %d: %d %v", i, v.Raw, v.Reasons)
		}
	}
}

func TestScoreTiming(t *testing.T) {
	tests := []struct {
		name    string
		observe []time.Duration
		want    bool
	}{
		{"no data", nil, false},
		{"too few observations", []time.Duration{300, 300, 300, 10}, false},
		{"fast after slow", []time.Duration{300, 300, 300, 300, 300, 10}, true},
		{"uniformly slow", []time.Duration{300, 300, 300, 300, 300, 300}, false},
		{"uniformly fast", []time.Duration{50, 50, 50, 50, 50, 5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScorer(t, ScorerConfig{})
			s.Observe("192.0.2.60", time.Second) // unknown address: ignored
			for i, d := range tc.observe {
				s.Score(browser("192.0.2.60", "/api/stats", t0.Add(time.Duration(i)*time.Second)))
				s.Observe("192.0.2.60", d*time.Millisecond)
			}
			v := s.Score(browser("192.0.2.60", "/api/stats", t0.Add(time.Minute)))
			if got := slices.Contains(v.Reasons, "Unusual response timing"); got != tc.want || (tc.want && v.Raw != 10) {
				t.Errorf("timing rule = %v (%d %v), want %v", got, v.Raw, v.Reasons, tc.want)
			}
		})
	}
}

func TestScorerMemoryBounds(t *testing.T) {
	s := newTestScorer(t, ScorerConfig{MaxTracked: 3})
	for i := range 10 {
		s.Score(browser("10.0.0."+strconv.Itoa(i), "/", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	if n := s.Tracked(); n != 3 {
		t.Fatalf("Tracked = %d, want 3", n)
	}
	// 10.0.0.7 is the least recently seen of the three kept; touching it
	// keeps it over 10.0.0.8 when a new address arrives.
	s.Score(browser("10.0.0.7", "/", t0.Add(time.Second)))
	s.Score(browser("10.0.0.99", "/", t0.Add(time.Second)))
	sh := &s.shards[0]
	var kept []string
	for ip := range sh.idx {
		kept = append(kept, ip)
	}
	slices.Sort(kept)
	if want := []string{"10.0.0.7", "10.0.0.9", "10.0.0.99"}; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}

	// A history idle for longer than IdleReset starts over.
	s = newTestScorer(t, ScorerConfig{IdleReset: time.Hour})
	for i := range 20 {
		s.Score(browser("10.1.0.1", "/p"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second)))
	}
	if v := s.Score(browser("10.1.0.1", "/q", t0.Add(2*time.Hour))); v.Raw != 0 {
		t.Errorf("after 2h idle: %d %v", v.Raw, v.Reasons)
	}
	// A clock going backwards is tolerated.
	if v := s.Score(browser("10.1.0.1", "/q", t0)); v.Raw != 0 {
		t.Errorf("backwards clock: %d %v", v.Raw, v.Reasons)
	}

	size := unsafe.Sizeof(addrState{})
	if size > 360 {
		t.Errorf("addrState is %d bytes; the documented bound is about 350 per address", size)
	}
	t.Logf("per-address state: %d bytes (+ key and map entry); 100k addresses ≈ %.1f MB", size, float64(size+48)*100_000/1e6)
}

func TestNewScorerValidates(t *testing.T) {
	for _, cfg := range []ScorerConfig{
		{BlockThreshold: 40, ChallengeThreshold: 40},
		{BlockThreshold: -1},
		{MaxTracked: -1},
		{IdleReset: -time.Second},
	} {
		if _, err := NewScorer(cfg); err == nil {
			t.Errorf("NewScorer(%+v) accepted", cfg)
		}
	}
	s := newTestScorer(t, ScorerConfig{BlockThreshold: 50, ChallengeThreshold: 10})
	v := s.Score(RequestInfo{IP: "x", Path: "/", Now: t0})
	if v.Action != ActionBlock {
		t.Errorf("custom threshold 50: %v at %d", v.Action, v.Raw)
	}
}

func BenchmarkScore(b *testing.B) {
	s := newTestScorer(b, ScorerConfig{})
	const ips = 50_000
	names := make([]string, ips)
	for i := range names {
		names[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	paths := []string{"/graphql", "/api/stats", "/api/threat-actors?category=ransomware", "/api/health"}
	var seq atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(1)) * 7919
		r := browser("", "", t0)
		for pb.Next() {
			i++
			r.IP = names[i%ips]
			r.Path = paths[i%len(paths)]
			r.Now = t0.Add(time.Duration(i) * time.Millisecond)
			s.Score(r)
		}
	})
}

func BenchmarkScoreHostile(b *testing.B) {
	s := newTestScorer(b, ScorerConfig{})
	r := RequestInfo{IP: "203.0.113.9", Method: "GET", Path: "/api/x?id=1%20UNION%20SELECT%20pw%20FROM%20users&f=../../etc/passwd",
		UserAgent: "sqlmap/1.7", Now: t0}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Now = t0.Add(time.Duration(i) * time.Millisecond)
		s.Score(r)
	}
}

// The memoized user-agent and path rules answer exactly what computing them answers, for texts
// seen before, texts sharing a slot, and texts too long to keep.
func TestScoreTextMemo(t *testing.T) {
	m := slotcache.New[string, flags](memoSlots)
	long := "/" + strings.Repeat("a", memoMaxText) + "/.env"
	texts := []string{"/", "/.env", "/api/x?q=union+select+a+from+b", long}
	for i := range 3 * memoSlots { // more texts than slots: collisions must recompute
		texts = append(texts, "/api/threat-actors/"+strconv.Itoa(i))
	}
	for round := range 2 {
		for _, text := range texts {
			if got, want := memoized(m, text, pathFlags), pathFlags(text); got != want {
				t.Fatalf("round %d: %q: memo %b, computed %b", round, text, got, want)
			}
		}
	}
}

func TestKeptHeader(t *testing.T) {
	for name, want := range map[string]HeaderSet{
		"User-Agent": HeaderUserAgent, "accept": HeaderAccept, "ACCEPT-LANGUAGE": HeaderAcceptLanguage,
		"Content-Type": HeaderContentType, "X-Api-Key": 0, "Acceptx": 0,
	} {
		if got := KeptHeader([]byte(name)); got != want {
			t.Errorf("KeptHeader(%q) = %b, want %b", name, got, want)
		}
	}
}
