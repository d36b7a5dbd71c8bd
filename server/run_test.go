package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// recordedLogs is a slog.Handler that keeps every record, for tests of what is logged.
type recordedLogs struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (h *recordedLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordedLogs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordedLogs) WithGroup(string) slog.Handler            { return h }
func (h *recordedLogs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

// attrs returns the attributes of the records logged with message msg at level.
func (h *recordedLogs) attrs(level slog.Level, msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if r.Level != level || r.Message != msg {
			continue
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// A request that fails for want of any answer is logged at ERROR with its request id (the
// X-Request-Id the client holds), as docs/deploy.md promises; the cache warmer's lookups, whose
// context is cancelled at shutdown, are not: a cancellation of the context itself logs at debug.
func TestFailureLogs(t *testing.T) {
	s, _ := newBenchServer(t, false)
	logs := &recordedLogs{}
	s.deps.Logger = slog.New(logs)

	ctx := context.WithValue(context.Background(), requestIDKey{}, "req-42")
	if r := s.failure(ctx, errors.New("fill: database exploded")); r.status != 500 {
		t.Fatalf("status %d, want 500", r.status)
	}
	got := logs.attrs(slog.LevelError, "graphql request failed")
	if len(got) != 1 || got[0]["request_id"] != "req-42" {
		t.Fatalf("error records %v, want one with request_id req-42", got)
	}

	stopped, cancel := context.WithCancel(context.Background())
	cancel() // the warmer's context at shutdown
	s.failure(stopped, context.Canceled)
	if got := logs.attrs(slog.LevelError, "graphql request failed"); len(got) != 1 {
		t.Fatalf("a cancellation at shutdown logged at ERROR: %v", got)
	}
	if got := logs.attrs(slog.LevelDebug, "graphql request cancelled"); len(got) != 1 {
		t.Fatalf("debug records %v, want the cancellation once", got)
	}
}

// The request's context carries its id, so that code holding only the context logs it.
func TestRequestContextCarriesRequestID(t *testing.T) {
	s, _ := newBenchServer(t, false)
	c := s.app.AcquireCtx(&fasthttp.RequestCtx{})
	defer s.app.ReleaseCtx(c)
	state(c).id = "req-7"
	if got := requestIDFrom(s.requestContext(c)); got != "req-7" {
		t.Fatalf("request id in the context = %q, want req-7", got)
	}
	state(c).done()
}
