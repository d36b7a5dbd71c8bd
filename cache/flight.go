package cache

import "sync"

// flightGroup deduplicates concurrent work per key, like x/sync/singleflight, with two differences
// the cache needs: the leader's work runs in a goroutine the Tiered owns (so Close can wait for it
// and a caller can stop waiting without stopping it), and a panic can never leave waiters hanging
// because the Tiered always calls finish, from a deferred function.
type flightGroup struct {
	mu    sync.Mutex         // guards calls
	calls map[string]*flight // in-progress flights by key
}

// flight is one in-progress piece of work and, once done is closed, its result.
type flight struct {
	done    chan struct{} // closed by finish
	waiters int           // callers that joined, the leader included; guarded by flightGroup.mu
	res     flightResult  // written before done is closed, read only after
}

// flightResult is what every caller of one flight receives.
type flightResult struct {
	entry  Entry
	status Status
	err    error
}

// join returns the flight for key, creating it when none is in progress; leader reports whether
// this caller created it and so must start the work and call finish.
func (g *flightGroup) join(key string) (f *flight, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		f.waiters++
		return f, false
	}
	if g.calls == nil {
		g.calls = make(map[string]*flight)
	}
	f = &flight{done: make(chan struct{}), waiters: 1}
	g.calls[key] = f
	return f, true
}

// finish publishes res to every caller of f and lets the next caller of key start a new flight.
func (g *flightGroup) finish(key string, f *flight, res flightResult) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
	f.res = res
	close(f.done)
}

// waiting reports how many callers joined the flight in progress for key (0 when none); tests use
// it to know every caller is parked on the same flight.
func (g *flightGroup) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		return f.waiters
	}
	return 0
}
