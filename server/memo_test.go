package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The memo's answers are bounded in bytes, not only in number: 300 distinct answers of 200 KB
// (60 MB) leave it holding at most memoMaxBytes.
func TestMemoBoundedInBytes(t *testing.T) {
	s, _ := newBenchServer(t, false)
	answer := result{status: 200, body: []byte(strings.Repeat("x", 200<<10)), etag: `"e"`, xCache: "MISS"}
	held := 0
	for i := range 300 {
		c := s.app.AcquireCtx(&fasthttp.RequestCtx{})
		c.Request().Header.SetMethod("GET")
		c.Request().SetRequestURI(fmt.Sprintf("/api/threat-actors?z=%d", i))
		s.memo.put(c, "application/json", answer, s.memo.gen(), time.Minute)
		s.app.ReleaseCtx(c)
	}
	s.memo.entries.Range(func(_, v any) bool {
		held += len(v.(*memoEntry).answer.body)
		return true
	})
	if held > memoMaxBytes || held == 0 {
		t.Fatalf("the memo holds %d bytes of answers, bound %d", held, memoMaxBytes)
	}
}

// An answer computed across an invalidation is not remembered: it may hold data from before the
// write (QA: a statistics read started on one instance, a mutation on another, and the slow
// read's old answer, put in the memo under the new generation, came back as a HIT on every
// repeat until its max-age).
func TestMemoForgetsAnswersComputedAcrossAnInvalidation(t *testing.T) {
	s, _ := newBenchServer(t, false)
	answer := result{status: 200, body: []byte(`{"data":{"n":320}}`), etag: `"e"`, xCache: "MISS", cost: 1}
	c := s.app.AcquireCtx(&fasthttp.RequestCtx{})
	defer s.app.ReleaseCtx(c)
	c.Request().Header.SetMethod("GET")
	c.Request().SetRequestURI("/api/threat-counts")
	_, gen, ok := s.memo.get(c, "application/json", time.Now())
	if ok {
		t.Fatal("a hit before anything was put")
	}
	// The answer is being computed; a mutation (here or on another instance) invalidates.
	if err := s.deps.Cache.(interface {
		Invalidate(ctx context.Context, tags ...string) error
	}).Invalidate(t.Context(), "DINAStatistics"); err != nil {
		t.Fatal(err)
	}
	s.memo.put(c, "application/json", answer, gen, time.Minute)
	if _, _, ok := s.memo.get(c, "application/json", time.Now()); ok {
		t.Fatal("the answer computed across the invalidation is served from the memo")
	}
	// Computed after it, it is.
	_, gen, _ = s.memo.get(c, "application/json", time.Now())
	s.memo.put(c, "application/json", answer, gen, time.Minute)
	if _, _, ok := s.memo.get(c, "application/json", time.Now()); !ok {
		t.Fatal("an answer computed within one generation is not remembered")
	}
}
