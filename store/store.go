// Package store holds the domain types of NEKO Defense and the errors its
// persistence layer reports.
//
// Data flows from MongoDB (or the embedded FerretDB, see store/embedded)
// through store/mongo, which decodes documents into the types declared here,
// to the resolvers and REST handlers, which map them onto the wire. Types in
// this package carry bson tags naming the stored fields, and nothing else of
// the driver: stored enum values stay exactly as stored (lowercase for the
// DINA Army List), and mapping them to GraphQL enum names is the resolvers'
// job.
package store

import "errors"

// ErrNotFound is returned by single-document lookups and updates when no
// document matches.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would violate a unique index (for
// example a duplicate agent_id), or when a conditional update finds the
// document no longer in the state it requires (for example an API key that
// another instance rotated first).
var ErrConflict = errors.New("store: conflict")

// ErrInvalid is returned when an argument cannot be turned into a query (for
// example an unknown sort field).
var ErrInvalid = errors.New("store: invalid argument")

// The collections of the database, as the original named them: store/seed writes them and
// store/mongo reads them.
const (
	CollThreatActors  = "threat_actors"
	CollHoneypot      = "honeypot_triggers"
	CollHunts         = "hunt_conversations"
	CollPatterns      = "case_patterns"
	CollArmyList      = "dina_army_list_agents"
	CollComprehensive = "dina_agents_comprehensive"
	CollAllAgents     = "dina_all_agents"
	CollAsciiArt      = "ascii_art"
)
