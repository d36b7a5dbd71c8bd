// Package security decides who a caller is and what they may do, and records what happened.
//
// A request's credentials (a JWT from a login, or an API key of a TV monitor or machine) are
// verified once in the HTTP layer by Authenticator.Authenticate, turned into an Identity and
// carried in the request's context; resolvers and the GraphQL @auth directive only ever read that
// Identity. Logins check bcrypt hashes of the users collection (through the UserStore interface),
// behind a per-username and per-address failure throttle that refuses before any bcrypt work. API
// keys are verified against an in-memory index (KeyManager) that is loaded from the database at
// start and refreshed on change, so verifying a known key never costs a database round trip; a
// well-formed key the index lacks (created on another instance a moment ago) is looked up in the
// database within a fixed budget. Security
// events go to an AuditLog, which buffers them off the request path and writes them in batches.
// Nothing here knows about HTTP or GraphQL.
package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role is a caller's privilege level. Roles are ordered: each one includes the ones below it.
type Role int

// The roles, lowest first. RoleAnonymous is the zero value: a caller without credentials.
const (
	RoleAnonymous Role = iota
	RoleViewer
	RoleAnalyst
	RoleAdmin
)

var roleNames = [...]string{"anonymous", "viewer", "analyst", "admin"}

// String returns the lowercase role name used in tokens and in the `role` field of UserType.
func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return "anonymous"
	}
	return roleNames[r]
}

// Allows reports whether a caller with role r may do what requires role need.
func (r Role) Allows(need Role) bool { return r >= need }

// ParseRole parses a role name case-insensitively ("VIEWER" and "viewer" alike).
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if strings.EqualFold(s, n) {
			return Role(i), nil
		}
	}
	return RoleAnonymous, fmt.Errorf("unknown role %q", s)
}

// Identity is an authenticated caller. The zero Identity is an anonymous caller.
type Identity struct {
	Username string
	Role     Role
	Language string
}

// Authenticated reports whether the identity came from valid credentials.
func (id Identity) Authenticated() bool { return id.Role > RoleAnonymous }

// Errors of this package; the HTTP layer maps them to UNAUTHENTICATED and FORBIDDEN.
var (
	// ErrUnauthenticated: the operation needs credentials and none (or no valid ones) were given.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden: the caller is authenticated but its role is too low.
	ErrForbidden = errors.New("insufficient role")
	// ErrInvalidToken: a bearer token was presented and failed verification.
	ErrInvalidToken = errors.New("invalid or expired token")
	// ErrCredentialLapsed: the credential presented is authentic (a token this server signed,
	// an API key it issued) but no longer valid: the token expired; the key was revoked,
	// expired or rotated and its grace is over. It always comes with ErrInvalidToken. A
	// lapsed credential says its holder was once a legitimate client, which forged or random
	// credentials cannot: the HTTP layer does not escalate such a caller to a block. Only for
	// lapseWindow after it lapsed: an old expired token or a key revoked because it leaked must
	// not shield whoever holds it from blocks for ever.
	ErrCredentialLapsed = errors.New("credential lapsed")
	// ErrInvalidCredentials: a login with a wrong username or password (or a disabled account:
	// the caller cannot tell which).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrLoginThrottled: too many failed logins for the username or from the client address;
	// the attempt was refused without checking the password. The HTTP layer maps it to
	// RATE_LIMITED.
	ErrLoginThrottled = errors.New("too many failed login attempts")
	// ErrKeyInactive: the API key cannot be rotated because it is revoked, expired or already
	// rotated.
	ErrKeyInactive = errors.New("api key is revoked, expired or already rotated")
)

// ThrottledError is ErrLoginThrottled (errors.Is matches it) with how long until the next
// attempt would be allowed, for the HTTP layer's Retry-After.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string { return ErrLoginThrottled.Error() }

// RetryIn is the wait the caller should advertise (an HTTP Retry-After).
func (e *ThrottledError) RetryIn() time.Duration { return e.RetryAfter }

// Unwrap makes errors.Is(err, ErrLoginThrottled) hold.
func (e *ThrottledError) Unwrap() error { return ErrLoginThrottled }

type identityKey struct{}

// NewContext returns a context carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity in ctx, or the anonymous identity.
func FromContext(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

type clientAddrKey struct{}

// WithClientAddr returns a context carrying the caller's network address (the client IP the HTTP
// layer resolved, Fly-Client-IP aware). Login throttles failures per address and the audit log
// records it as the actor's IP.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the address set by WithClientAddr, or "".
func ClientAddr(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return addr
}

type userAgentKey struct{}

// WithUserAgent returns a context carrying the caller's User-Agent, which the audit log records.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

// ActorOf is the audit log's actor for the caller in ctx: address, user and user agent.
func ActorOf(ctx context.Context) AuditActor {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return AuditActor{IP: ClientAddr(ctx), UserID: FromContext(ctx).Username, UserAgent: ua}
}

type credentialErrKey struct{}

// WithCredentialError returns a context recording that the caller sent credentials that failed
// verification (err, which wraps ErrInvalidToken). Such a caller is served as anonymous, as the
// original did (its guard ran only on the guarded operations): a dashboard that still sends an
// expired token must be able to log in again and read public data. Require tells a field that
// needs a role why the caller has none.
func WithCredentialError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, credentialErrKey{}, err)
}

// Require returns nil when the identity in ctx has at least role need; for an anonymous caller
// the reason its credentials failed (WithCredentialError), else ErrUnauthenticated; and
// ErrForbidden for an authenticated caller whose role is too low.
func Require(ctx context.Context, need Role) error {
	if need == RoleAnonymous {
		return nil
	}
	id := FromContext(ctx)
	switch {
	case !id.Authenticated():
		if err, _ := ctx.Value(credentialErrKey{}).(error); err != nil {
			return err
		}
		return ErrUnauthenticated
	case !id.Role.Allows(need):
		return ErrForbidden
	}
	return nil
}

// lapseWindow is how long after a credential stopped working it still counts as lapsed
// (ErrCredentialLapsed) rather than merely invalid: long enough for a dashboard or monitor whose
// token or key just ran out to be noticed and fixed.
const lapseWindow = time.Hour

// recentlyLapsed reports whether a credential that stopped working at at did so less than
// lapseWindow before now.
func recentlyLapsed(at, now time.Time) bool {
	return !at.IsZero() && now.Sub(at) < lapseWindow
}
