package server

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/security"
)

func TestHammeringEscalatesOnTheThirdRejectionWithinAMinute(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		at   []time.Duration // rejections of one address, after t0
		want []bool
	}{
		{"three quick rejections", []time.Duration{0, time.Second, 2 * time.Second}, []bool{false, false, true}},
		{"spread over more than a minute", []time.Duration{0, 30 * time.Second, 61 * time.Second, 62 * time.Second}, []bool{false, false, false, false}},
		{"counting restarts after an escalation", []time.Duration{0, 1, 2, 3, 4, 5}, []bool{false, false, true, false, false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h hammering
			for i, d := range tc.at {
				if got := h.reject("192.0.2.1", t0.Add(d)); got != tc.want[i] {
					t.Fatalf("rejection %d at +%v: escalate = %v, want %v", i+1, d, got, tc.want[i])
				}
			}
		})
	}
}

func TestHammeringMemoryIsBounded(t *testing.T) {
	var h hammering
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range hammerMaxTracked * 3 {
		h.reject(string(rune('a'+i%26))+time.Duration(i).String(), now)
	}
	if n := len(h.entries); n > hammerMaxTracked {
		t.Fatalf("%d addresses tracked, limit %d", n, hammerMaxTracked)
	}
	// Other addresses' rejections never escalate a fresh one.
	if h.reject("198.51.100.1", now) {
		t.Fatal("first rejection escalated")
	}
}

// Rate-limit refusals escalate to a block for anonymous callers, with junk credentials too, but
// not for a lapsed credential (an expired token this server signed): that caller is still
// refused over its address's anonymous limit, and never blocked.
func TestEscalationSparesLapsedCredentials(t *testing.T) {
	s, auth := newBenchServer(t, true)
	s.deps.RateLimit.Anonymous = resilience.Limit{Rate: 0.001, Burst: 2}
	issuedAgo := func(d time.Duration) string {
		past, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte("bench-secret-bench-secret-bench!"), AdminUsername: "a",
			AdminPassword: "benchmark", BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Now: func() time.Time { return time.Now().Add(-d) }})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := past.Issue(security.Identity{Username: "tv-monitor", Role: security.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	expired := issuedAgo(70 * time.Minute) // expired ten minutes ago
	if _, err := auth.Verify(expired); !errors.Is(err, security.ErrCredentialLapsed) {
		t.Fatalf("expired token: %v, want ErrCredentialLapsed", err)
	}
	// Expired two days ago: no longer a client whose token just ran out (a leaked old token
	// must not shield its holder from blocks).
	longExpired := issuedAgo(48 * time.Hour)
	if _, err := auth.Verify(longExpired); err == nil || errors.Is(err, security.ErrCredentialLapsed) {
		t.Fatalf("long-expired token: %v, want a plain ErrInvalidToken", err)
	}
	forged := expired[:len(expired)-4] + "AAAA"
	if _, err := auth.Verify(forged); err == nil || errors.Is(err, security.ErrCredentialLapsed) {
		t.Fatalf("forged expired token: %v, want a plain ErrInvalidToken", err)
	}
	handler := s.app.Handler()
	tests := []struct {
		name      string
		peer      string
		token     string
		wantBlock bool
	}{
		{"no credentials", "198.51.100.30", "", true},
		{"junk token", "198.51.100.31", "junk", true},
		{"forged expired token", "198.51.100.32", forged, true},
		{"expired token", "198.51.100.33", expired, false},
		{"long-expired token", "198.51.100.34", longExpired, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := func() int {
				var ctx fasthttp.RequestCtx
				ctx.Init(graphQLPost(`{"query":"{ ok }"}`, tt.token), &net.TCPAddr{IP: net.ParseIP(tt.peer), Port: 40000}, nil)
				handler(&ctx)
				return ctx.Response.StatusCode()
			}
			// Two allowed, then refusals: the third refusal escalates, if anything does.
			for i, want := range []int{200, 200, 429, 429, 429} {
				if got := send(); got != want {
					t.Fatalf("request %d: status %d, want %d", i+1, got, want)
				}
			}
			_, _, blocked := s.deps.Defense.BlockList.Blocked(tt.peer)
			if blocked != tt.wantBlock {
				t.Fatalf("blocked after three refusals: %v, want %v", blocked, tt.wantBlock)
			}
			want := 429
			if tt.wantBlock {
				want = 403
			}
			if got := send(); got != want {
				t.Fatalf("after the refusals: status %d, want %d", got, want)
			}
		})
	}
}
