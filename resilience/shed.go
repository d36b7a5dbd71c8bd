package resilience

import (
	"fmt"
	"sync/atomic"
)

// Shedder bounds the number of requests in flight in a server, so that under
// overload excess requests are refused at once (and cheaply) instead of
// queueing until every request is slow. It never waits.
//
// A Shedder is safe for concurrent use.
type Shedder struct {
	max      int64
	inFlight atomic.Int64
	release  func() // built once so that Acquire does not allocate
}

// NewShedder returns a Shedder admitting at most max requests at once.
// max must be > 0.
func NewShedder(max int) (*Shedder, error) {
	if max <= 0 {
		return nil, fmt.Errorf("resilience: shedder: max must be > 0, got %d", max)
	}
	s := &Shedder{max: int64(max)}
	s.release = func() { s.inFlight.Add(-1) }
	return s, nil
}

// Acquire admits a request if fewer than max are in flight, in O(1) and
// without locks or allocation. When ok is true the caller must call release
// exactly once when the request ends; when ok is false release is nil and
// the request should be refused (503 with Retry-After).
func (s *Shedder) Acquire() (release func(), ok bool) {
	for {
		n := s.inFlight.Load()
		if n >= s.max {
			return nil, false
		}
		if s.inFlight.CompareAndSwap(n, n+1) {
			return s.release, true
		}
	}
}

// InFlight returns the number of admitted requests not yet released.
func (s *Shedder) InFlight() int { return int(s.inFlight.Load()) }
