package server

import (
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
		s.memo.put(c, "application/json", answer, 1, time.Minute)
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
