package security

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newTestAuth(t *testing.T, now func() time.Time) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(AuthConfig{
		Secret: testSecret, AdminUsername: "admin", AdminPassword: "s3cret-pass",
		BcryptCost: bcrypt.MinCost, Now: now, TokenTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewAuthenticatorValidates(t *testing.T) {
	cases := map[string]AuthConfig{
		"short secret": {Secret: []byte("short"), AdminUsername: "a", AdminPassword: "b"},
		"no admin":     {Secret: testSecret, AdminPassword: "b"},
		"no password":  {Secret: testSecret, AdminUsername: "a"},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NewAuthenticator(cfg); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestLogin(t *testing.T) {
	a := newTestAuth(t, nil)
	tok, id, err := a.Login(context.Background(), "admin", "s3cret-pass", "es")
	if err != nil {
		t.Fatal(err)
	}
	if id.Role != RoleAdmin || id.Username != "admin" || id.Language != "es" {
		t.Fatalf("identity = %+v", id)
	}
	got, err := a.Verify(tok)
	if err != nil || got != id {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, id)
	}
	for name, c := range map[string][2]string{
		"wrong password": {"admin", "nope-nope"},
		"wrong user":     {"root", "s3cret-pass"},
		"empty":          {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := a.Login(context.Background(), c[0], c[1], ""); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := newTestAuth(t, func() time.Time { return now })
	good, err := a.Issue(Identity{Username: "v", Role: RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"username": "v", "role": "viewer", "iss": "neko", "aud": "neko-api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "viewer", "admin", 1))) + "." + parts[2]
	noneTok := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base())

	cases := map[string]string{
		"garbage":   "not.a.token",
		"empty":     "",
		"tampered":  tampered,
		"alg none":  noneTok,
		"wrong key": sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret!!"), base()),
		"HS512":     sign(jwt.SigningMethodHS512, testSecret, base()),
		"expired": sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := base()
			c["exp"] = now.Add(-time.Second).Unix()
			return c
		}()),
		"no exp": sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := base(); delete(c, "exp"); return c }()),
		"not yet valid": sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims {
			c := base()
			c["nbf"] = now.Add(time.Hour).Unix()
			return c
		}()),
		"wrong issuer":   sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := base(); c["iss"] = "evil"; return c }()),
		"wrong audience": sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := base(); c["aud"] = "other"; return c }()),
		"no username":    sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := base(); delete(c, "username"); return c }()),
		"bad role":       sign(jwt.SigningMethodHS256, testSecret, func() jwt.MapClaims { c := base(); c["role"] = "root"; return c }()),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := a.Verify(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	if _, err := a.Verify(good); err != nil {
		t.Fatalf("good token rejected: %v", err)
	}
}

func TestRequire(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		id   Identity
		need Role
		want error
	}{
		{"anonymous public", Identity{}, RoleAnonymous, nil},
		{"anonymous viewer", Identity{}, RoleViewer, ErrUnauthenticated},
		{"viewer viewer", Identity{Username: "v", Role: RoleViewer}, RoleViewer, nil},
		{"viewer analyst", Identity{Username: "v", Role: RoleViewer}, RoleAnalyst, ErrForbidden},
		{"analyst admin", Identity{Username: "a", Role: RoleAnalyst}, RoleAdmin, ErrForbidden},
		{"admin admin", Identity{Username: "a", Role: RoleAdmin}, RoleAdmin, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Require(NewContext(ctx, c.id), c.need); !errors.Is(err, c.want) {
				t.Fatalf("Require = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"VIEWER": RoleViewer, "analyst": RoleAnalyst, "Admin": RoleAdmin} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) should fail")
	}
}

// A verified token is remembered until it expires: the next verification skips parsing, and
// expiry still applies to the remembered result.
func TestVerifiedTokenCacheHonoursExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := newTestAuth(t, func() time.Time { return now })
	tok, err := a.Issue(Identity{Username: "tv", Role: RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.verified.get(tok, now); !ok {
		t.Fatal("verified token not remembered")
	}
	if id, err := a.Verify(tok); err != nil || id.Username != "tv" || id.Role != RoleViewer {
		t.Fatalf("remembered verification = %+v, %v", id, err)
	}
	now = now.Add(2 * time.Hour) // the test authenticator's tokens live one hour
	if _, err := a.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired remembered token: err = %v", err)
	}
	// A token differing by one byte is never taken for a remembered one.
	now = now.Add(-2 * time.Hour)
	last := byte('A')
	if tok[len(tok)-1] == 'A' {
		last = 'B'
	}
	forged := tok[:len(tok)-1] + string(last)
	if _, err := a.Verify(forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("altered token: err = %v", err)
	}
}

// The HTTP layer passes header values that alias a buffer the server reuses for the next request
// on the connection. A remembered token must not change identity when that buffer does: two
// tokens of one length, verified in turn from the same buffer, each keep their own user.
func TestVerifiedTokenSurvivesReusedBuffer(t *testing.T) {
	a := newTestAuth(t, nil)
	alice, err := a.Issue(Identity{Username: "alice", Role: RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	bobby, err := a.Issue(Identity{Username: "bobby", Role: RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	if len(alice) != len(bobby) {
		t.Fatalf("test needs tokens of one length: %d and %d", len(alice), len(bobby))
	}
	buf := []byte(alice)
	aliased := unsafe.String(&buf[0], len(buf)) // what fiber.Ctx.Get returns
	if id, err := a.Verify(aliased); err != nil || id.Username != "alice" {
		t.Fatalf("alice = %+v, %v", id, err)
	}
	copy(buf, bobby) // the next request on the connection
	if id, err := a.Verify(aliased); err != nil || id.Username != "bobby" {
		t.Fatalf("bobby = %+v, %v", id, err)
	}
	if id, err := a.Verify(alice); err != nil || id.Username != "alice" || id.Role != RoleViewer {
		t.Fatalf("alice again = %+v, %v: a remembered token changed under the cache", id, err)
	}
}

// Only a token this server signed, for its issuer and audience, whose sole fault is its expiry
// is a lapsed credential; anything else that fails is merely invalid.
func TestExpiredTokenIsLapsed(t *testing.T) {
	clock := newFakeClock()
	a := newTestAuth(t, clock.Now)
	issue := func(cfg AuthConfig) string {
		t.Helper()
		cfg.AdminUsername, cfg.AdminPassword, cfg.BcryptCost, cfg.TokenTTL, cfg.Now = "admin", "pw", bcrypt.MinCost, time.Hour, clock.Now
		other, err := NewAuthenticator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := other.Issue(Identity{Username: "vera", Role: RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokens := map[string]string{
		"ours":            issue(AuthConfig{Secret: testSecret}),
		"other secret":    issue(AuthConfig{Secret: []byte("another-secret-another-secret!!")}),
		"other issuer":    issue(AuthConfig{Secret: testSecret, Issuer: "elsewhere"}),
		"other audience":  issue(AuthConfig{Secret: testSecret, Audience: "elsewhere"}),
		"tampered claims": "",
	}
	parts := strings.Split(tokens["ours"], ".")
	parts[1] = parts[1][:len(parts[1])-2] + "xx"
	tokens["tampered claims"] = strings.Join(parts, ".")
	clock.Advance(90 * time.Minute) // every token expired half an hour ago
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			_, err := a.Verify(tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if lapsed := errors.Is(err, ErrCredentialLapsed); lapsed != (name == "ours") {
				t.Fatalf("lapsed = %v (%v)", lapsed, err)
			}
		})
	}
	clock.Advance(lapseWindow) // an old expiry is merely invalid
	if _, err := a.Verify(tokens["ours"]); !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrCredentialLapsed) {
		t.Fatalf("token expired long ago: %v, want a plain ErrInvalidToken", err)
	}
}
