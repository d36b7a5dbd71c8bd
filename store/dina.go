package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Perpetrator is a document of the free-form dina_agents_comprehensive
// collection (reference §3A). Fields whose stored shape varies between
// documents are typed any.
type Perpetrator struct {
	ID                 bson.ObjectID    `bson:"_id,omitempty"`
	FullName           string           `bson:"fullName"`
	Name               string           `bson:"name,omitempty"`
	Codename           string           `bson:"codename,omitempty"`
	Alias              string           `bson:"alias,omitempty"`
	Role               string           `bson:"role,omitempty"`
	Rank               string           `bson:"rank,omitempty"`
	Position           string           `bson:"position,omitempty"`
	Organization       []string         `bson:"organization,omitempty"`
	Status             string           `bson:"status,omitempty"`
	ProsecutionStatus  string           `bson:"prosecution_status,omitempty"`
	LegalStatusText    string           `bson:"legal_status,omitempty"`
	LegalStatus        *PerpLegalStatus `bson:"legalStatus,omitempty"`
	CrimesAccused      []string         `bson:"crimesAccused,omitempty"`
	MajorCrimes        []string         `bson:"major_crimes,omitempty"`
	NotableOperations  []string         `bson:"notableOperations,omitempty"`
	VerificationStatus string           `bson:"verificationStatus,omitempty"`
	Significance       string           `bson:"significance,omitempty"`
	Tags               []string         `bson:"tags,omitempty"`
	Timeline           any              `bson:"timeline,omitempty"`
	Priority           any              `bson:"priority,omitempty"`
	Metadata           map[string]any   `bson:"metadata,omitempty"`
}

// PerpLegalStatus is the legalStatus sub-document of the free-form DINA
// collections. Sentences is free-form (a string or a list in real data).
type PerpLegalStatus struct {
	Convicted      bool   `bson:"convicted"`
	CurrentStatus  string `bson:"currentStatus,omitempty"`
	Sentences      any    `bson:"sentences,omitempty"`
	PrisonLocation string `bson:"prisonLocation,omitempty"`
}

// DinaStats counts dina_agents_comprehensive (reference §3.6): Convicted has
// legalStatus.convicted true, Unprosecuted is Total-Convicted, AtLarge,
// Deceased and NeverProsecuted match their words in status
// (case-insensitive), Imprisoned has status exactly "CONVICTED - IMPRISONED".
type DinaStats struct {
	Total           int
	Convicted       int
	Unprosecuted    int
	AtLarge         int
	Imprisoned      int
	Deceased        int
	NeverProsecuted int
}

// AllAgent is a document of the dina_all_agents collection served by REST
// /api/dina/all-agents.
type AllAgent struct {
	ID          bson.ObjectID    `bson:"_id,omitempty"`
	AgentNumber int              `bson:"agentNumber"`
	FullName    string           `bson:"fullName"`
	Rank        string           `bson:"rank,omitempty"`
	Role        string           `bson:"role,omitempty"`
	Status      string           `bson:"status,omitempty"`
	LegalStatus *PerpLegalStatus `bson:"legalStatus,omitempty"`
}

// Filters of AllAgents (reference §3.7). Any other value, including "",
// means no filter.
const (
	AllAgentsUnprosecuted    = "unprosecuted"     // not convicted, or status mentions UNPROSECUTED
	AllAgentsAtLarge         = "at_large"         // status mentions AT LARGE
	AllAgentsConvicted       = "convicted"        // legalStatus.convicted is true
	AllAgentsDeceased        = "deceased"         // status mentions DECEASED
	AllAgentsNeverProsecuted = "never_prosecuted" // status mentions NEVER PROSECUTED
)

// Stored values of DINAAgent.Category.
const (
	DINACategoryBrigade         = "Brigade"
	DINACategoryDepartment      = "Department"
	DINACategoryStateStaff      = "DINA_State_Staff"
	DINACategoryEnlisted        = "Enlisted"
	DINACategoryOther           = "Other"
	DINACategoryRegionalCommand = "Regional_Command"
)

// Stored values of DINAAgent.LegalStatus.
const (
	LegalStatusAtLarge      = "at_large"
	LegalStatusConvicted    = "convicted"
	LegalStatusDeceased     = "deceased"
	LegalStatusIndicted     = "indicted"
	LegalStatusInvestigated = "investigated"
	LegalStatusUnknown      = "unknown"
	LegalStatusUnprosecuted = "unprosecuted"
)

// Stored values of DINAAgent.VerificationStatus.
const (
	VerificationPending  = "pending"
	VerificationVerified = "verified"
	VerificationDisputed = "disputed"
)

// Stored values of DataSource.Confidence.
const (
	ConfidenceAlleged   = "alleged"
	ConfidenceConfirmed = "confirmed"
	ConfidenceProbable  = "probable"
)

// DINAAgent is a document of the dina_army_list_agents collection (the DINA
// Army List). Enum-like fields hold the stored (lowercase or CamelCase)
// values listed in the constants above.
type DINAAgent struct {
	ID                 bson.ObjectID      `bson:"_id,omitempty"`
	AgentID            string             `bson:"agent_id"`
	FullName           string             `bson:"full_name"`
	RUT                string             `bson:"rut,omitempty"`
	Rank               string             `bson:"rank"`
	Branch             string             `bson:"branch,omitempty"`
	ServiceNumber      string             `bson:"service_number,omitempty"`
	Category           string             `bson:"category"`
	Region             string             `bson:"region,omitempty"`
	Brigade            string             `bson:"brigade,omitempty"`
	Department         string             `bson:"department,omitempty"`
	Position           string             `bson:"position,omitempty"`
	PositionNumber     *int               `bson:"position_number,omitempty"`
	ServicePeriodStart *time.Time         `bson:"service_period_start,omitempty"`
	ServicePeriodEnd   *time.Time         `bson:"service_period_end,omitempty"`
	ServicePeriodText  string             `bson:"service_period_text,omitempty"`
	LegalStatus        string             `bson:"legal_status,omitempty"`
	Convictions        []Conviction       `bson:"convictions,omitempty"`
	Investigations     []Investigation    `bson:"investigations,omitempty"`
	PostDINAPositions  []PostDINAPosition `bson:"post_dina_positions,omitempty"`
	KnownOperations    []string           `bson:"known_operations,omitempty"`
	AllegedCrimes      []string           `bson:"alleged_crimes,omitempty"`
	VictimsLinked      []string           `bson:"victims_linked,omitempty"`
	Aliases            []string           `bson:"aliases,omitempty"`
	DataSources        []DataSource       `bson:"data_sources"`
	PhotoURL           string             `bson:"photo_url,omitempty"`
	BiographicalNotes  string             `bson:"biographical_notes,omitempty"`
	CreatedAt          time.Time          `bson:"created_at"`
	UpdatedAt          time.Time          `bson:"updated_at"`
	CreatedBy          string             `bson:"created_by,omitempty"`
	VerificationStatus string             `bson:"verification_status"`
}

// Conviction is one court verdict against a DINAAgent.
type Conviction struct {
	CaseName string     `bson:"case_name"`
	Verdict  string     `bson:"verdict"`
	Sentence string     `bson:"sentence,omitempty"`
	Date     *time.Time `bson:"date,omitempty"`
}

// Investigation is one open or closed judicial investigation of a DINAAgent.
type Investigation struct {
	CaseName string `bson:"case_name"`
	Status   string `bson:"status"`
	Judge    string `bson:"judge,omitempty"`
}

// PostDINAPosition is a position a DINAAgent held after the DINA.
type PostDINAPosition struct {
	Institution string     `bson:"institution"`
	Rank        string     `bson:"rank"`
	Position    string     `bson:"position"`
	PeriodStart *time.Time `bson:"period_start,omitempty"`
	PeriodEnd   *time.Time `bson:"period_end,omitempty"`
}

// DataSource names where a DINAAgent record came from.
type DataSource struct {
	SourceName    string    `bson:"source_name"`
	Confidence    string    `bson:"confidence"`
	ExtractedDate time.Time `bson:"extracted_date"`
}

// DINAAgentFilter selects DINA Army List agents. Empty fields do not filter;
// non-empty ones match the stored value exactly. Search matches full_name,
// biographical_notes or any alias, case-insensitively, as literal text.
type DINAAgentFilter struct {
	Category           string
	Region             string
	Brigade            string
	LegalStatus        string
	Rank               string
	VerificationStatus string
	Search             string
}

// Sort fields accepted by DINASort.Field.
const (
	DINASortFullName    = "full_name"
	DINASortCategory    = "category"
	DINASortLegalStatus = "legal_status"
	DINASortRank        = "rank"
	DINASortCreatedAt   = "created_at"
)

// DINASort orders DINA Army List agents. The zero value sorts by full_name
// ascending; any other unknown Field is rejected with ErrInvalid.
type DINASort struct {
	Field string
	Desc  bool
}

// DINAStatistics aggregates the DINA Army List. Each KeyCount list is sorted
// by count descending, then key ascending. ByRegion and ByBrigade only count
// agents whose field is set and non-empty.
type DINAStatistics struct {
	Total         int
	Verified      int
	Pending       int
	ByCategory    []KeyCount
	ByLegalStatus []KeyCount
	ByRegion      []KeyCount
	ByBrigade     []KeyCount
}

// KeyCount is the number of documents sharing one value of a field.
type KeyCount struct {
	Key   string
	Count int
}

// DINAAgentPatch lists the updatable fields of a DINAAgent. Only non-nil
// fields are written; updated_at is always set.
type DINAAgentPatch struct {
	BiographicalNotes  *string
	Branch             *string
	Brigade            *string
	Category           *string
	FullName           *string
	LegalStatus        *string
	Rank               *string
	Region             *string
	RUT                *string
	VerificationStatus *string
}
