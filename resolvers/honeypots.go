package resolvers

import (
	"context"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/store"
)

func (r *Resolvers) bindHoneypots(b map[string]map[string]graphql.Field) {
	b["Query"]["honeypotTriggers"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		trap, err := shortString(p, "trapName")
		if err != nil {
			return nil, err
		}
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		return triggers(r.store.HoneypotTriggers(ctx, trap, limit))
	})
	b["Query"]["honeypotTriggersByIp"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		ip, err := shortString(p, "ipAddress")
		if err != nil {
			return nil, err
		}
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		return triggers(r.store.HoneypotTriggersByIP(ctx, ip, limit))
	})
	b["Query"]["recentHighThreatTriggers"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		limit, err := limitArg(p, "limit", maxListLimit)
		if err != nil {
			return nil, err
		}
		return triggers(r.store.RecentHighThreatTriggers(ctx, limit))
	})
	b["Query"]["honeypotSummary"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		s, err := r.store.HoneypotSummary(ctx)
		if err != nil {
			return nil, err
		}
		stats := make([]any, len(s.TrapStats))
		for i, t := range s.TrapStats {
			stats[i] = trapStatsMap(t)
		}
		var mostActive any
		if len(stats) > 0 {
			mostActive = stats[0]
		}
		return map[string]any{
			"total_triggers":   float64(s.TotalTriggers),
			"unique_ips":       float64(s.UniqueIPs),
			"unique_traps":     float64(s.UniqueTraps),
			"trap_stats":       stats,
			"most_active_trap": mostActive,
		}, nil
	})
	b["HoneypotTriggerType"] = getters(map[string]func(*store.HoneypotTrigger) any{
		"_id":             func(t *store.HoneypotTrigger) any { return t.ID.Hex() },
		"trap_name":       func(t *store.HoneypotTrigger) any { return t.TrapName },
		"ip_address":      func(t *store.HoneypotTrigger) any { return t.IPAddress },
		"triggered_at":    func(t *store.HoneypotTrigger) any { return t.TriggeredAt },
		"user_agent":      func(t *store.HoneypotTrigger) any { return optString(t.UserAgent) },
		"request_path":    func(t *store.HoneypotTrigger) any { return optString(t.RequestPath) },
		"request_method":  func(t *store.HoneypotTrigger) any { return optString(t.RequestMethod) },
		"request_headers": func(t *store.HoneypotTrigger) any { return optMap(t.RequestHeaders) },
		"request_body":    func(t *store.HoneypotTrigger) any { return t.RequestBody },
		"threat_level":    func(t *store.HoneypotTrigger) any { return optString(t.ThreatLevel) },
		"action_taken":    func(t *store.HoneypotTrigger) any { return optString(t.ActionTaken) },
		"metadata":        func(t *store.HoneypotTrigger) any { return optMap(t.Metadata) },
	})
}

func triggers(ts []store.HoneypotTrigger, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return pointers(ts), nil
}

func trapStatsMap(t store.TrapStats) map[string]any {
	ips := t.UniqueIPs
	if ips == nil {
		ips = []string{}
	}
	return map[string]any{
		"trap_name":      t.TrapName,
		"trigger_count":  float64(t.TriggerCount),
		"last_triggered": optTime(t.LastTriggered),
		"unique_ips":     ips,
	}
}
