package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	//
	// Tokens are stateless: verifying one never reads the database, so a token stays valid until
	// it expires even if its user is disabled, deleted or changes role meanwhile. Revocation of a
	// user's access is by lifetime; deployments that need faster revocation set a shorter TTL
	// (clients log in again), and machines use API keys, which are revocable at once.
	TokenTTL time.Duration
	// AdminUsername and AdminPassword bootstrap the administrator. Required. Without Users they
	// are the only account (the original's behaviour); with Users, BootstrapAdmin writes them to
	// the users collection at start-up.
	AdminUsername, AdminPassword string
	// BcryptCost for password hashes written by this package. Default bcrypt.DefaultCost (10, as
	// the original).
	BcryptCost int
	// Users, when set, holds the accounts Login checks. Nil: the admin from the env only.
	Users UserStore
	// Throttle limits failed logins per username and per client address.
	Throttle ThrottleConfig
	// Keys, when set, verifies API keys in Authenticate and VerifyAPIKey. Nil: API keys are
	// rejected.
	Keys *KeyManager
	// Audit, when set, receives an auth event for every login attempt (success, failure,
	// throttled).
	Audit *AuditLog
	// Now is the clock; nil means time.Now. Tests pass a fixed clock instead of sleeping.
	Now func() time.Time
}

// Authenticator checks passwords and issues and verifies JWTs; with a KeyManager it also accepts
// API keys. It is safe for concurrent use.
type Authenticator struct {
	cfg       AuthConfig
	adminHash []byte
	// dummyHash is compared against when the username is unknown, so that a login for a missing
	// user costs the same bcrypt time as one for a real user and usernames cannot be probed by timing.
	dummyHash []byte
	parser    *jwt.Parser
	verified  *verifiedTokens // tokens already verified, until they expire
	throttle  *throttle
	// compare checks a password against a bcrypt hash; tests count its calls.
	compare func(hash, password []byte) error
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
	if err := cfg.Throttle.setDefaults(); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(cfg.AdminPassword), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash admin password: %w", err)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not-a-real-password"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("auth: hash dummy password: %w", err)
	}
	a := &Authenticator{cfg: cfg, adminHash: hash, dummyHash: dummy, verified: newVerifiedTokens(), throttle: newThrottle(cfg.Throttle), compare: bcrypt.CompareHashAndPassword}
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
//
// Before any password work the attempt takes a token from the username's and the client address's
// failure buckets (the address comes from WithClientAddr on ctx); when either is empty Login
// returns a ThrottledError (ErrLoginThrottled) at once. With ThrottleConfig.Shared the tokens are
// taken from the fleet's buckets in the same step, atomically, so the instances together evaluate
// no more guesses than one would. A successful login, or a failure of ours (the database is down),
// gives the tokens back, so only wrong guesses count. Wrong usernames, wrong passwords and
// disabled accounts all return ErrInvalidCredentials after the same bcrypt work.
func (a *Authenticator) Login(ctx context.Context, username, password, language string) (string, Identity, error) {
	if err := ctx.Err(); err != nil {
		return "", Identity{}, err
	}
	refund, wait, ok := a.throttle.acquire(ctx, username, ClientAddr(ctx), a.cfg.Now())
	if !ok {
		a.auditLogin(ctx, username, ResultBlocked)
		return "", Identity{}, &ThrottledError{RetryAfter: wait}
	}
	id, err := a.checkPassword(ctx, username, password)
	if err != nil {
		if !errors.Is(err, ErrInvalidCredentials) {
			refund()
		}
		a.auditLogin(ctx, username, ResultFailure)
		return "", Identity{}, err
	}
	refund()
	if language == "" {
		language = "en"
	}
	id.Language = language
	tok, err := a.Issue(id)
	if err != nil {
		return "", Identity{}, err
	}
	a.auditLogin(ctx, id.Username, ResultSuccess)
	return tok, id, nil
}

func (a *Authenticator) auditLogin(ctx context.Context, username string, result AuditResult) {
	if a.cfg.Audit == nil {
		return
	}
	// The username is the caller's text: cap it so a failed login cannot write megabytes.
	ev := AuthEvent("login", result, ClientAddr(ctx), throttleKey(username))
	ev.Actor.UserAgent = ActorOf(ctx).UserAgent
	a.cfg.Audit.Record(ev)
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
// returns the identity it carries. Every failure is ErrInvalidToken (wrapping the reason); a
// token whose only fault is its expiry is ErrCredentialLapsed too for lapseWindow after it
// expired.
func (a *Authenticator) Verify(token string) (Identity, error) {
	now := a.cfg.Now()
	if id, ok := a.verified.get(token, now); ok {
		return id, nil
	}
	var c claims
	_, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return a.cfg.Secret, nil })
	if err != nil {
		if onlyExpired(err) && c.ExpiresAt != nil && recentlyLapsed(c.ExpiresAt.Time, now) {
			return Identity{}, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrCredentialLapsed, err)
		}
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
	id := Identity{Username: c.Username, Role: role, Language: lang}
	if c.ExpiresAt != nil { // required by the parser; checked again for the cache's sake
		nbf := time.Time{}
		if c.NotBefore != nil {
			nbf = c.NotBefore.Time
		}
		a.verified.put(token, id, nbf, c.ExpiresAt.Time)
	}
	return id, nil
}

// onlyExpired reports whether a parse error of a token says it expired and nothing else: the
// parser checks the signature before the claims, so such a token is one this server signed, for
// this issuer and audience, and valid once.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenMalformed,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidSubject, jwt.ErrTokenInvalidId} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

// VerifyAPIKey verifies an API key (see KeyManager.Verify; ctx bounds the store lookup of a key
// this instance does not know yet). Without a KeyManager every key is ErrInvalidToken.
func (a *Authenticator) VerifyAPIKey(ctx context.Context, key string) (Identity, error) {
	if a.cfg.Keys == nil {
		return Identity{}, fmt.Errorf("%w: api keys are not enabled", ErrInvalidToken)
	}
	return a.cfg.Keys.Verify(ctx, key)
}

// Authenticate turns a request's credential headers into an identity; the HTTP layer calls it
// with the raw values of the Authorization and X-API-Key headers ("" when absent). The values may
// alias buffers reused after the call: whatever is kept of them is copied. ctx bounds the store
// lookup of an API key this instance does not know yet (KeyManager.Verify); nothing else here
// waits on anything.
//
//   - "Authorization: Bearer neko_..." is an API key, any other bearer value a JWT.
//   - "X-API-Key: neko_..." is an API key; it is read only when Authorization is absent.
//   - Neither header: the anonymous identity, presented false, nil error.
//
// presented reports whether credentials were sent; when they were and fail, err wraps
// ErrInvalidToken (a malformed Authorization header included), and the caller must fail the
// request rather than treat it as anonymous.
func (a *Authenticator) Authenticate(ctx context.Context, authorization, xAPIKey string) (id Identity, presented bool, err error) {
	authorization = strings.TrimSpace(authorization)
	if authorization != "" {
		scheme, cred, ok := strings.Cut(authorization, " ")
		cred = strings.TrimSpace(cred)
		if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return Identity{}, true, fmt.Errorf("%w: Authorization header must be 'Bearer <token>'", ErrInvalidToken)
		}
		if strings.HasPrefix(cred, apiKeyPrefix) {
			id, err = a.VerifyAPIKey(ctx, cred)
		} else {
			id, err = a.Verify(cred)
		}
		return id, true, err
	}
	if key := strings.TrimSpace(xAPIKey); key != "" {
		id, err = a.VerifyAPIKey(ctx, key)
		return id, true, err
	}
	return Identity{}, false, nil
}
