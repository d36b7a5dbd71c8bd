package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A request fasthttp cannot parse, or with a method Fiber does not know, is answered with a fixed
// message in the JSON error shape and the security headers: never the request's own bytes, which
// carry credentials and proxy-added headers.
func TestProtocolErrorsEchoNothing(t *testing.T) {
	s, _ := newBenchServer(t, false)
	s.app.Server().ReadBufferSize = 2048 // a header beyond it is "too large"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.app.Shutdown()
		<-served
	})
	const secret = "Bearer s3cret-token-value"
	for _, tc := range []struct {
		name, request string
		status        int
		message       string
	}{
		{"bad content length", "GET /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\nContent-Length: abc\r\n\r\n",
			400, "malformed HTTP request"},
		{"bad request line", "GET\r\nHost: x\r\nAuthorization: " + secret + "\r\n\r\n",
			400, "malformed HTTP request"},
		{"headers too large", "GET /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\nX-Pad: " + strings.Repeat("a", 4096) + "\r\n\r\n",
			431, "request header fields too large"},
		{"unknown method", "BREW /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: " + secret + "\r\n\r\n",
			501, "unknown HTTP method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			want := `{"errors":[{"message":"` + tc.message + `","extensions":{"code":"BAD_USER_INPUT"}}]}`
			if string(body) != want {
				t.Errorf("body = %s, want %s", body, want)
			}
			if strings.Contains(string(body), "s3cret") {
				t.Error("the answer echoes the request")
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers = %v, want the security headers and no-store", resp.Header)
			}
		})
	}
}
