package loaders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/neko-defense/neko/store"
)

// fakeStore records the keys of every batch and answers from fixed data.
type fakeStore struct {
	mu      sync.Mutex
	batches map[string][][]string // guarded by mu: the keys of each call, by method
	err     error
	// block, when set, makes a batch wait until its context ends or block is closed.
	block chan struct{}
	// panics, when set, makes every batch panic.
	panics bool
}

func (f *fakeStore) record(ctx context.Context, method string, keys []string) error {
	f.mu.Lock()
	if f.batches == nil {
		f.batches = make(map[string][][]string)
	}
	f.batches[method] = append(f.batches[method], slices.Clone(keys))
	f.mu.Unlock()
	if f.panics {
		panic("store exploded")
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.err
}

func (f *fakeStore) ThreatActorsByKeys(ctx context.Context, keys []string) ([]store.ThreatActor, error) {
	if err := f.record(ctx, "ThreatActorsByKeys", keys); err != nil {
		return nil, err
	}
	var out []store.ThreatActor
	for _, k := range keys {
		if k != "missing" {
			out = append(out, store.ThreatActor{ActorID: k, Name: "name of " + k})
		}
	}
	return out, nil
}

func (f *fakeStore) ThreatActorsByIOCs(ctx context.Context, addrs []string) ([]store.ThreatActor, error) {
	if err := f.record(ctx, "ThreatActorsByIOCs", addrs); err != nil {
		return nil, err
	}
	return []store.ThreatActor{{ActorID: "a1", IOCs: []string{"10.0.0.1", "10.0.0.2"}}}, nil
}

func (f *fakeStore) HuntsByTargets(ctx context.Context, targets []string, limit int) ([]store.HuntConversation, error) {
	if err := f.record(ctx, "HuntsByTargets", targets); err != nil {
		return nil, err
	}
	var out []store.HuntConversation
	for _, t := range targets {
		for i := 0; i < 3; i++ {
			out = append(out, store.HuntConversation{SessionID: t + "-" + string(rune('a'+i)), TargetActor: t})
		}
	}
	return out, nil
}

func (f *fakeStore) HoneypotTriggersByIPs(ctx context.Context, ips []string, limit int) ([]store.HoneypotTrigger, error) {
	if err := f.record(ctx, "HoneypotTriggersByIPs", ips); err != nil {
		return nil, err
	}
	out := make([]store.HoneypotTrigger, len(ips))
	for i, ip := range ips {
		out[i] = store.HoneypotTrigger{IPAddress: ip}
	}
	return out, nil
}

// calls returns the keys of each call of method.
func (f *fakeStore) calls(method string) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches[method])
}

func (f *fakeStore) CasePatternsByIDs(ctx context.Context, ids []string) ([]store.CasePattern, error) {
	if err := f.record(ctx, "CasePatternsByIDs", ids); err != nil {
		return nil, err
	}
	return []store.CasePattern{{PatternID: ids[0]}}, nil
}

// loadAll starts every load before forcing any thunk, as the engine does for a list level.
func loadAll(ctx context.Context, l *Loaders, keys []string) ([]*store.ThreatActor, []error) {
	thunks := make([]func() (*store.ThreatActor, error), len(keys))
	for i, k := range keys {
		thunks[i] = l.ActorByKey.Load(ctx, k)
	}
	out, errs := make([]*store.ThreatActor, len(keys)), make([]error, len(keys))
	for i, th := range thunks {
		out[i], errs[i] = th()
	}
	return out, errs
}

func TestBatchesInKeyOrderWithDeduplication(t *testing.T) {
	fs := &fakeStore{}
	l := New(context.Background(), fs, Config{})
	keys := []string{"b", "a", "missing", "b", "c"}
	got, errs := loadAll(context.Background(), l, keys)
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatalf("key %s: %v", k, errs[i])
		}
		switch {
		case k == "missing" && got[i] != nil:
			t.Fatalf("missing key resolved to %+v", got[i])
		case k != "missing" && (got[i] == nil || got[i].ActorID != k):
			t.Fatalf("key %s resolved to %+v", k, got[i])
		}
	}
	calls := fs.calls("ThreatActorsByKeys")
	if len(calls) != 1 {
		t.Fatalf("%d batches, want 1: %v", len(calls), calls)
	}
	if b := slices.Sorted(slices.Values(calls[0])); !slices.Equal(b, []string{"a", "b", "c", "missing"}) {
		t.Fatalf("batch keys %v, want each key once", calls[0])
	}
}

func TestGroupsPerKeyWithLimit(t *testing.T) {
	fs := &fakeStore{}
	l := New(context.Background(), fs, Config{PerKeyLimit: 2})
	t1, t2 := l.HuntsByTarget.Load(context.Background(), "x"), l.HuntsByTarget.Load(context.Background(), "y")
	hx, err1 := t1()
	hy, err2 := t2()
	if err1 != nil || err2 != nil || len(hx) != 2 || len(hy) != 2 || hx[0].TargetActor != "x" || hy[0].TargetActor != "y" {
		t.Fatalf("hunts x=%v y=%v (%v %v)", hx, hy, err1, err2)
	}
	a, err := l.ActorByIOC.Load(context.Background(), "10.0.0.2")()
	if err != nil || a == nil || a.ActorID != "a1" {
		t.Fatalf("actor by ioc = %+v, %v", a, err)
	}
}

func TestBatchErrorReachesEveryKey(t *testing.T) {
	fs := &fakeStore{err: errors.New("database down")}
	l := New(context.Background(), fs, Config{})
	_, errs := loadAll(context.Background(), l, []string{"a", "b"})
	for _, err := range errs {
		if err == nil || err.Error() != "database down" {
			t.Fatalf("err = %v", err)
		}
	}
}

// The first caller giving up must not cancel the batch that later callers joined.
func TestFirstCallerCancellationDoesNotCancelBatch(t *testing.T) {
	fs := &fakeStore{block: make(chan struct{})}
	l := New(context.Background(), fs, Config{})
	first, cancel := context.WithCancel(context.Background())
	th1 := l.ActorByKey.Load(first, "a")
	th2 := l.ActorByKey.Load(context.Background(), "b")
	cancel()
	close(fs.block)
	if _, err := th2(); err != nil {
		t.Fatalf("second caller failed because the first cancelled: %v", err)
	}
	_, _ = th1()
}

// A batch gets its own deadline from the request's, so a stuck database cannot hold it forever.
func TestBatchDeadline(t *testing.T) {
	fs := &fakeStore{block: make(chan struct{})}
	defer close(fs.block)
	req, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	l := New(req, fs, Config{})
	_, err := l.ActorByKey.Load(context.Background(), "a")()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the batch's deadline", err)
	}
}

func TestFromContext(t *testing.T) {
	if _, err := FromContext(context.Background()); !errors.Is(err, ErrNoLoaders) {
		t.Fatalf("err = %v", err)
	}
	l := New(context.Background(), &fakeStore{}, Config{})
	got, err := FromContext(NewContext(context.Background(), l))
	if err != nil || got != l {
		t.Fatal("loaders not carried by the context")
	}
}

func TestBatchSpanJoinsRequestTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	reqCtx, reqSpan := tracer.Start(context.Background(), "request")
	l := New(reqCtx, &fakeStore{}, Config{Tracer: tracer})
	if _, errs := loadAll(reqCtx, l, []string{"a", "b", "a"}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	reqSpan.End()

	var batches []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "loader.batch" {
			batches = append(batches, s)
		}
	}
	if len(batches) != 1 {
		t.Fatalf("%d loader.batch spans, want 1", len(batches))
	}
	b := batches[0]
	if b.Parent().SpanID() != reqSpan.SpanContext().SpanID() || b.SpanContext().TraceID() != reqSpan.SpanContext().TraceID() {
		t.Errorf("batch span is not a child of the request span")
	}
	want := map[attribute.Key]attribute.Value{
		"neko.loader": attribute.StringValue("actor_by_key"), "neko.loader.keys": attribute.IntValue(2),
	}
	for _, kv := range b.Attributes() {
		if v, ok := want[kv.Key]; ok && v == kv.Value {
			delete(want, kv.Key)
		}
	}
	if len(want) > 0 {
		t.Errorf("batch span lacks %v; has %v", want, b.Attributes())
	}
}

// The engine registers every key of a level, then forces the level's thunks concurrently. On a
// loaded machine registering a long list takes longer than any wait window: the batch must still
// be one store call per relation, sent when the first thunk is forced.
func TestOneBatchPerLevelHoweverSlowTheRegistration(t *testing.T) {
	fs := &fakeStore{}
	l := New(context.Background(), fs, Config{})
	ctx := context.Background()
	level := func(actors []string) {
		var thunks []func() error
		for _, a := range actors {
			hunts := l.HuntsByTarget.Load(ctx, a)
			triggers := l.TriggersByIP.LoadMany(ctx, []string{a + "/ip1", a + "/ip2"})
			thunks = append(thunks,
				func() error { _, err := hunts(); return err },
				func() error { _, errs := triggers(); return errors.Join(errs...) })
			time.Sleep(time.Millisecond) // registration spread over 20ms: a slow resolver, not a wait
		}
		var wg sync.WaitGroup
		for _, th := range thunks {
			wg.Go(func() {
				if err := th(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	actors := make([]string, 20)
	for i := range actors {
		actors[i] = fmt.Sprintf("TA-%04d", i)
	}
	level(actors)
	if hunts, triggers := fs.calls("HuntsByTargets"), fs.calls("HoneypotTriggersByIPs"); len(hunts) != 1 || len(triggers) != 1 {
		t.Fatalf("level 1: %d hunts calls and %d triggers calls, want 1 each: %v %v", len(hunts), len(triggers), hunts, triggers)
	}
	// A later level asks only for the keys not loaded yet, in one more call.
	level([]string{actors[3], "TA-NEW"})
	hunts := fs.calls("HuntsByTargets")
	if len(hunts) != 2 || !slices.Equal(hunts[1], []string{"TA-NEW"}) {
		t.Fatalf("level 2: hunts calls %v, want a second one for TA-NEW only", hunts)
	}
}

// A thunk forced at once, outside the engine's levels, fetches every key pending so far.
func TestForcedAtOnceFetchesWhatIsPending(t *testing.T) {
	fs := &fakeStore{}
	l := New(context.Background(), fs, Config{})
	ctx := context.Background()
	pending := l.ActorByKey.Load(ctx, "a")
	if b, err := l.ActorByKey.Load(ctx, "b")(); err != nil || b == nil || b.ActorID != "b" {
		t.Fatalf("b = %+v, %v", b, err)
	}
	if a, err := pending(); err != nil || a == nil || a.ActorID != "a" {
		t.Fatalf("a = %+v, %v", a, err)
	}
	if calls := fs.calls("ThreatActorsByKeys"); len(calls) != 1 || len(calls[0]) != 2 {
		t.Fatalf("calls %v, want one for both keys", calls)
	}
}

func TestBatchCapacityChunks(t *testing.T) {
	fs := &fakeStore{}
	l := New(context.Background(), fs, Config{BatchCapacity: 2})
	if _, errs := loadAll(context.Background(), l, []string{"a", "b", "c", "d", "e", "a"}); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	calls := fs.calls("ThreatActorsByKeys")
	if want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
}

// A panicking fetch reaches the thunk that ran it (the engine recovers it) and fails the thunks
// waiting on the same batch instead of hanging them.
func TestFetchPanic(t *testing.T) {
	l := New(context.Background(), &fakeStore{panics: true}, Config{})
	first, second := l.ActorByKey.Load(context.Background(), "a"), l.ActorByKey.Load(context.Background(), "b")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the fetching thunk did not panic")
			}
		}()
		_, _ = first()
	}()
	if _, err := second(); !errors.Is(err, errFetchPanicked) {
		t.Fatalf("err = %v, want errFetchPanicked", err)
	}
}
