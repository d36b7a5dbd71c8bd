package resolvers

import (
	"context"
	"errors"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/store"
)

func (r *Resolvers) bindHunts(b map[string]map[string]graphql.Field) {
	b["Query"]["huntConversations"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		status, err := shortString(p, "status")
		if err != nil {
			return nil, err
		}
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		hs, err := r.store.HuntConversations(ctx, status, limit)
		if err != nil {
			return nil, err
		}
		return pointers(hs), nil
	})
	b["Query"]["huntConversation"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		id, err := shortString(p, "sessionId")
		if err != nil {
			return nil, err
		}
		h, err := r.store.HuntConversation(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &h, nil
	})
	b["Query"]["huntStats"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		s, err := r.store.HuntStats(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"total_hunts":         s.Total,
			"active_hunts":        s.Active,
			"completed_hunts":     s.Completed,
			"successful_captures": s.SuccessfulCaptures,
			"recent_targets":      nonNilStrings(s.RecentTargets),
			"top_keywords":        nonNilStrings(s.TopKeywords),
		}, nil
	})
	b["HuntConversationType"] = getters(map[string]func(*store.HuntConversation) any{
		"_id":                 func(h *store.HuntConversation) any { return h.ID.Hex() },
		"session_id":          func(h *store.HuntConversation) any { return h.SessionID },
		"keywords":            func(h *store.HuntConversation) any { return optStrings(h.Keywords) },
		"hunt_type":           func(h *store.HuntConversation) any { return optString(h.HuntType) },
		"target_actor":        func(h *store.HuntConversation) any { return optString(h.TargetActor) },
		"status":              func(h *store.HuntConversation) any { return optString(h.Status) },
		"outcome":             func(h *store.HuntConversation) any { return optString(h.Outcome) },
		"started_at":          func(h *store.HuntConversation) any { return optTime(h.StartedAt) },
		"completed_at":        func(h *store.HuntConversation) any { return optTime(h.CompletedAt) },
		"evidence_collected":  func(h *store.HuntConversation) any { return h.EvidenceCollected },
		"evidence_package_id": func(h *store.HuntConversation) any { return optString(h.EvidencePackageID) },
		"hunt_summary":        func(h *store.HuntConversation) any { return optMap(h.HuntSummary) },
		"metadata":            func(h *store.HuntConversation) any { return optMap(h.Metadata) },
	})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
