package main

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveApp starts a whole program of its own for one test: env over test defaults (its own
// embedded database under a temp dir unless MONGODB_URI is given, generous rate limits because
// every request comes from loopback), served until the test ends, when it must close cleanly.
// It returns the App and its base URL. The shutdown budget is the default's: tests that flood the
// embedded database leave aggregations that FerretDB finishes even after their clients gave up,
// and on a loaded machine those outlast a short budget (the server itself drains at once).
func serveApp(t *testing.T, env map[string]string) (*App, string) {
	t.Helper()
	all := map[string]string{
		"PORT": "0", "NEKO_HOST": "127.0.0.1", // tests reach loopback only
		"NEKO_DATA_DIR": t.TempDir(), "JWT_SECRET": testSecret, "ADMIN_PASSWORD": testPassword,
		"NEKO_LOG_LEVEL": "error", "NEKO_SHUTDOWN_TIMEOUT": "20s",
		"NEKO_RATE_ANONYMOUS": "100000/1000000", "NEKO_RATE_USER": "100000/1000000",
	}
	maps.Copy(all, env)
	cfg, err := loadConfig(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, err := Start(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = app.Serve()
	}()
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-served
	})
	if host, _, _ := net.SplitHostPort(app.Addr()); all["NEKO_HOST"] != "" && host != all["NEKO_HOST"] {
		t.Fatalf("listening on %s, want NEKO_HOST %s", app.Addr(), all["NEKO_HOST"])
	}
	return app, "http://127.0.0.1:" + portOf(t, app.Addr())
}

// waitReady polls base's /ready until it answers 200 (warm and connected).
func waitReadyAt(t *testing.T, base string) {
	t.Helper()
	if !poll(time.Minute, func() bool {
		resp, err := http.Get(base + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatal("app never became ready")
	}
}

// A start-up that fails part-way (here: the port is taken, after the database has started)
// returns the error and stops what it had started, rather than panicking in its clean-up.
func TestStartFailureIsAnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := map[string]string{
		"PORT": portOf(t, taken.Addr().String()), "NEKO_DATA_DIR": t.TempDir(), "JWT_SECRET": testSecret,
		"ADMIN_PASSWORD": testPassword, "NEKO_LOG_LEVEL": "error", "NEKO_WARM": "false",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	app, err := Start(ctx, cfg, io.Discard)
	if err == nil || app != nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a taken port: %v, %v", app, err)
	}
}
