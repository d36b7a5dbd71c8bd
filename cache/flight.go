package cache

import "sync"

// flightGroup deduplicates concurrent work per key, like x/sync/singleflight, with three
// differences the cache needs: the leader's work runs in a goroutine the Tiered owns (so Close can
// wait for it and a caller can stop waiting without stopping it), a panic can never leave waiters
// hanging because the Tiered always calls finish, from a deferred function, and a flight is
// joined only within the invalidation generation it started in.
type flightGroup struct {
	mu    sync.Mutex            // guards calls
	calls map[flightKey]*flight // in-progress flights
}

// flightKey names a flight: its cache key and the invalidation generation (Tiered.Generation) it
// started in. A caller arriving after an invalidation must not get the answer of a fill that may
// have read the data before it: it starts a flight of its own.
type flightKey struct {
	key string
	gen uint64
}

// flight is one in-progress piece of work and, once done is closed, its result.
type flight struct {
	id      flightKey
	done    chan struct{} // closed by finish
	waiters int           // callers that joined, the leader included; guarded by flightGroup.mu
	res     flightResult  // written before done is closed, read only after
}

// flightResult is what every caller of one flight receives.
type flightResult struct {
	entry  Entry
	status Status
	err    error
	// leasedElsewhere marks a refresh that did not run because another instance holds its
	// lease (lease.go): entry is the stale one.
	leasedElsewhere bool
}

// join returns the flight for key in generation gen, creating it when none is in progress; leader
// reports whether this caller created it and so must start the work and call finish.
func (g *flightGroup) join(key string, gen uint64) (f *flight, leader bool) {
	id := flightKey{key, gen}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[id]; ok {
		f.waiters++
		return f, false
	}
	if g.calls == nil {
		g.calls = make(map[flightKey]*flight)
	}
	f = &flight{id: id, done: make(chan struct{}), waiters: 1}
	g.calls[id] = f
	return f, true
}

// finish publishes res to every caller of f and lets the next caller of its key start a new
// flight.
func (g *flightGroup) finish(f *flight, res flightResult) {
	g.mu.Lock()
	delete(g.calls, f.id)
	g.mu.Unlock()
	f.res = res
	close(f.done)
}

// waiting reports how many callers joined the flights in progress for key (0 when none); tests use
// it to know every caller is parked on the same flight.
func (g *flightGroup) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for id, f := range g.calls {
		if id.key == key {
			n += f.waiters
		}
	}
	return n
}
