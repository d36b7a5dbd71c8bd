// Package resolvers is the NEKO Defense API: its GraphQL schema (schema.graphql, embedded) and the
// functions that answer each field from the store. The engine (package graphql) calls the
// bindings returned by Bindings; every field that declares @auth in the schema is wrapped once, at
// construction, by a check of the caller's role, so authorization is read from the schema and never
// scattered through resolver code. The REST compatibility bodies (Compat) are computed here too,
// from the same store, so that both surfaces agree on every number.
package resolvers

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/loaders"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
)

//go:embed schema.graphql
var schemaSDL string

// LoadSchema parses and validates the embedded NEKO schema.
func LoadSchema() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schemaSDL, BuiltIn: false})
	if err != nil {
		return nil, fmt.Errorf("load schema: %w", err)
	}
	return s, nil
}

// Store is the persistence the resolvers need, including the batched lookups of the relation
// loaders. store/mongo satisfies it.
type Store interface {
	loaders.Store

	ThreatCounts(ctx context.Context) (store.ThreatCounts, error)
	ThreatActors(ctx context.Context, category string, limit int) ([]store.ThreatActor, error)
	ThreatActorDocuments(ctx context.Context, category string, limit int) ([]map[string]any, error)
	ThreatActor(ctx context.Context, actorID string) (store.ThreatActor, error)

	HoneypotTriggers(ctx context.Context, trapName string, limit int) ([]store.HoneypotTrigger, error)
	HoneypotTriggersByIP(ctx context.Context, ip string, limit int) ([]store.HoneypotTrigger, error)
	RecentHighThreatTriggers(ctx context.Context, limit int) ([]store.HoneypotTrigger, error)
	HoneypotSummary(ctx context.Context) (store.HoneypotSummary, error)

	HuntConversations(ctx context.Context, status string, limit int) ([]store.HuntConversation, error)
	HuntConversation(ctx context.Context, sessionID string) (store.HuntConversation, error)
	HuntStats(ctx context.Context) (store.HuntStats, error)

	CasePatterns(ctx context.Context, reusability string, limit int) ([]store.CasePattern, error)
	CasePattern(ctx context.Context, patternID string) (store.CasePattern, error)
	CasePatternStats(ctx context.Context) (store.CasePatternStats, error)

	Perpetrators(ctx context.Context, limit int) ([]store.Perpetrator, error)
	DinaStats(ctx context.Context) (store.DinaStats, error)
	AllAgents(ctx context.Context, filter string, page, limit int) ([]store.AllAgent, int, error)

	DINAAgents(ctx context.Context, f store.DINAAgentFilter, sort store.DINASort, page, limit int) ([]store.DINAAgent, int, error)
	DINAAgent(ctx context.Context, agentID string) (store.DINAAgent, error)
	SearchDINAAgents(ctx context.Context, query string, limit int) ([]store.DINAAgent, error)
	DINAStatistics(ctx context.Context) (store.DINAStatistics, error)
	CreateDINAAgent(ctx context.Context, a store.DINAAgent) (store.DINAAgent, error)
	UpdateDINAAgent(ctx context.Context, agentID string, p store.DINAAgentPatch) (store.DINAAgent, error)
	DeleteDINAAgent(ctx context.Context, agentID string) (bool, error)

	AsciiArt(ctx context.Context) ([]store.AsciiArt, error)
	Overview(ctx context.Context) (store.Overview, error)
	DatabaseStats(ctx context.Context) (store.DatabaseStats, error)
}

// Authenticator checks credentials for the login mutation.
type Authenticator interface {
	Login(ctx context.Context, username, password, language string) (string, security.Identity, error)
}

// InputError is a client mistake found by a resolver (a page below 1, an over-long string...).
// The HTTP layer reports it as BAD_USER_INPUT with its message.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// Resolvers answers the NEKO schema's fields.
type Resolvers struct {
	store   Store
	auth    Authenticator
	logger  *slog.Logger
	now     func() time.Time
	loaders loaders.Config

	// Security administration (admin.go); nil collaborators answer "not configured".
	security     SecurityStore
	blocks       BlockAdmin
	keys         KeyAdmin
	auditor      Auditor
	auditDropped func() uint64
}

// Config holds the Resolvers' collaborators. Store, Auth and Logger are required; Now defaults to
// time.Now.
type Config struct {
	Store  Store
	Auth   Authenticator
	Logger *slog.Logger
	Now    func() time.Time
	// Loaders tunes the per-request dataloaders; the zero value takes their defaults with at
	// most 50 hunts or triggers per actor.
	Loaders loaders.Config

	// Security, Blocks and Keys serve the admin security fields; each nil one makes its fields
	// answer that the feature is not configured. Audit, when set, records every executed
	// mutation and every admin read of security data; AuditDropped reports its losses in
	// securityStats.
	Security     SecurityStore
	Blocks       BlockAdmin
	Keys         KeyAdmin
	Audit        Auditor
	AuditDropped func() uint64
	// Generation is the response cache's invalidation generation (cache.Tiered.Generation): the
	// dashboard statistics are shared between concurrent callers only within one. nil shares
	// them regardless.
	Generation func() uint64
}

// New validates cfg.
func New(cfg Config) (*Resolvers, error) {
	if cfg.Store == nil || cfg.Auth == nil || cfg.Logger == nil {
		return nil, errors.New("resolvers: Store, Auth and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Loaders.PerKeyLimit == 0 {
		cfg.Loaders.PerKeyLimit = maxRelationLimit
	}
	return &Resolvers{store: &dedupedStore{Store: cfg.Store, generation: cfg.Generation}, auth: cfg.Auth, logger: cfg.Logger, now: cfg.Now, loaders: cfg.Loaders,
		security: cfg.Security, blocks: cfg.Blocks, keys: cfg.Keys, auditor: cfg.Audit, auditDropped: cfg.AuditDropped}, nil
}

// Bindings returns the engine bindings for every field of the schema that needs a resolver,
// with @auth enforced on the fields that declare it.
func (r *Resolvers) Bindings(schema *ast.Schema) (map[string]map[string]graphql.Field, error) {
	b := map[string]map[string]graphql.Field{
		"Query":    {},
		"Mutation": {},
	}
	for _, add := range []func(map[string]map[string]graphql.Field){
		r.bindAuth, r.bindThreats, r.bindHoneypots, r.bindHunts, r.bindPatterns, r.bindPerpetrators, r.bindArmyList, r.bindRelations, r.bindAdmin,
	} {
		add(b)
	}
	if err := enforceAuth(schema, b); err != nil {
		return nil, err
	}
	r.auditMutations(b) // outside the role check: refused attempts are audited too
	r.auditAdminReads(b)
	return b, nil
}

// Scalars returns the custom scalars of the schema.
func Scalars() map[string]graphql.Scalar {
	return map[string]graphql.Scalar{"DateTime": dateTimeScalar(), "JSON": jsonScalar()}
}
