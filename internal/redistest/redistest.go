// Package redistest starts real redis-server processes for tests.
//
// A test calls Start, which picks a free loopback port, runs `redis-server` on it without
// persistence, waits for the server to log that it accepts connections and to answer PING, and
// registers a cleanup that kills it. Stop and Restart simulate an outage and a recovery on the same
// address, so adapters can be tested against the failure modes of the real server rather than a
// fake. Unresponsive stands in for a Redis that hangs. Nothing here is used outside tests.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// binary is the server executable looked up on PATH.
const binary = "redis-server"

// readyLine is what redis-server logs once it accepts connections.
const readyLine = "Ready to accept connections"

// startTimeout bounds how long Start and Restart wait for the server to become ready.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test. Its methods must be called from the test's
// goroutines while the test runs; cleanup kills the process.
type Server struct {
	tb   testing.TB
	port int

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one running redis-server and the goroutine that reads its output.
type process struct {
	cmd      *exec.Cmd
	out      *io.PipeWriter // the process's stdout and stderr; closed after Wait
	scanDone chan struct{}  // closed when the output reader has returned
}

// kill stops the process and waits for it and for its output reader.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	_ = p.out.Close()
	<-p.scanDone
}

// Start runs a fresh redis-server on a free loopback port and returns once it answers PING. The
// server is killed when the test ends. A missing binary fails the test (it never skips): CI installs
// the Debian package redis-server, and a developer must too.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if _, err := exec.LookPath(binary); err != nil {
		tb.Fatalf("redistest: %s not found on PATH (%v): install it, e.g. `apt-get install redis-server`; CI's .ci/run installs it", binary, err)
	}
	var lastErr error
	// A port picked free can be taken by another process before redis binds it: retry a few times.
	for range 5 {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: pick a port: %v", err)
		}
		s := &Server{tb: tb, port: port}
		if lastErr = s.start(); lastErr == nil {
			tb.Cleanup(s.Stop)
			return s
		}
	}
	tb.Fatalf("redistest: start %s: %v", binary, lastErr)
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns a new go-redis client for the server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server (SIGKILL, no shutdown) to simulate an outage; existing connections break.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Restart starts the server again on the same port, empty (nothing is persisted), and returns once
// it answers PING. It stops a running server first.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restart %s on %s: %v", binary, s.Addr(), err)
	}
}

// start launches the process and waits for readiness.
func (s *Server) start() error {
	cmd := exec.Command(binary,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--loglevel", "notice",
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, out: pw, scanDone: make(chan struct{})}
	tail := &logTail{}
	ready := make(chan struct{})
	go func() { // owned by p: kill closes the pipe and waits for scanDone
		defer close(p.scanDone)
		tail.scan(pr, ready)
	}()

	fail := func(err error) error {
		p.kill()
		return fmt.Errorf("%w; output:\n%s", err, tail.String())
	}
	select {
	case <-ready:
	case <-time.After(startTimeout):
		return fail(fmt.Errorf("not ready after %v", startTimeout))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer func() { _ = c.Close() }()
	if err := c.Ping(ctx).Err(); err != nil {
		return fail(fmt.Errorf("ping: %w", err))
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// Unresponsive listens on a free loopback port and returns its host:port: a stand-in for a Redis
// that hangs (overloaded, or cut off behind a firewall that drops packets). It accepts every
// connection and never reads from or writes to it, so a client's command waits until its own
// deadline. The listener and its connections are closed when the test ends.
func Unresponsive(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: listen: %v", err)
	}
	var mu sync.Mutex // guards conns
	var conns []net.Conn
	done := make(chan struct{})
	go func() { // owned by the cleanup below, which closes ln and waits for done
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail keeps the last lines of the server's output and signals readiness.
type logTail struct {
	mu    sync.Mutex // guards lines
	lines []string
}

// scan reads r until EOF, closing ready when the readiness line appears.
func (l *logTail) scan(r io.Reader, ready chan<- struct{}) {
	sc := bufio.NewScanner(r)
	signalled := false
	defer func() { _, _ = io.Copy(io.Discard, r) }() // never block the writer, even on a huge line
	for sc.Scan() {
		line := sc.Text()
		l.mu.Lock()
		l.lines = append(l.lines, line)
		if len(l.lines) > 50 {
			l.lines = l.lines[1:]
		}
		l.mu.Unlock()
		if !signalled && strings.Contains(line, readyLine) {
			signalled = true
			close(ready)
		}
	}
}

// String returns the kept output.
func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
