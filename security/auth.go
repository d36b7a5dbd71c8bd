package security

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// AuthConfig configures an Authenticator. Zero values take the documented defaults.
type AuthConfig struct {
	// Secret signs and verifies HS256 tokens. Required; at least 16 bytes.
	Secret []byte
	// Issuer and Audience are written into every token and required on verification.
	// Defaults: "neko" and "neko-api".
	Issuer, Audience string
	// TokenTTL is a token's lifetime. Default 7 days (the original's JWT_EXPIRATION).
	TokenTTL time.Duration
	// AdminUsername and AdminPassword bootstrap the administrator. Required.
	AdminUsername, AdminPassword string
	// BcryptCost for the admin password hash. Default bcrypt.DefaultCost (10, as the original).
	BcryptCost int
	// Now is the clock; nil means time.Now. Tests pass a fixed clock instead of sleeping.
	Now func() time.Time
}

// Authenticator checks passwords and issues and verifies JWTs.
type Authenticator struct {
	cfg       AuthConfig
	adminHash []byte
	// dummyHash is compared against when the username is unknown, so that a login for a missing
	// user costs the same bcrypt time as one for a real user and usernames cannot be probed by timing.
	dummyHash []byte
	parser    *jwt.Parser
}

// claims are the token's payload: the original's {username, role, language} plus the registered
// claims (sub, iss, aud, iat, nbf, exp).
type claims struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Language string `json:"language,omitempty"`
	jwt.RegisteredClaims
}

// NewAuthenticator validates cfg and hashes the admin password once.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("auth: secret must be at least 16 bytes")
	}
	if cfg.AdminUsername == "" || cfg.AdminPassword == "" {
		return nil, errors.New("auth: admin username and password are required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "neko"
	}
	if cfg.Audience == "" {
		cfg.Audience = "neko-api"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 7 * 24 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.AdminPassword), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash admin password: %w", err)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not-a-real-password"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash dummy password: %w", err)
	}
	a := &Authenticator{cfg: cfg, adminHash: hash, dummyHash: dummy}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // algorithm pinning: no alg:none, no RS/HS confusion
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
	)
	return a, nil
}

// Login checks a username and password and returns a signed token and the identity it carries.
// Wrong usernames and wrong passwords both return ErrInvalidCredentials after the same bcrypt work.
func (a *Authenticator) Login(ctx context.Context, username, password, language string) (string, Identity, error) {
	if err := ctx.Err(); err != nil {
		return "", Identity{}, err
	}
	userOK := subtle.ConstantTimeCompare([]byte(username), []byte(a.cfg.AdminUsername)) == 1
	hash := a.dummyHash
	if userOK {
		hash = a.adminHash
	}
	pwErr := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !userOK || pwErr != nil {
		return "", Identity{}, ErrInvalidCredentials
	}
	if language == "" {
		language = "en"
	}
	id := Identity{Username: a.cfg.AdminUsername, Role: RoleAdmin, Language: language}
	tok, err := a.Issue(id)
	if err != nil {
		return "", Identity{}, err
	}
	return tok, id, nil
}

// Issue signs a token for id, valid from now for the configured TTL.
func (a *Authenticator) Issue(id Identity) (string, error) {
	now := a.cfg.Now()
	c := claims{
		Username: id.Username,
		Role:     id.Role.String(),
		Language: id.Language,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   id.Username,
			Issuer:    a.cfg.Issuer,
			Audience:  jwt.ClaimStrings{a.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(a.cfg.TokenTTL)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.cfg.Secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature (HS256 only), issuer, audience, expiry and not-before, and
// returns the identity it carries. Every failure is ErrInvalidToken (wrapping the reason).
func (a *Authenticator) Verify(token string) (Identity, error) {
	var c claims
	_, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.cfg.Secret, nil })
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Username == "" {
		return Identity{}, fmt.Errorf("%w: no username", ErrInvalidToken)
	}
	role, err := ParseRole(c.Role)
	if err != nil || role == RoleAnonymous {
		return Identity{}, fmt.Errorf("%w: bad role %q", ErrInvalidToken, c.Role)
	}
	lang := c.Language
	if lang == "" {
		lang = "en"
	}
	return Identity{Username: c.Username, Role: role, Language: lang}, nil
}
