package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination safe for the App's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A connection still sending its body when NEKO_SHUTDOWN_TIMEOUT runs out is closed and counted
// in one log line; closing the store and the embedded database then gets its own budget rather
// than the drain's expired one, so they stop cleanly, and Close reports no error (exit 0).
func TestShutdownCutsStragglersAndStillClosesTheDatabase(t *testing.T) {
	env := map[string]string{
		"PORT": "0", "NEKO_DATA_DIR": t.TempDir(), "JWT_SECRET": testSecret, "ADMIN_PASSWORD": testPassword,
		"NEKO_LOG_LEVEL": "warn", "NEKO_SHUTDOWN_TIMEOUT": "300ms",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &lockedBuffer{}
	app, err := Start(ctx, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = app.Serve()
	}()

	conn, err := net.Dial("tcp", app.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promising 100 bytes, then 10 of them: the server waits for the rest.
	if _, err := io.WriteString(conn, "POST /graphql HTTP/1.1\r\nHost: neko\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":"); err != nil {
		t.Fatal(err)
	}
	if !poll(time.Minute, func() bool { return app.server.Connections() == 1 }) {
		t.Fatal("the server never saw the connection")
	}

	if err := app.Close(); err != nil {
		t.Errorf("Close: %v (only a straggler was cut: want nil)", err)
	}
	<-served
	out := logs.String()
	if !strings.Contains(out, "shutdown: closed 1 connections still in flight after 300ms") {
		t.Errorf("no line counting the cut connection in:\n%s", out)
	}
	for _, bad := range []string{"context deadline exceeded", "ferretdb did not stop"} {
		if strings.Contains(out, bad) {
			t.Errorf("log has %q:\n%s", bad, out)
		}
	}
	// The straggler was closed, not left open until the process exits.
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from the cut connection, want it closed", n)
	}
}

// The time closing gets after the drain: the drain's leftover, never less than minCloseBudget.
func TestCloseBudget(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name     string
		deadline time.Time
		want     time.Duration
	}{
		{"drain finished early", now.Add(15 * time.Second), 15 * time.Second},
		{"drain used its budget", now, minCloseBudget},
		{"drain overran", now.Add(-time.Second), minCloseBudget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := closeBudget(c.deadline, now); got != c.want {
				t.Fatalf("closeBudget = %v, want %v", got, c.want)
			}
		})
	}
}
