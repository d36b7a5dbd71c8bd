package security

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestAuthenticate(t *testing.T) {
	clock := newFakeClock()
	keys := newTestKeys(t, &fakeKeys{}, clock)
	a, err := NewAuthenticator(AuthConfig{Secret: testSecret, AdminUsername: "admin", AdminPassword: "pw",
		BcryptCost: bcrypt.MinCost, TokenTTL: time.Hour, Now: clock.Now, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	jwtID := Identity{Username: "vera", Role: RoleViewer, Language: "en"}
	tok, err := a.Issue(jwtID)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.Create(context.Background(), "wall", RoleAnalyst, "admin")
	if err != nil {
		t.Fatal(err)
	}
	keyID := Identity{Username: "apikey:wall", Role: RoleAnalyst, Language: "en"}
	noKeys := newTestAuth(t, clock.Now)

	tests := []struct {
		name          string
		auth          *Authenticator
		authz, xKey   string
		want          Identity
		wantPresented bool
		wantErr       error
	}{
		{"no credentials", a, "", "", Identity{}, false, nil},
		{"blank headers", a, "   ", " ", Identity{}, false, nil},
		{"bearer jwt", a, "Bearer " + tok, "", jwtID, true, nil},
		{"scheme case-insensitive", a, "bearer  " + tok + " ", "", jwtID, true, nil},
		{"bearer api key", a, "Bearer " + key, "", keyID, true, nil},
		{"x-api-key", a, "", key, keyID, true, nil},
		{"authorization wins over x-api-key", a, "Bearer " + tok, key, jwtID, true, nil},
		{"bad authorization not rescued by x-api-key", a, "Bearer junk", key, Identity{}, true, ErrInvalidToken},
		{"basic scheme", a, "Basic dXNlcjpwdw==", "", Identity{}, true, ErrInvalidToken},
		{"bearer without token", a, "Bearer", "", Identity{}, true, ErrInvalidToken},
		{"bearer blank token", a, "Bearer   ", "", Identity{}, true, ErrInvalidToken},
		{"token without scheme", a, tok, "", Identity{}, true, ErrInvalidToken},
		{"bad jwt", a, "Bearer a.b.c", "", Identity{}, true, ErrInvalidToken},
		{"bad bearer api key", a, "Bearer neko_000000000000_x", "", Identity{}, true, ErrInvalidToken},
		{"bad x-api-key", a, "", "neko_nope", Identity{}, true, ErrInvalidToken},
		{"jwt in x-api-key", a, "", tok, Identity{}, true, ErrInvalidToken},
		{"api key without a KeyManager", noKeys, "", key, Identity{}, true, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, presented, err := tt.auth.Authenticate(t.Context(), tt.authz, tt.xKey)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if id != tt.want || presented != tt.wantPresented {
				t.Fatalf("Authenticate = %+v, %v; want %+v, %v", id, presented, tt.want, tt.wantPresented)
			}
		})
	}
	if id, err := a.VerifyAPIKey(t.Context(), key); err != nil || id != keyID {
		t.Fatalf("VerifyAPIKey = %+v, %v", id, err)
	}
}

func TestClientAddr(t *testing.T) {
	ctx := context.Background()
	if ClientAddr(ctx) != "" {
		t.Fatal("address without WithClientAddr")
	}
	if got := ClientAddr(WithClientAddr(ctx, "2001:db8::1")); got != "2001:db8::1" {
		t.Fatalf("ClientAddr = %q", got)
	}
}
