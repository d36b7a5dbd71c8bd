package server

import (
	"net"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

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
		var req fasthttp.Request
		req.SetRequestURI("/graphql")
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
		req.Header.Set("Accept", "application/json")
		req.SetBodyString(body)
		ctx.Init(&req, addr, nil)
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
