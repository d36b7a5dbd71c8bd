package server

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/valyala/fasthttp"
)

// conns is the set of the server's open connections, kept from fasthttp's ConnState hook, so that
// Shutdown can close the connections its deadline left behind (fasthttp stops waiting for them
// but leaves them open) and say how many there were.
type conns struct {
	mu   sync.Mutex // guards open
	open map[net.Conn]struct{}
}

func (cs *conns) track(c net.Conn, state fasthttp.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch state {
	case fasthttp.StateNew:
		if cs.open == nil {
			cs.open = map[net.Conn]struct{}{}
		}
		cs.open[c] = struct{}{}
	case fasthttp.StateHijacked, fasthttp.StateClosed:
		delete(cs.open, c)
	}
}

// len is the number of open connections.
func (cs *conns) len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.open)
}

// closeAll closes every open connection and returns how many it closed.
func (cs *conns) closeAll() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := len(cs.open)
	for c := range cs.open {
		_ = c.Close() // the connection is being cut: its error says nothing more
		delete(cs.open, c)
	}
	return n
}

// CutError is Shutdown's report that its context ended before every connection had finished:
// the drain is over, and Closed connections still in flight were closed, their requests cut off.
// Nothing else failed.
type CutError struct {
	Closed int
	Err    error // the context's error
}

func (e *CutError) Error() string {
	return fmt.Sprintf("closed %d connections still in flight: %v", e.Closed, e.Err)
}

func (e *CutError) Unwrap() error { return e.Err }

// Connections is the number of connections open now (accepted and not yet closed).
func (s *Server) Connections() int { return s.conns.len() }

// Shutdown stops accepting connections and waits for in-flight requests until ctx is done. If
// ctx ends first, it closes the connections still open and returns a *CutError counting them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.warm.close()
	err := s.app.ShutdownWithContext(ctx)
	if err != nil && ctx.Err() != nil {
		return &CutError{Closed: s.conns.closeAll(), Err: err}
	}
	return err
}
