package resolvers

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Compat computes the bodies of the REST compatibility endpoints (DESIGN decision 5) in the
// original's JSON shapes, from the database, never from constants. Struct field order is the
// original's key order where it had one.
type Compat struct {
	store Store
	now   func() time.Time
}

// NewCompat returns the REST compatibility bodies over s; now defaults to time.Now.
func NewCompat(s Store, now func() time.Time) *Compat {
	if now == nil {
		now = time.Now
	}
	return &Compat{store: s, now: now}
}

type envelope struct {
	Success   bool   `json:"success"`
	Data      any    `json:"data"`
	Count     *int   `json:"count,omitempty"`
	Timestamp string `json:"timestamp"`
}

func (c *Compat) ok(data any) envelope {
	return envelope{Success: true, Data: data, Timestamp: isoString(c.now())}
}

func (c *Compat) okCount(data any, n int) envelope {
	e := c.ok(data)
	e.Count = &n
	return e
}

// Stats is /api/stats: the headline numbers of the dashboard.
func (c *Compat) Stats(ctx context.Context) (any, error) {
	o, err := c.store.Overview(ctx)
	if err != nil {
		return nil, err
	}
	return c.ok(map[string]any{
		"total_threats":       o.ThreatActors,
		"active_hunts":        o.ActiveHunts,
		"threats_neutralized": o.CapturedHunts,
		"honeypot_triggers":   o.HoneypotTriggers,
		"system_status":       "FORTRESS MODE ACTIVE",
		"kawaii_level":        "MAXIMUM",
		"neko_mode":           "LEGENDARY",
		"last_updated":        isoString(c.now()),
	}), nil
}

// ThreatCounts is /api/threat-counts.
func (c *Compat) ThreatCounts(ctx context.Context) (any, error) {
	tc, err := c.store.ThreatCounts(ctx)
	if err != nil {
		return nil, err
	}
	return c.ok(threatCountsMap(tc)), nil
}

// restActorLimit bounds /api/threat-actors; the original returned the whole collection.
const restActorLimit = 1000

// ThreatActors is /api/threat-actors?category=: the stored documents of the category's actors,
// every field included, as the original returned them (it ignored the parameter; the dashboard
// sends it and expects the filter). Dates are ISO strings with milliseconds, as Express wrote them.
// NUL bytes are removed from the category as from every string a client sends.
func (c *Compat) ThreatActors(ctx context.Context, category string) (any, error) {
	docs, err := c.store.ThreatActorDocuments(ctx, stripNUL(category), restActorLimit)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		isoDates(d)
	}
	return c.okCount(docs, len(docs)), nil
}

// isoDates replaces, in place, every time.Time in a decoded document by its ISO text.
func isoDates(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = isoDates(e)
		}
	case []any:
		for i, e := range x {
			x[i] = isoDates(e)
		}
	case time.Time:
		return isoString(x)
	}
	return v
}

// AsciiArt is /api/ascii-art.
func (c *Compat) AsciiArt(ctx context.Context) (any, error) {
	arts, err := c.store.AsciiArt(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(arts))
	for i, a := range arts {
		out[i] = map[string]any{"id": a.ArtID, "title": a.Title, "art": a.Art, "category": a.Category}
	}
	return c.okCount(out, len(out)), nil
}

// DinaStats is /api/dina/stats: the GraphQL dinaStats with every perpetrator count.
func (c *Compat) DinaStats(ctx context.Context) (any, error) {
	s, err := c.store.DinaStats(ctx)
	if err != nil {
		return nil, err
	}
	return c.ok(map[string]any{
		"total_documents": s.Total,
		"perpetrators": map[string]any{
			"total": s.Total, "convicted": s.Convicted, "unprosecuted": s.Unprosecuted, "atLarge": s.AtLarge,
			"imprisoned": s.Imprisoned, "deceased": s.Deceased, "neverProsecuted": s.NeverProsecuted,
			"total_known_agents": totalKnownAgents,
		},
		"torture_centers":      tortureCenters,
		"international_crimes": internationalCrimes,
		"victims_estimated":    victimsEstimated,
		"disappeared":          disappeared,
		"executed":             executed,
		"last_updated":         isoString(c.now()),
	}), nil
}

// restPerpetratorLimit bounds /api/dina/perpetrators.
const restPerpetratorLimit = 1000

// DinaPerpetrators is /api/dina/perpetrators, each document shaped by the original's transformAgent.
func (c *Compat) DinaPerpetrators(ctx context.Context) (any, error) {
	ps, err := c.store.Perpetrators(ctx, restPerpetratorLimit)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(ps))
	for i := range ps {
		p := &ps[i]
		legal := map[string]any{"convicted": false, "currentStatus": p.Status, "sentences": nil, "prisonLocation": nil}
		if p.LegalStatus != nil {
			legal = map[string]any{
				"convicted":      p.LegalStatus.Convicted,
				"currentStatus":  firstNonEmpty(p.LegalStatus.CurrentStatus, p.Status),
				"sentences":      p.LegalStatus.Sentences,
				"prisonLocation": optString(p.LegalStatus.PrisonLocation),
			}
		}
		out[i] = map[string]any{
			"id": p.ID.Hex(), "fullName": p.FullName, "alias": optString(p.Alias), "role": optString(p.Role),
			"rank": optString(p.Rank), "organization": organization(p), "status": optString(p.Status),
			"legalStatus": legal, "crimesAccused": nonNilStrings(p.CrimesAccused),
			"notableOperations": nonNilStrings(p.NotableOperations), "verificationStatus": optString(p.VerificationStatus),
			"significance": optString(p.Significance), "tags": nonNilStrings(p.Tags), "timeline": p.Timeline,
			"priority": p.Priority,
		}
	}
	return c.okCount(out, len(out)), nil
}

// maxAllAgentsLimit bounds /api/dina/all-agents pages (the original had no bound).
const maxAllAgentsLimit = 100

// DinaAllAgents is /api/dina/all-agents?page=&limit=&filter=, paginated in the database, with
// the data and pagination.total_agents the original's unit tests expect.
func (c *Compat) DinaAllAgents(ctx context.Context, page, limit int, filter string) (any, error) {
	limit = min(max(limit, 1), maxAllAgentsLimit)
	page = max(page, 1)
	agents, total, err := c.store.AllAgents(ctx, filter, page, limit)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(agents))
	for i, a := range agents {
		convicted := a.LegalStatus != nil && a.LegalStatus.Convicted
		out[i] = map[string]any{"agentNumber": a.AgentNumber, "fullName": a.FullName, "rank": a.Rank,
			"role": a.Role, "status": a.Status, "legalStatus": map[string]any{"convicted": convicted}}
	}
	totalPages := int(math.Ceil(float64(total) / float64(limit)))
	if filter == "" {
		filter = "none"
	}
	return map[string]any{
		"success": true,
		"data":    out,
		"pagination": map[string]any{
			"current_page": page, "page_size": limit, "total_agents": total, "total_pages": totalPages,
			"has_next": page < totalPages, "has_previous": page > 1,
		},
		"filter":    filter,
		"timestamp": isoString(c.now()),
	}, nil
}

// MongoDBStats is /api/mongodb-stats, the TV monitor's 5-second poll (reference §2.1.1).
func (c *Compat) MongoDBStats(ctx context.Context) (any, error) {
	s, err := c.store.DatabaseStats(ctx)
	if err != nil {
		return nil, err
	}
	totalSize := s.TotalSize
	if totalSize == 0 {
		totalSize = s.DataSize + s.IndexSize
	}
	server := map[string]any{"host": "Atlas Cloud", "version": "Unknown", "uptime": 0, "uptimeFormatted": "N/A", "process": "mongod", "pid": nil}
	if s.Server != nil {
		server = map[string]any{"host": s.Server.Host, "version": s.Server.Version, "uptime": s.Server.Uptime,
			"uptimeFormatted": formatUptime(s.Server.Uptime), "process": s.Server.Process, "pid": s.Server.PID}
	}
	conns := map[string]any{"current": 1, "available": 999, "totalCreated": 1, "active": 1, "rejected": 0, "utilization": 0}
	if ci := s.Connections; ci != nil {
		util := 0
		if ci.Current+ci.Available > 0 {
			util = int(math.Round(float64(ci.Current) / float64(ci.Current+ci.Available) * 100))
		}
		conns = map[string]any{"current": ci.Current, "available": ci.Available, "totalCreated": ci.TotalCreated,
			"active": ci.Active, "rejected": ci.Rejected, "utilization": util}
	}
	top := make([]map[string]any, len(s.TopCollections))
	for i, tc := range s.TopCollections {
		top[i] = map[string]any{"name": tc.Name, "count": tc.Count, "type": tc.Type}
	}
	return map[string]any{
		"success": true,
		"data": map[string]any{
			"database": map[string]any{"name": s.Name, "collections": s.Collections, "views": s.Views,
				"dataSize": s.DataSize, "storageSize": s.StorageSize, "indexes": s.Indexes, "indexSize": s.IndexSize,
				"totalSize": totalSize, "avgObjSize": s.AvgObjSize},
			"server":         server,
			"connections":    conns,
			"topCollections": top,
			"huntingStatus": map[string]any{"status": "OPERATIONAL", "mode": "ACTIVE HUNTING", "kawaii_level": "MAXIMUM",
				"threat_tracking": "ENABLED", "ready": true},
			"performance": map[string]any{"dataSizeHuman": humanBytes(s.DataSize), "storageSizeHuman": humanBytes(s.StorageSize),
				"indexSizeHuman": humanBytes(s.IndexSize), "totalSizeHuman": humanBytes(totalSize), "avgObjSizeHuman": humanBytes(s.AvgObjSize)},
		},
		"timestamp": isoString(c.now()),
		"message":   "MongoDB stats retrieved, nyaa~!",
	}, nil
}

// humanBytes formats a size as the original did: base 1024, two decimals, "0 Bytes" for zero.
func humanBytes(n int64) string {
	if n <= 0 {
		return "0 Bytes"
	}
	units := []string{"Bytes", "KB", "MB", "GB", "TB"}
	i := min(int(math.Floor(math.Log(float64(n))/math.Log(1024))), len(units)-1)
	v := float64(n) / math.Pow(1024, float64(i))
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + " " + units[i]
}

// formatUptime renders seconds as "Xd Yh Zm", "Yh Zm" or "Zm".
func formatUptime(seconds float64) string {
	s := int64(seconds)
	d, h, m := s/86400, (s%86400)/3600, (s%3600)/60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm", d, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
