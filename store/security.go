package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// User is a document of the users collection: an account that can log in
// with a password. Username is unique. PasswordHash is a bcrypt hash; the
// plaintext password is never stored. Role is one of "viewer", "analyst",
// "admin".
type User struct {
	ID           bson.ObjectID `bson:"_id,omitempty"`
	Username     string        `bson:"username"`
	PasswordHash string        `bson:"password_hash"`
	Role         string        `bson:"role"`
	CreatedAt    time.Time     `bson:"created_at"`
	Disabled     bool          `bson:"disabled"`
}

// APIKey is a document of the api_keys collection: a long-lived credential
// for a TV monitor or a machine. KeyID is the short public identifier that
// appears in the key itself; Hash is the hex SHA-256 of the key's secret (the
// secret itself is never stored). A key is usable while it is not revoked,
// not expired and, when it was rotated, not past GraceUntil.
type APIKey struct {
	ID          bson.ObjectID `bson:"_id,omitempty"`
	KeyID       string        `bson:"key_id"`
	Hash        string        `bson:"hash"`
	Name        string        `bson:"name"`
	Role        string        `bson:"role"`
	CreatedAt   time.Time     `bson:"created_at"`
	CreatedBy   string        `bson:"created_by,omitempty"`
	ExpiresAt   *time.Time    `bson:"expires_at,omitempty"`
	RevokedAt   *time.Time    `bson:"revoked_at,omitempty"`
	RotatedFrom string        `bson:"rotated_from,omitempty"`
	GraceUntil  *time.Time    `bson:"grace_until,omitempty"`
}

// APIKeyPatch lists the fields of an API key that change after creation: a
// revocation and the end of a rotation's grace period. Nil fields are left
// unchanged. Each field is set at most once and a revoked key is final (see
// store/mongo.Store.UpdateAPIKey): that is what makes a rotation or a
// revocation happen once even when several instances attempt it at once.
type APIKeyPatch struct {
	RevokedAt  *time.Time
	GraceUntil *time.Time
}

// Stored values of AuditEvent.Level, Category and Result (reference §4.8).
const (
	AuditLevelInfo     = "info"
	AuditLevelWarn     = "warn"
	AuditLevelError    = "error"
	AuditLevelCritical = "critical"

	AuditCategoryAuth     = "auth"
	AuditCategoryAccess   = "access"
	AuditCategorySecurity = "security"
	AuditCategoryData     = "data"
	AuditCategorySystem   = "system"

	AuditResultSuccess = "success"
	AuditResultFailure = "failure"
	AuditResultBlocked = "blocked"
)

// AuditEvent is a document of the audit_logs collection: one security
// relevant event (a login, a blocked request, an administrative write).
// Events are append-only. ID is assigned by the producer before the first
// write attempt so that retried inserts are idempotent.
type AuditEvent struct {
	ID          bson.ObjectID  `bson:"_id,omitempty"`
	Timestamp   time.Time      `bson:"timestamp"`
	Level       string         `bson:"level"`
	Category    string         `bson:"category"`
	Action      string         `bson:"action"`
	Actor       AuditActor     `bson:"actor"`
	Resource    *AuditResource `bson:"resource,omitempty"`
	Result      string         `bson:"result"`
	Details     map[string]any `bson:"details,omitempty"`
	ThreatScore int            `bson:"threat_score,omitempty"`
	Tags        []string       `bson:"tags,omitempty"`
}

// AuditActor is who caused an audit event.
type AuditActor struct {
	IP        string `bson:"ip,omitempty"`
	UserID    string `bson:"user_id,omitempty"`
	UserAgent string `bson:"user_agent,omitempty"`
}

// AuditResource is what an audit event acted on.
type AuditResource struct {
	Type string `bson:"type,omitempty"`
	ID   string `bson:"id,omitempty"`
}

// AuditFilter selects audit events. Zero fields do not filter. Limit is
// clamped to [1, 500]; 0 means 100.
type AuditFilter struct {
	Category string
	ActorIP  string
	Since    time.Time
	Limit    int
}
