package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Threat-actor categories understood by the category filter and counted by
// ThreatCounts (reference §3.2). Any other value means "all".
const (
	CategoryAll            = "all"
	CategoryPredators      = "predators"
	CategoryPedophiles     = "pedophiles"
	CategoryDinaNetwork    = "dina_network"
	CategoryRansomware     = "ransomware"
	CategoryStateSponsored = "state_sponsored"
	CategoryCryptoCrime    = "crypto_crime"
)

// ThreatActor is a document of the threat_actors collection.
//
// ThreatLevel and Rank are nil when the stored value is missing or cannot be
// read as a number. Stored legacy strings for threat_level are coerced when
// read: LOW 25, MEDIUM 50, HIGH 75, CRITICAL 100 (case-insensitive); any
// other value reads as nil and is logged, never failing the read.
type ThreatActor struct {
	ID                  bson.ObjectID  `bson:"_id,omitempty"`
	ActorID             string         `bson:"actor_id"`
	Name                string         `bson:"name"`
	Description         string         `bson:"description,omitempty"`
	Type                string         `bson:"type,omitempty"`
	Category            string         `bson:"category,omitempty"`
	ActorClassification string         `bson:"actor_classification,omitempty"`
	Network             string         `bson:"network,omitempty"`
	TargetType          string         `bson:"target_type,omitempty"`
	ThreatLevel         *int           `bson:"threat_level,omitempty"`
	Rank                *int           `bson:"rank,omitempty"`
	StateActor          *bool          `bson:"state_actor,omitempty"`
	StateSponsored      *bool          `bson:"state_sponsored,omitempty"`
	Techniques          []string       `bson:"techniques,omitempty"`
	IOCs                []string       `bson:"iocs,omitempty"`
	Metadata            map[string]any `bson:"metadata,omitempty"`
}

// ThreatCounts is the number of threat actors in each category of reference
// §3.2. An actor may count in several categories; All counts every actor.
type ThreatCounts struct {
	All            int
	Predators      int
	Pedophiles     int
	DinaNetwork    int
	Ransomware     int
	StateSponsored int
	CryptoCrime    int
}

// HoneypotTrigger is a document of the honeypot_triggers collection: one
// request that hit a trap.
type HoneypotTrigger struct {
	ID             bson.ObjectID  `bson:"_id,omitempty"`
	TrapName       string         `bson:"trap_name"`
	IPAddress      string         `bson:"ip_address"`
	TriggeredAt    time.Time      `bson:"triggered_at"`
	UserAgent      string         `bson:"user_agent,omitempty"`
	RequestPath    string         `bson:"request_path,omitempty"`
	RequestMethod  string         `bson:"request_method,omitempty"`
	RequestHeaders map[string]any `bson:"request_headers,omitempty"`
	RequestBody    any            `bson:"request_body,omitempty"`
	ThreatLevel    string         `bson:"threat_level,omitempty"`
	ActionTaken    string         `bson:"action_taken,omitempty"`
	Metadata       map[string]any `bson:"metadata,omitempty"`
}

// HoneypotSummary aggregates all honeypot triggers. TrapStats is sorted by
// TriggerCount descending, then TrapName ascending, so TrapStats[0] is the
// most active trap.
type HoneypotSummary struct {
	TotalTriggers int
	UniqueIPs     int
	UniqueTraps   int
	TrapStats     []TrapStats
}

// TrapStats aggregates the triggers of one trap. UniqueIPs holds the distinct
// addresses that hit the trap, sorted, capped at 1000 per trap so a scanned
// trap cannot blow up a response.
type TrapStats struct {
	TrapName      string
	TriggerCount  int
	LastTriggered *time.Time
	UniqueIPs     []string
}

// HuntConversation is a document of the hunt_conversations collection.
// TargetActor holds a threat actor's actor_id (or name, in legacy data).
type HuntConversation struct {
	ID                bson.ObjectID  `bson:"_id,omitempty"`
	SessionID         string         `bson:"session_id"`
	Keywords          []string       `bson:"keywords,omitempty"`
	HuntType          string         `bson:"hunt_type,omitempty"`
	TargetActor       string         `bson:"target_actor,omitempty"`
	Status            string         `bson:"status,omitempty"`
	Outcome           string         `bson:"outcome,omitempty"`
	StartedAt         *time.Time     `bson:"started_at,omitempty"`
	CompletedAt       *time.Time     `bson:"completed_at,omitempty"`
	EvidenceCollected *bool          `bson:"evidence_collected,omitempty"`
	EvidencePackageID string         `bson:"evidence_package_id,omitempty"`
	HuntSummary       map[string]any `bson:"hunt_summary,omitempty"`
	Metadata          map[string]any `bson:"metadata,omitempty"`
}

// HuntStats aggregates the hunt_conversations collection.
//
// Active counts status "active", Completed status "completed",
// SuccessfulCaptures outcome "captured". RecentTargets are the distinct
// target_actor values of the 10 most recently started hunts that have one,
// most recent first. TopKeywords are the 10 most frequent keywords (count
// descending, then keyword ascending).
type HuntStats struct {
	Total              int
	Active             int
	Completed          int
	SuccessfulCaptures int
	RecentTargets      []string
	TopKeywords        []string
}

// CasePattern is a document of the case_patterns collection.
// RelatedPatterns holds other patterns' pattern_id values.
type CasePattern struct {
	ID              bson.ObjectID  `bson:"_id,omitempty"`
	PatternID       string         `bson:"pattern_id"`
	Title           string         `bson:"title"`
	Problem         string         `bson:"problem,omitempty"`
	Solution        string         `bson:"solution,omitempty"`
	Category        string         `bson:"category,omitempty"`
	Reusability     string         `bson:"reusability,omitempty"`
	Difficulty      string         `bson:"difficulty,omitempty"`
	Tags            []string       `bson:"tags,omitempty"`
	RelatedPatterns []string       `bson:"related_patterns,omitempty"`
	UsageCount      *int           `bson:"usage_count,omitempty"`
	LastUsed        *time.Time     `bson:"last_used,omitempty"`
	Metadata        map[string]any `bson:"metadata,omitempty"`
}

// CasePatternStats aggregates the case_patterns collection. HighReusability
// counts reusability "high"; TopCategories holds the 5 most frequent
// categories (count descending, then name); MostUsed the 10 patterns with the
// highest usage_count.
type CasePatternStats struct {
	Total           int
	HighReusability int
	TopCategories   []string
	MostUsed        []CasePattern
}

// Overview holds the headline counts of REST /api/stats.
type Overview struct {
	ThreatActors     int64
	ActiveHunts      int64
	CapturedHunts    int64
	HoneypotTriggers int64
}

// AsciiArt is a document of the ascii_art collection, served by REST
// /api/ascii-art.
type AsciiArt struct {
	ArtID    int    `bson:"id"`
	Title    string `bson:"title"`
	Art      string `bson:"art"`
	Category string `bson:"category"`
}

// DatabaseStats describes the database for REST /api/mongodb-stats.
// Server is nil when serverStatus is unavailable (for example on a hosted
// cluster without the privilege); Connections is nil when serverStatus does
// not report them. TopCollections holds at most 10 collections.
type DatabaseStats struct {
	Name           string
	Collections    int64
	Views          int64
	Objects        int64
	DataSize       int64
	StorageSize    int64
	Indexes        int64
	IndexSize      int64
	TotalSize      int64
	AvgObjSize     int64
	Server         *ServerInfo
	Connections    *ConnectionInfo
	TopCollections []CollectionCount
}

// ServerInfo is the part of serverStatus that /api/mongodb-stats shows.
// PID is nil when the server does not report it.
type ServerInfo struct {
	Host    string
	Version string
	Process string
	Uptime  float64
	PID     *int64
}

// ConnectionInfo is the connections section of serverStatus.
type ConnectionInfo struct {
	Current      int64
	Available    int64
	TotalCreated int64
	Active       int64
	Rejected     int64
}

// CollectionCount is the number of documents of one collection (or view).
type CollectionCount struct {
	Name  string
	Type  string
	Count int64
}
