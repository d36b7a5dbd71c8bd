package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Incident severities, as stored in security_incidents.severity.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Incident is a document of the security_incidents collection: one security
// event handled by an incident playbook (reference §4.2). IncidentID has the
// form "INC-<unix ms>-<7 upper-case base36 characters>".
type Incident struct {
	ID          bson.ObjectID    `bson:"_id,omitempty"`
	IncidentID  string           `bson:"incident_id"`
	Timestamp   time.Time        `bson:"timestamp"`
	Severity    string           `bson:"severity"`
	Category    string           `bson:"category"`
	Description string           `bson:"description,omitempty"`
	Actor       IncidentActor    `bson:"actor"`
	Evidence    map[string]any   `bson:"evidence,omitempty"`
	ThreatScore int              `bson:"threat_score"`
	AutoBlocked bool             `bson:"auto_blocked"`
	Playbook    string           `bson:"playbook"`
	Actions     []IncidentAction `bson:"actions"`
}

// IncidentActor identifies who caused an incident. Fingerprint and UserID
// are empty when unknown.
type IncidentActor struct {
	IP          string `bson:"ip"`
	Fingerprint string `bson:"fingerprint,omitempty"`
	UserID      string `bson:"user_id,omitempty"`
}

// IncidentAction is one step a playbook took, in the order taken.
type IncidentAction struct {
	Type   string    `bson:"type"`
	Detail string    `bson:"detail,omitempty"`
	At     time.Time `bson:"at"`
}

// BlockedIP is a document of the blocked_ips collection: the latest block of
// one address (one document per address). The block is active while
// ExpiresAt is in the future; expired documents stay as history until the
// address is blocked again or unblocked. Field names follow the original.
type BlockedIP struct {
	IP        string    `bson:"ip"`
	Reason    string    `bson:"reason"`
	BlockedAt time.Time `bson:"blockedAt"`
	ExpiresAt time.Time `bson:"expiresAt"`
	Temporary bool      `bson:"temporary"`
}

// Active reports whether the block is still in force at now.
func (b BlockedIP) Active(now time.Time) bool { return now.Before(b.ExpiresAt) }

// SecurityStats summarises the incidents since a point in time and the
// block list. BySeverity and ByCategory are sorted by count descending, then
// key ascending; AutoBlocked counts the incidents whose playbook blocked the
// address; ActiveBlocks counts blocked_ips documents not yet expired.
type SecurityStats struct {
	Since        time.Time
	Incidents    int
	AutoBlocked  int
	BySeverity   []KeyCount
	ByCategory   []KeyCount
	ActiveBlocks int
}
