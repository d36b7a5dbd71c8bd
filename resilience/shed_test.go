package resilience

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestShedder(t *testing.T) {
	if _, err := NewShedder(0); err == nil {
		t.Fatal("max 0 accepted")
	}
	s, err := NewShedder(3)
	if err != nil {
		t.Fatal(err)
	}
	var releases []func()
	steps := []struct {
		op       string // "acquire" or "release"
		wantOK   bool
		wantLive int
	}{
		{"acquire", true, 1}, {"acquire", true, 2}, {"acquire", true, 3},
		{"acquire", false, 3}, {"acquire", false, 3},
		{"release", true, 2},
		{"acquire", true, 3}, {"acquire", false, 3},
	}
	for i, st := range steps {
		switch st.op {
		case "acquire":
			rel, ok := s.Acquire()
			if ok != st.wantOK || (rel == nil) == ok {
				t.Fatalf("step %d: ok %v release nil %v, want ok %v", i, ok, rel == nil, st.wantOK)
			}
			if ok {
				releases = append(releases, rel)
			}
		case "release":
			releases[0]()
			releases = releases[1:]
		}
		if s.InFlight() != st.wantLive {
			t.Fatalf("step %d: InFlight %d, want %d", i, s.InFlight(), st.wantLive)
		}
	}
}

func TestShedderConcurrent(t *testing.T) {
	const max = 4
	s, _ := NewShedder(max)
	var cur, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				rel, ok := s.Acquire()
				if !ok {
					continue
				}
				admitted.Add(1)
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				cur.Add(-1)
				rel()
			}
		})
	}
	wg.Wait()
	if peak.Load() > max || admitted.Load() == 0 || s.InFlight() != 0 {
		t.Errorf("peak %d admitted %d in flight %d", peak.Load(), admitted.Load(), s.InFlight())
	}
}

func BenchmarkShedderAcquire(b *testing.B) {
	s, _ := NewShedder(1 << 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rel, ok := s.Acquire(); ok {
				rel()
			}
		}
	})
}
