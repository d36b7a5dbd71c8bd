package resolvers

import (
	"slices"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/security"
)

// OperationPolicy is what the HTTP layer needs to know about a prepared operation to cache it
// safely: how long its answer lives, whom it may be shared with, and what it invalidates.
type OperationPolicy struct {
	// MaxAge is how long a query's answer is fresh (the smallest @cacheControl maxAge of the
	// fields it selects); zero means it must not be cached.
	MaxAge time.Duration
	// Private answers depend on the caller (e.g. me): they are cached per user and sent with
	// Cache-Control: private.
	Private bool
	// Requires is the highest @auth role among the selected fields. Every caller with at least
	// this role gets the same answer, so a cached answer is shared among them and served only
	// to callers who hold it; anyone else executes and gets the authorization errors.
	Requires security.Role
	// Tags are the object types the answer is built from (cache invalidation tags).
	Tags []string
	// Invalidates are the types a mutation's @invalidates names.
	Invalidates []string
}

// policyKey identifies an operation within a cached document.
type policyKey struct {
	hash [32]byte
	name string
}

// Policies computes OperationPolicy values from the schema's directives and memoizes the static
// part per document and operation, so a cached request pays a map lookup.
type Policies struct {
	schema *ast.Schema
	mu     sync.Mutex // guards cache
	cache  map[policyKey]OperationPolicy
	limit  int
}

// NewPolicies returns a policy calculator over schema, remembering at most limit operations
// (the same bound as the engine's document cache).
func NewPolicies(schema *ast.Schema, limit int) *Policies {
	if limit <= 0 {
		limit = 1000
	}
	return &Policies{schema: schema, cache: make(map[policyKey]OperationPolicy), limit: limit}
}

// For returns the policy of op.
func (p *Policies) For(op *graphql.Operation) OperationPolicy {
	key := policyKey{hash: op.Hash, name: op.Name}
	p.mu.Lock()
	pol, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return pol
	}
	pol = OperationPolicy{
		MaxAge:  op.CacheHint.MaxAge,
		Private: op.CacheHint.Private,
		Tags:    op.CacheHint.Types,
	}
	w := walker{seen: map[string]bool{}}
	w.walk(op.Definition.SelectionSet, &pol)
	if op.Kind != ast.Query {
		pol.MaxAge = 0
	}
	slices.Sort(pol.Invalidates)
	pol.Invalidates = slices.Compact(pol.Invalidates)
	p.mu.Lock()
	if len(p.cache) >= p.limit {
		clear(p.cache) // a simple bound: recomputing is cheap, unbounded growth is not
	}
	p.cache[key] = pol
	p.mu.Unlock()
	return pol
}

// walker visits every field of an operation once per fragment.
type walker struct {
	seen map[string]bool // named fragments already visited
}

func (w *walker) walk(set ast.SelectionSet, pol *OperationPolicy) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Definition != nil {
				if d := s.Definition.Directives.ForName("auth"); d != nil {
					if role, err := roleOf(d); err == nil && role > pol.Requires {
						pol.Requires = role
					}
				}
				if d := s.Definition.Directives.ForName("invalidates"); d != nil {
					if a := d.Arguments.ForName("types"); a != nil && a.Value != nil {
						for _, c := range a.Value.Children {
							pol.Invalidates = append(pol.Invalidates, c.Value.Raw)
						}
					}
				}
			}
			w.walk(s.SelectionSet, pol)
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, pol)
		case *ast.FragmentSpread:
			if s.Definition != nil && !w.seen[s.Name] {
				w.seen[s.Name] = true
				w.walk(s.Definition.SelectionSet, pol)
			}
		}
	}
}

// roleOf reads @auth(requires:) on a selected field; the schema validated the argument, and a
// missing one means the directive's default, VIEWER.
func roleOf(d *ast.Directive) (security.Role, error) {
	if a := d.Arguments.ForName("requires"); a != nil && a.Value != nil {
		return security.ParseRole(a.Value.Raw)
	}
	return security.RoleViewer, nil
}
