package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := portOf(t, closed.Addr().String())
	closed.Close()

	for _, tc := range []struct {
		name    string
		port    string
		healthy bool
	}{
		{"serving", u.Port(), true},
		{"answering 503", portOf(t, unhealthy.Listener.Addr().String()), false},
		{"nothing listening", closedPort, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), []string{"healthcheck"}, func(k string) string {
				if k == "PORT" {
					return tc.port
				}
				return ""
			}, io.Discard, io.Discard)
			if (err == nil) != tc.healthy {
				t.Fatalf("healthcheck on port %s: err %v, want healthy %v", tc.port, err, tc.healthy)
			}
		})
	}
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// With NEKO_HOST set the server listens there only, and the check asks that address.
func TestHealthcheckFollowsHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	port := portOf(t, ln.Addr().String())
	for _, tc := range []struct {
		host    string
		healthy bool
	}{{"127.0.0.2", true}, {"", false}, {"0.0.0.0", false}} {
		err := run(context.Background(), []string{"healthcheck"}, func(k string) string {
			return map[string]string{"PORT": port, "NEKO_HOST": tc.host}[k]
		}, io.Discard, io.Discard)
		if (err == nil) != tc.healthy {
			t.Errorf("NEKO_HOST %q: err %v, want healthy %v", tc.host, err, tc.healthy)
		}
	}
}
