package security

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store"
)

// fakeWriter is an in-memory AuditWriter that can be made to fail.
type fakeWriter struct {
	mu       sync.Mutex // guards stored, calls, maxBatch, fail
	stored   map[bson.ObjectID]store.AuditEvent
	calls    int
	maxBatch int
	fail     bool
	wrote    chan int // when set, receives (non-blocking) the size of every write attempt
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{stored: map[bson.ObjectID]store.AuditEvent{}, wrote: make(chan int, 1000)}
}

func (w *fakeWriter) InsertAuditEvents(ctx context.Context, evs []store.AuditEvent) error {
	w.mu.Lock()
	w.calls++
	w.maxBatch = max(w.maxBatch, len(evs))
	fail := w.fail
	if !fail {
		for _, ev := range evs {
			w.stored[ev.ID] = ev // idempotent by ID, as the real store
		}
	}
	w.mu.Unlock()
	select {
	case w.wrote <- len(evs):
	default:
	}
	if fail {
		return errors.New("database unavailable")
	}
	return ctx.Err()
}

func (w *fakeWriter) setFail(f bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = f
}

func (w *fakeWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.stored)
}

func newTestAudit(t *testing.T, w *fakeWriter, mutate ...func(*AuditConfig)) *AuditLog {
	t.Helper()
	cfg := AuditConfig{Writer: w, FlushInterval: time.Hour, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	l, err := NewAuditLog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAuditCloseLosesNothing records events from many goroutines just before Close and finds
// every one of them written after Close returns.
func TestAuditCloseLosesNothing(t *testing.T) {
	w := newFakeWriter()
	l := newTestAudit(t, w)
	const n = 1050
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range n / 10 {
				l.Record(AuditEvent{Category: CategoryData, Action: fmt.Sprintf("g%d-%d", g, i), Result: ResultSuccess})
			}
		})
	}
	wg.Wait()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.count(); got != n {
		t.Fatalf("stored %d events, want %d", got, n)
	}
	if w.maxBatch > 100 {
		t.Fatalf("largest write = %d events, want at most BatchSize 100", w.maxBatch)
	}
	if l.Dropped() != 0 || l.Buffered() != 0 {
		t.Fatalf("dropped %d, buffered %d", l.Dropped(), l.Buffered())
	}
	// Closed: further events are dropped, not buffered forever.
	l.Record(AuditEvent{Action: "late"})
	if l.Dropped() != 1 || l.Buffered() != 0 {
		t.Fatalf("after close: dropped %d, buffered %d", l.Dropped(), l.Buffered())
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestAuditFlushesFullBatch(t *testing.T) {
	w := newFakeWriter()
	l := newTestAudit(t, w, func(c *AuditConfig) { c.BatchSize = 10 })
	defer l.Close(context.Background())
	for i := range 10 {
		l.Record(AuditEvent{Action: fmt.Sprint(i)})
	}
	select {
	case n := <-w.wrote:
		if n != 10 {
			t.Fatalf("wrote %d, want a batch of 10", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch was not written before FlushInterval")
	}
}

func TestAuditFlushesOnInterval(t *testing.T) {
	w := newFakeWriter()
	l := newTestAudit(t, w, func(c *AuditConfig) { c.FlushInterval = 5 * time.Millisecond })
	defer l.Close(context.Background())
	clockTime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.Record(AuditEvent{Time: clockTime, Level: LevelWarn, Category: CategoryAuth, Action: "login",
		Actor: AuditActor{IP: "203.0.113.5", UserID: "bob"}, Resource: AuditResource{Type: "user", ID: "bob"},
		Result: ResultFailure, Details: map[string]any{"k": "v"}, ThreatScore: 12, Tags: []string{"authentication"}})
	l.Record(AuditEvent{Action: "no-resource"})
	select {
	case <-w.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("no write after FlushInterval")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var got, plain store.AuditEvent
	for _, ev := range w.stored {
		if ev.Action == "login" {
			got = ev
		} else {
			plain = ev
		}
	}
	if got.ID.IsZero() || !got.Timestamp.Equal(clockTime) || got.Level != "warn" || got.Category != "auth" ||
		got.Actor.IP != "203.0.113.5" || got.Resource == nil || got.Resource.ID != "bob" || got.Result != "failure" ||
		got.Details["k"] != "v" || got.ThreatScore != 12 || len(got.Tags) != 1 {
		t.Fatalf("stored event = %+v", got)
	}
	if plain.Level != "info" || plain.Resource != nil || plain.Timestamp.IsZero() {
		t.Fatalf("defaults: %+v", plain)
	}
}

// TestAuditBoundedWhileWriterFails: with the database down, memory stays at MaxBuffered, the
// excess is dropped and counted, writes are retried, and the kept events are written once the
// database is back.
func TestAuditBoundedWhileWriterFails(t *testing.T) {
	w := newFakeWriter()
	w.setFail(true)
	var onDrop atomic.Int64
	l := newTestAudit(t, w, func(c *AuditConfig) {
		c.BatchSize, c.MaxBuffered = 10, 50
		c.OnDrop = func() { onDrop.Add(1) }
	})
	for i := range 200 {
		l.Record(AuditEvent{Action: fmt.Sprint(i)})
		if b := l.Buffered(); b > 50 {
			t.Fatalf("buffered %d > MaxBuffered", b)
		}
	}
	if l.Buffered() != 50 || l.Dropped() != 150 || onDrop.Load() != 150 {
		t.Fatalf("buffered %d, dropped %d, OnDrop %d; want 50, 150, 150", l.Buffered(), l.Dropped(), onDrop.Load())
	}
	for range 3 { // failed writes are retried
		select {
		case <-w.wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("no retry")
		}
	}
	if l.Buffered() != 50 {
		t.Fatalf("a failed write lost events: buffered %d", l.Buffered())
	}
	w.setFail(false)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.count() != 50 || l.Dropped() != 150 {
		t.Fatalf("after recovery: stored %d, dropped %d; want 50, 150", w.count(), l.Dropped())
	}
}

func TestAuditCloseGivesUpAtDeadline(t *testing.T) {
	w := newFakeWriter()
	w.setFail(true)
	l := newTestAudit(t, w)
	for range 7 {
		l.Record(AuditEvent{Action: "x"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := l.Close(ctx)
	if err == nil {
		t.Fatal("Close reported success with the writer down")
	}
	if l.Dropped() != 7 || l.Buffered() != 0 {
		t.Fatalf("dropped %d, buffered %d; want 7, 0", l.Dropped(), l.Buffered())
	}
}

func TestAuditConfigValidates(t *testing.T) {
	w := newFakeWriter()
	for name, cfg := range map[string]AuditConfig{
		"no writer":          {},
		"negative":           {Writer: w, BatchSize: -1},
		"cap below batch":    {Writer: w, BatchSize: 100, MaxBuffered: 10},
		"negative retry min": {Writer: w, RetryMin: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewAuditLog(cfg); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestAuditNilLog(t *testing.T) {
	var l *AuditLog
	l.Record(AuditEvent{Action: "x"}) // must not panic
	if l.Dropped() != 0 || l.Buffered() != 0 {
		t.Fatal("nil log has state")
	}
}

func TestAuditEventHelpers(t *testing.T) {
	if ev := AuthEvent("login", ResultFailure, "1.2.3.4", "bob"); ev.Level != LevelWarn || ev.Category != CategoryAuth ||
		ev.Actor.IP != "1.2.3.4" || ev.Actor.UserID != "bob" {
		t.Fatalf("AuthEvent = %+v", ev)
	}
	if ev := AuthEvent("login", ResultSuccess, "", "bob"); ev.Level != LevelInfo {
		t.Fatalf("success level = %v", ev.Level)
	}
	for score, want := range map[int]AuditLevel{0: LevelInfo, 39: LevelInfo, 40: LevelWarn, 69: LevelWarn, 70: LevelCritical, 100: LevelCritical} {
		if ev := ThreatEvent("scan", "1.2.3.4", score, ResultBlocked); ev.Level != want || ev.ThreatScore != score {
			t.Errorf("ThreatEvent(%d) level = %v, want %v", score, ev.Level, want)
		}
	}
}

func TestLoginIsAudited(t *testing.T) {
	w := newFakeWriter()
	l := newTestAudit(t, w)
	a := newUserAuth(t, newFakeUsers(t), newFakeClock(), func(c *AuthConfig) {
		c.Audit = l
		c.Throttle.PerUser = 1
	})
	if err := a.BootstrapAdmin(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := WithClientAddr(context.Background(), "203.0.113.9")
	_, _, _ = a.Login(ctx, "admin", "s3cret-pass", "") // success
	_, _, _ = a.Login(ctx, "admin", "wrong", "")       // failure
	_, _, _ = a.Login(ctx, "admin", "wrong", "")       // throttled
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	results := map[string]int{}
	for _, ev := range w.stored {
		if ev.Category != "auth" || ev.Action != "login" || ev.Actor.IP != "203.0.113.9" || ev.Actor.UserID != "admin" {
			t.Errorf("event = %+v", ev)
		}
		results[ev.Result]++
	}
	if results["success"] != 1 || results["failure"] != 1 || results["blocked"] != 1 {
		t.Fatalf("results = %v", results)
	}
}

// A client's text in an audit entry (a login's username, a user agent) cannot act on whoever
// reads the log: control and bidirectional formatting characters and invalid UTF-8 are escaped.
func TestAuditEscapesClientText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "wakibaka", "wakibaka"},
		{"unicode", "ñandú 猫", "ñandú 猫"},
		{"nul", "admin\x00", `admin\x00`},
		{"newline", "admin\nlevel=critical", `admin\nlevel=critical`},
		{"escape", "\x1b[31mred", `\x1b[31mred`},
		{"rtl override", "user\u202Egnp.exe", `user\u202egnp.exe`},
		{"c1 control", "a\u0085b", `a\u0085b`},
		{"invalid utf-8", "a\xffb", `a\xffb`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := auditText(tc.in); got != tc.want {
				t.Errorf("auditText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	w := newFakeWriter()
	l := newTestAudit(t, w)
	ev := AuthEvent("login", ResultFailure, "203.0.113.9", "root\u202E\n\x00")
	ev.Actor.UserAgent = "curl\r\n"
	l.Record(ev)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, doc := range w.stored {
		if doc.Actor.UserID != `root\u202e\n\x00` || doc.Actor.UserAgent != `curl\r\n` {
			t.Errorf("stored actor = %+v, want escaped text", doc.Actor)
		}
	}
	if len(w.stored) != 1 {
		t.Fatalf("stored %d events, want 1", len(w.stored))
	}
}
