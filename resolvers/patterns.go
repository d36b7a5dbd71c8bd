package resolvers

import (
	"context"
	"errors"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/store"
)

func (r *Resolvers) bindPatterns(b map[string]map[string]graphql.Field) {
	b["Query"]["casePatterns"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		reuse, err := shortString(p, "reusability")
		if err != nil {
			return nil, err
		}
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		ps, err := r.store.CasePatterns(ctx, reuse, limit)
		if err != nil {
			return nil, err
		}
		return pointers(ps), nil
	})
	b["Query"]["casePattern"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		id, err := shortString(p, "patternId")
		if err != nil {
			return nil, err
		}
		c, err := r.store.CasePattern(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &c, nil
	})
	b["Query"]["casePatternStats"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		s, err := r.store.CasePatternStats(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"total_patterns":   s.Total,
			"high_reusability": s.HighReusability,
			"top_categories":   nonNilStrings(s.TopCategories),
			"most_used":        pointers(s.MostUsed),
		}, nil
	})
	b["CasePatternType"] = getters(map[string]func(*store.CasePattern) any{
		"_id":              func(c *store.CasePattern) any { return c.ID.Hex() },
		"pattern_id":       func(c *store.CasePattern) any { return c.PatternID },
		"title":            func(c *store.CasePattern) any { return c.Title },
		"problem":          func(c *store.CasePattern) any { return optString(c.Problem) },
		"solution":         func(c *store.CasePattern) any { return optString(c.Solution) },
		"category":         func(c *store.CasePattern) any { return optString(c.Category) },
		"reusability":      func(c *store.CasePattern) any { return optString(c.Reusability) },
		"difficulty":       func(c *store.CasePattern) any { return optString(c.Difficulty) },
		"tags":             func(c *store.CasePattern) any { return optStrings(c.Tags) },
		"related_patterns": func(c *store.CasePattern) any { return optStrings(c.RelatedPatterns) },
		"usage_count":      func(c *store.CasePattern) any { return c.UsageCount },
		"last_used":        func(c *store.CasePattern) any { return optTime(c.LastUsed) },
		"metadata":         func(c *store.CasePattern) any { return optMap(c.Metadata) },
	})
}
