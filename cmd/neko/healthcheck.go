package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// healthcheckTimeout bounds the whole check; the Dockerfile's HEALTHCHECK allows 3s.
const healthcheckTimeout = 2 * time.Second

// healthcheck asks the server on this machine whether it is alive: GET
// http://127.0.0.1:$PORT/health (or $NEKO_HOST's address when the server listens on one), nil on
// 200, an error (exit status 1) otherwise. The image's Docker HEALTHCHECK runs it, because
// distroless has no shell or curl. It reads PORT and NEKO_HOST alone, not the whole
// configuration, so that a missing production secret cannot fail the probe.
func healthcheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	port := strings.TrimSpace(getenv("PORT"))
	if port == "" {
		port = "8080"
	}
	host := "127.0.0.1"
	if a, err := netip.ParseAddr(strings.TrimSpace(getenv("NEKO_HOST"))); err == nil && !a.IsUnspecified() {
		host = a.String()
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
