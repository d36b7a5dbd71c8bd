package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resilience"
)

// GraphQL requests are charged by the GraphQL handler: a repeat answered from the memo costs one
// charge of its whole cost (here 1), a malformed request still costs its arrival token, and once
// the tokens are gone both are refused with 429 before any other work.
func TestGraphQLRateLimitCharges(t *testing.T) {
	s, _ := newBenchServer(t, true)
	s.deps.RateLimit.Anonymous = resilience.Limit{Rate: 0.001, Burst: 5}
	handler := s.app.Handler()
	addr := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 40000}
	send := func(body string) (status, remaining int) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Init(graphQLPost(body, ""), addr, nil)
		handler(&ctx)
		remaining, _ = strconv.Atoi(string(ctx.Response.Header.Peek("RateLimit-Remaining")))
		return ctx.Response.StatusCode(), remaining
	}
	const query, malformed = `{"query":"{ ok }"}`, `{"query":`
	for i, step := range []struct {
		body              string
		status, remaining int
	}{
		{query, 200, 4},     // executed and cached: the arrival token (the operation costs no more)
		{query, 200, 3},     // a remembered repeat: one charge
		{malformed, 400, 2}, // malformed JSON: its arrival token
		{query, 200, 1},
		{query, 200, 0},
		{query, 429, 0},     // no tokens left: refused, remembered answer or not
		{malformed, 429, 0}, // refused before the body is read
	} {
		if status, remaining := send(step.body); status != step.status || remaining != step.remaining {
			t.Fatalf("request %d: status %d remaining %d, want %d and %d", i, status, remaining, step.status, step.remaining)
		}
	}
}

// A 503 from an open circuit breaker tells the client when the breaker will probe again, both as
// a request error (handleError) and inside a GraphQL response (retryAfterOf).
func TestRetryAfterFollowsTheBreaker(t *testing.T) {
	s, _ := newBenchServer(t, false)
	b, err := resilience.NewBreaker(resilience.BreakerConfig{Name: "mongodb", Timeout: 30 * time.Second, ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Do(context.Background(), func(context.Context) error { return errors.New("down") })
	refused := b.Do(context.Background(), func(context.Context) error { return nil })
	if !errors.Is(refused, resilience.ErrBreakerOpen) {
		t.Fatalf("breaker did not refuse: %v", refused)
	}
	c := s.app.AcquireCtx(&fasthttp.RequestCtx{})
	defer s.app.ReleaseCtx(c)
	if err := s.handleError(c, fmt.Errorf("load actors: %w", refused)); err != nil {
		t.Fatal(err)
	}
	if got := string(c.Response().Header.Peek("Retry-After")); c.Response().StatusCode() != 503 || (got != "30" && got != "29") {
		t.Fatalf("handleError: status %d Retry-After %q, want 503 and 30", c.Response().StatusCode(), got)
	}
	fieldErr := &graphql.Error{Message: "unavailable", Err: refused}
	if got := retryAfterOf([]*graphql.Error{{Message: "other"}, fieldErr}); got < 29*time.Second || got > 30*time.Second {
		t.Fatalf("retryAfterOf = %v, want ~30s", got)
	}
	if r := s.failure(context.Background(), fmt.Errorf("fill: %w", refused)); r.status != 503 || r.retryAfter < 29*time.Second {
		t.Fatalf("a failed cache fill: status %d, retry after %v; want 503 and ~30s", r.status, r.retryAfter)
	}
}

// A request shed under overload is counted in neko_http_requests_total like any other, under the
// route "refused"; an unknown path under "unmatched".
func TestShedRequestsAreCounted(t *testing.T) {
	s, _ := newBenchServer(t, false)
	shedder, err := resilience.NewShedder(1)
	if err != nil {
		t.Fatal(err)
	}
	s.deps.Shedder = shedder
	release, ok := shedder.Acquire() // the one slot is taken
	if !ok {
		t.Fatal("could not take the slot")
	}
	serve := func(path string) int {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		req.SetRequestURI(path)
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(198, 51, 100, 8), Port: 40000}, nil)
		s.app.Handler()(&ctx)
		return ctx.Response.StatusCode()
	}
	if status := serve("/api/stats"); status != 503 {
		t.Fatalf("with no slot free: status %d, want 503", status)
	}
	if got := testutil.ToFloat64(s.deps.Metrics.HTTPRequests.WithLabelValues("refused", "503")); got != 1 {
		t.Fatalf(`neko_http_requests_total{route="refused",status="503"} = %v, want 1`, got)
	}
	release()
	if status := serve("/no/such/path"); status != 404 {
		t.Fatalf("unknown path: status %d, want 404", status)
	}
	if got := testutil.ToFloat64(s.deps.Metrics.HTTPRequests.WithLabelValues("unmatched", "404")); got != 1 {
		t.Fatalf(`neko_http_requests_total{route="unmatched",status="404"} = %v, want 1`, got)
	}
}

// Behind trusted proxies the client is the rightmost X-Forwarded-For address that is not a proxy:
// what a client writes into the header itself, to the left, is never believed.
func TestForwardedClientIgnoresForgedEntries(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	cases := []struct {
		headers []string
		want    string // "" for no usable address
	}{
		{[]string{"198.51.100.7"}, "198.51.100.7"},
		{[]string{"1.2.3.4, 198.51.100.7"}, "198.51.100.7"},             // a forged entry on the left
		{[]string{"198.51.100.7, 10.1.1.1"}, "198.51.100.7"},            // a second proxy appended
		{[]string{"1.2.3.4", "198.51.100.7, 10.2.2.2"}, "198.51.100.7"}, // headers in order
		{[]string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},                    // only proxies: the leftmost
		{[]string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{[]string{"junk, 198.51.100.7"}, "198.51.100.7"},
		{[]string{"198.51.100.7, junk"}, ""},
		{nil, ""},
	}
	for _, c := range cases {
		var headers [][]byte
		for _, h := range c.headers {
			headers = append(headers, []byte(h))
		}
		got, ok := s.forwardedClient(headers)
		if c.want == "" && ok || c.want != "" && (!ok || got.String() != c.want) {
			t.Errorf("X-Forwarded-For %q: got %v %v, want %q", c.headers, got, ok, c.want)
		}
	}
}

// Every operation of a batch costs at least one token, as it would sent alone: a batch of N cheap
// operations spends N tokens, and the operations beyond the tokens left are answered RATE_LIMITED.
func TestGraphQLBatchChargesEachOperation(t *testing.T) {
	s, _ := newBenchServer(t, true)
	s.deps.RateLimit.Anonymous = resilience.Limit{Rate: 0.001, Burst: 10}
	handler := s.app.Handler()
	addr := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 8), Port: 40000}
	send := func(body string) (status, remaining int, answer string) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Init(graphQLPost(body, ""), addr, nil)
		handler(&ctx)
		remaining, _ = strconv.Atoi(string(ctx.Response.Header.Peek("RateLimit-Remaining")))
		return ctx.Response.StatusCode(), remaining, string(ctx.Response.Body())
	}
	op := `{"query":"{ ok }"}`
	batch := "[" + op + "," + op + "," + op + "," + op + "]"
	if status, remaining, answer := send(batch); status != 200 || remaining != 6 {
		t.Fatalf("batch of 4: status %d remaining %d (%s), want 200 and 6", status, remaining, answer)
	}
	if status, remaining, answer := send(batch); status != 200 || remaining != 2 {
		t.Fatalf("second batch of 4: status %d remaining %d (%s), want 200 and 2", status, remaining, answer)
	}
	status, remaining, answer := send(batch)
	if status != 200 || remaining != 0 || strings.Count(answer, "RATE_LIMITED") != 2 || strings.Count(answer, `"ok":true`) != 2 {
		t.Fatalf("third batch of 4 with 2 tokens left: status %d remaining %d %s, want 2 answers and 2 RATE_LIMITED", status, remaining, answer)
	}
}

// An automatic persisted query registration is charged one token per KiB of the text it stores
// (at least one), before it is stored: with too few tokens it is refused and nothing is kept.
func TestPersistedQueryRegistrationChargesItsSize(t *testing.T) {
	s, _ := newBenchServer(t, true)
	s.deps.RateLimit.Anonymous = resilience.Limit{Rate: 0.001, Burst: 8}
	apq, err := cache.NewPersistedQueries(cache.PersistedConfig{Logger: s.deps.Logger})
	if err != nil {
		t.Fatal(err)
	}
	s.deps.APQ = apq
	handler := s.app.Handler()
	addr := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 9), Port: 40000}
	register := func(query string) (status, remaining int, hash string) {
		t.Helper()
		sum := sha256.Sum256([]byte(query))
		hash = hex.EncodeToString(sum[:])
		body, _ := json.Marshal(map[string]any{"query": query,
			"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}})
		var ctx fasthttp.RequestCtx
		ctx.Init(graphQLPost(string(body), ""), addr, nil)
		handler(&ctx)
		remaining, _ = strconv.Atoi(string(ctx.Response.Header.Peek("RateLimit-Remaining")))
		return ctx.Response.StatusCode(), remaining, hash
	}
	padded := func(n int) string { // a valid query of n bytes
		q := "{ ok }\n#"
		return q + strings.Repeat("x", n-len(q))
	}
	// 2.5 KiB: the arrival token, then 3 for the registration.
	if status, remaining, hash := register(padded(2560)); status != 200 || remaining != 4 {
		t.Fatalf("registering 2.5 KiB: status %d remaining %d, want 200 and 4", status, remaining)
	} else if _, ok := apq.Get(context.Background(), hash); !ok {
		t.Fatal("the paid registration was not stored")
	}
	// 4 KiB with 3 tokens left after arrival: refused, and not stored.
	status, remaining, hash := register(padded(4096))
	if status != 429 || remaining > 3 {
		t.Fatalf("registering 4 KiB with 4 tokens: status %d remaining %d, want 429", status, remaining)
	}
	if _, ok := apq.Get(context.Background(), hash); ok {
		t.Fatal("a refused registration was stored")
	}
}

// An IPv6 client holds a whole /64 and picks addresses in it at will: the anonymous rate limit,
// its escalation and the block list count it as its /64, while another /64 and IPv4 neighbours
// are other clients.
func TestIPv6ClientIsItsPrefix(t *testing.T) {
	s, _ := newBenchServer(t, true)
	s.deps.RateLimit.Anonymous = resilience.Limit{Rate: 0.001, Burst: 5}
	handler := s.app.Handler()
	send := func(peer string) int {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Init(graphQLPost(`{"query":"{ ok }"}`, ""), &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}, nil)
		handler(&ctx)
		return ctx.Response.StatusCode()
	}
	for i := range 5 {
		if status := send(fmt.Sprintf("2001:db8:1:2::%x", i+1)); status != 200 {
			t.Fatalf("request %d: status %d", i+1, status)
		}
	}
	if status := send("2001:db8:1:2::6"); status != 429 {
		t.Fatalf("a fresh address of the exhausted /64: status %d, want 429", status)
	}
	if status := send("2001:db8:1:3::1"); status != 200 {
		t.Fatalf("another /64: status %d, want 200", status)
	}
	// Two more refusals, each from yet another address, escalate to a block of the /64
	// (the RATE_LIMIT_VIOLATION playbook), which refuses the whole /64 and nothing else.
	for _, peer := range []string{"2001:db8:1:2::7", "2001:db8:1:2::8"} {
		if status := send(peer); status != 429 {
			t.Fatalf("%s: status %d, want 429", peer, status)
		}
	}
	if _, _, ok := s.deps.Defense.BlockList.Blocked("2001:db8:1:2::/64"); !ok {
		t.Fatalf("no block of the /64 after three refusals: %+v", s.deps.Defense.BlockList.List())
	}
	if status := send("2001:db8:1:2:ffff::1"); status != 403 {
		t.Fatalf("an unused address of the blocked /64: status %d, want 403", status)
	}
	if status := send("2001:db8:1:3::2"); status != 200 {
		t.Fatalf("another /64 after the block: status %d, want 200", status)
	}
	// IPv4 stays per address.
	for i := range 5 {
		if status := send("198.51.100.20"); status != 200 {
			t.Fatalf("IPv4 request %d: status %d", i+1, status)
		}
	}
	if status := send("198.51.100.20"); status != 429 {
		t.Fatalf("IPv4 over its limit: status %d, want 429", status)
	}
	if status := send("198.51.100.21"); status != 200 {
		t.Fatalf("IPv4 neighbour: status %d, want 200", status)
	}
	// The threat scorer keeps one history per client: two /64s (seven addresses scored) and two
	// IPv4 addresses.
	if n := s.deps.Defense.Scorer.Tracked(); n != 4 {
		t.Errorf("scorer tracks %d histories, want 4 (one per /64, one per IPv4 address)", n)
	}
}

// The client's exact address is kept for evidence; the key every limit uses is derived from it.
func TestClientAddrKeys(t *testing.T) {
	s, _ := newBenchServer(t, false)
	for _, c := range []struct{ name, addr, text, key, limitKey string }{
		{"IPv4", "203.0.113.9", "203.0.113.9", "203.0.113.9", "ip:203.0.113.9"},
		{"IPv6", "2001:db8:1:2::7", "2001:db8:1:2::7", "2001:db8:1:2::/64", "ip:2001:db8:1:2::/64"},
		{"IPv6 with zone", "fe80::1%eth0", "fe80::1%eth0", "fe80::/64", "ip:fe80::/64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := s.addrOf(netip.MustParseAddr(c.addr))
			if e.text != c.text || e.key != c.key || e.limitKey != c.limitKey {
				t.Errorf("addrOf(%s) = %+v, want text %q key %q limit key %q", c.addr, *e, c.text, c.key, c.limitKey)
			}
		})
	}
}
