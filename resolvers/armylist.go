package resolvers

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
)

// Bounds of the DINA Army List queries, as in the original: pages of at most 100, searches of at
// most 50 results.
const (
	maxPageLimit   = 100
	maxSearchLimit = 50
	maxAgentIDLen  = 100
	maxNotesLen    = 10000
)

// enumMap maps GraphQL enum names (UPPER_SNAKE) to stored values and back (DESIGN decision 2).
type enumMap struct {
	toStored map[string]string
	toName   map[string]string
}

func newEnumMap(stored ...string) enumMap {
	m := enumMap{toStored: map[string]string{}, toName: map[string]string{}}
	for _, s := range stored {
		name := strings.ToUpper(s)
		m.toStored[name] = s
		m.toName[s] = name
	}
	return m
}

// name returns the GraphQL name of a stored value; unknown stored values are upper-cased and left
// to the engine, which reports a field error rather than inventing a value.
func (m enumMap) name(stored string) any {
	if stored == "" {
		return nil
	}
	if n, ok := m.toName[stored]; ok {
		return n
	}
	return strings.ToUpper(stored)
}

// categoryName is DINAAgent.category, which the schema makes non-null: a stored category that
// is missing, mistyped (read as empty) or none of the enum's reads as OTHER, not as an error
// that would null the agent, and with it a whole page of getDINAAgents (DESIGN decision 3: a
// legacy value never crashes a read).
func categoryName(stored string) any {
	if n, ok := categoryEnum.toName[stored]; ok {
		return n
	}
	if n := strings.ToUpper(stored); categoryEnum.toStored[n] != "" { // another letter case
		return n
	}
	return categoryEnum.toName[store.DINACategoryOther]
}

var (
	categoryEnum = newEnumMap(store.DINACategoryBrigade, store.DINACategoryDepartment, store.DINACategoryStateStaff,
		store.DINACategoryEnlisted, store.DINACategoryOther, store.DINACategoryRegionalCommand)
	legalStatusEnum = newEnumMap(store.LegalStatusAtLarge, store.LegalStatusConvicted, store.LegalStatusDeceased,
		store.LegalStatusIndicted, store.LegalStatusInvestigated, store.LegalStatusUnknown, store.LegalStatusUnprosecuted)
	verificationEnum = newEnumMap(store.VerificationPending, store.VerificationVerified, store.VerificationDisputed)
	confidenceEnum   = newEnumMap(store.ConfidenceAlleged, store.ConfidenceConfirmed, store.ConfidenceProbable)
)

func (r *Resolvers) bindArmyList(b map[string]map[string]graphql.Field) {
	q, m := b["Query"], b["Mutation"]
	q["getDINAAgents"] = blocking(r.getDINAAgents)
	q["getDINAAgent"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		id := argString(p, "agent_id")
		if len(id) > maxAgentIDLen {
			return nil, nil
		}
		return agentOrNull(r.store.DINAAgent(ctx, id))
	})
	q["searchDINAAgents"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		query, err := shortString(p, "query")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(query) == "" {
			return nil, inputErrorf("query must not be empty")
		}
		limit, err := limitArg(p, "limit", maxSearchLimit)
		if err != nil {
			return nil, err
		}
		as, err := r.store.SearchDINAAgents(ctx, query, limit)
		if err != nil {
			return nil, err
		}
		return pointers(as), nil
	})
	q["getDINAStatistics"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		s, err := r.store.DINAStatistics(ctx)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"total_agents":    s.Total,
			"verified_count":  s.Verified,
			"pending_count":   s.Pending,
			"by_category":     keyCounts(s.ByCategory, "category", categoryEnum.name),
			"by_legal_status": keyCounts(s.ByLegalStatus, "status", legalStatusEnum.name),
			"by_region":       keyCounts(s.ByRegion, "region", func(s string) any { return s }),
			"by_brigade":      keyCounts(s.ByBrigade, "brigade", func(s string) any { return s }),
		}, nil
	})
	m["createDINAAgent"] = blocking(r.createDINAAgent)
	m["updateDINAAgent"] = blocking(r.updateDINAAgent)
	m["deleteDINAAgent"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		id := argString(p, "agent_id")
		if len(id) > maxAgentIDLen {
			return false, nil
		}
		return r.store.DeleteDINAAgent(ctx, id)
	})

	b["DINAAgent"] = getters(map[string]func(*store.DINAAgent) any{
		"agent_id":             func(a *store.DINAAgent) any { return a.AgentID },
		"full_name":            func(a *store.DINAAgent) any { return a.FullName },
		"rut":                  func(a *store.DINAAgent) any { return optString(a.RUT) },
		"rank":                 func(a *store.DINAAgent) any { return a.Rank },
		"branch":               func(a *store.DINAAgent) any { return optString(a.Branch) },
		"service_number":       func(a *store.DINAAgent) any { return optString(a.ServiceNumber) },
		"category":             func(a *store.DINAAgent) any { return categoryName(a.Category) },
		"region":               func(a *store.DINAAgent) any { return optString(a.Region) },
		"brigade":              func(a *store.DINAAgent) any { return optString(a.Brigade) },
		"department":           func(a *store.DINAAgent) any { return optString(a.Department) },
		"position":             func(a *store.DINAAgent) any { return optString(a.Position) },
		"position_number":      func(a *store.DINAAgent) any { return a.PositionNumber },
		"service_period_start": func(a *store.DINAAgent) any { return optISO(a.ServicePeriodStart) },
		"service_period_end":   func(a *store.DINAAgent) any { return optISO(a.ServicePeriodEnd) },
		"service_period_text":  func(a *store.DINAAgent) any { return optString(a.ServicePeriodText) },
		"legal_status":         func(a *store.DINAAgent) any { return legalStatusEnum.name(a.LegalStatus) },
		"convictions":          func(a *store.DINAAgent) any { return convictions(a.Convictions) },
		"investigations":       func(a *store.DINAAgent) any { return investigations(a.Investigations) },
		"post_dina_positions":  func(a *store.DINAAgent) any { return postPositions(a.PostDINAPositions) },
		"known_operations":     func(a *store.DINAAgent) any { return optStrings(a.KnownOperations) },
		"alleged_crimes":       func(a *store.DINAAgent) any { return optStrings(a.AllegedCrimes) },
		"victims_linked":       func(a *store.DINAAgent) any { return optStrings(a.VictimsLinked) },
		"aliases":              func(a *store.DINAAgent) any { return optStrings(a.Aliases) },
		"data_sources":         func(a *store.DINAAgent) any { return dataSources(a.DataSources) },
		"photo_url":            func(a *store.DINAAgent) any { return optString(a.PhotoURL) },
		"biographical_notes":   func(a *store.DINAAgent) any { return optString(a.BiographicalNotes) },
		"created_at":           func(a *store.DINAAgent) any { return isoString(a.CreatedAt) },
		"updated_at":           func(a *store.DINAAgent) any { return isoString(a.UpdatedAt) },
		"created_by":           func(a *store.DINAAgent) any { return firstNonEmpty(a.CreatedBy, "data-migration") },
		"verification_status": func(a *store.DINAAgent) any {
			return verificationEnum.name(firstNonEmpty(a.VerificationStatus, store.VerificationPending))
		},
	})
}

func agentOrNull(a store.DINAAgent, err error) (any, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func (r *Resolvers) getDINAAgents(ctx context.Context, p graphql.ResolveParams) (any, error) {
	page := argInt(p, "page")
	if page < 1 {
		return nil, inputErrorf("page must be at least 1")
	}
	limit, err := limitArg(p, "limit", maxPageLimit)
	if err != nil {
		return nil, err
	}
	filter, err := agentFilter(argObject(p, "filter"))
	if err != nil {
		return nil, err
	}
	agents, total, err := r.store.DINAAgents(ctx, filter, agentSort(argString(p, "sortBy")), page, limit)
	if err != nil {
		return nil, err
	}
	totalPages := int(math.Ceil(float64(total) / float64(limit)))
	return map[string]any{
		"agents": pointers(agents),
		"pagination": map[string]any{
			"total":           total,
			"page":            page,
			"limit":           limit,
			"totalPages":      totalPages,
			"hasNextPage":     page < totalPages,
			"hasPreviousPage": page > 1,
		},
	}, nil
}

// agentFilter converts the DINAAgentFilter input (enum names) into a store filter (stored values).
func agentFilter(in map[string]any) (store.DINAAgentFilter, error) {
	var f store.DINAAgentFilter
	str := func(k string) string { return inputString(in, k) }
	for k, dst := range map[string]*string{"brigade": &f.Brigade, "rank": &f.Rank, "region": &f.Region, "search": &f.Search} {
		*dst = str(k)
		if len(*dst) > maxArgLen {
			return f, inputErrorf("filter.%s must be at most %d characters", k, maxArgLen)
		}
	}
	f.Category = categoryEnum.toStored[str("category")]
	f.LegalStatus = legalStatusEnum.toStored[str("legal_status")]
	f.VerificationStatus = verificationEnum.toStored[str("verification_status")]
	return f, nil
}

// agentSort maps DINASortBy (e.g. FULL_NAME_DESC) to a store sort; absent means full_name ascending.
func agentSort(name string) store.DINASort {
	if name == "" {
		return store.DINASort{Field: store.DINASortFullName}
	}
	lower := strings.ToLower(name)
	if field, ok := strings.CutSuffix(lower, "_desc"); ok {
		return store.DINASort{Field: field, Desc: true}
	}
	return store.DINASort{Field: strings.TrimSuffix(lower, "_asc")}
}

func (r *Resolvers) createDINAAgent(ctx context.Context, p graphql.ResolveParams) (any, error) {
	in := argObject(p, "input")
	str := func(k string) string { return inputString(in, k) }
	a := store.DINAAgent{
		FullName:           strings.TrimSpace(str("full_name")),
		Rank:               strings.TrimSpace(str("rank")),
		Category:           categoryEnum.toStored[str("category")],
		Branch:             str("branch"),
		Brigade:            str("brigade"),
		Department:         str("department"),
		Position:           str("position"),
		Region:             str("region"),
		RUT:                str("rut"),
		ServicePeriodText:  str("service_period_text"),
		BiographicalNotes:  str("biographical_notes"),
		LegalStatus:        firstNonEmpty(legalStatusEnum.toStored[str("legal_status")], store.LegalStatusUnknown),
		VerificationStatus: store.VerificationPending,
		DataSources:        []store.DataSource{},
		CreatedBy:          firstNonEmpty(security.FromContext(ctx).Username, "admin"),
		CreatedAt:          r.now().UTC(),
	}
	a.UpdatedAt = a.CreatedAt
	if a.FullName == "" || a.Rank == "" {
		return nil, inputErrorf("full_name and rank must not be empty")
	}
	if err := checkLengths(in); err != nil {
		return nil, err
	}
	// The id holds the creation millisecond: agents of one name created within the same one
	// (concurrent admins, a retried request) take the next free millisecond instead.
	var (
		created store.DINAAgent
		err     error
	)
	for ms := a.CreatedAt.UnixMilli(); ms < a.CreatedAt.UnixMilli()+maxAgentIDAttempts; ms++ {
		a.AgentID = agentID(a.FullName, ms)
		if created, err = r.store.CreateDINAAgent(ctx, a); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if errors.Is(err, store.ErrConflict) {
		return nil, inputErrorf("an agent with id %q already exists; retry", a.AgentID)
	}
	if err != nil {
		return nil, err
	}
	return &created, nil
}

// maxAgentIDAttempts bounds the ids createDINAAgent tries for one agent.
const maxAgentIDAttempts = 20

func (r *Resolvers) updateDINAAgent(ctx context.Context, p graphql.ResolveParams) (any, error) {
	id := argString(p, "agent_id")
	in := argObject(p, "input")
	if len(id) > maxAgentIDLen {
		return nil, nil
	}
	if err := checkLengths(in); err != nil {
		return nil, err
	}
	var patch store.DINAAgentPatch
	set := func(k string, dst **string, mapped func(string) string) error {
		v, present := in[k]
		if !present || v == nil {
			return nil
		}
		s := inputString(in, k)
		if mapped != nil {
			s = mapped(s)
		}
		if (k == "full_name" || k == "rank") && strings.TrimSpace(s) == "" {
			return inputErrorf("%s must not be empty", k)
		}
		*dst = &s
		return nil
	}
	for _, f := range []struct {
		key    string
		dst    **string
		mapped func(string) string
	}{
		{"biographical_notes", &patch.BiographicalNotes, nil},
		{"branch", &patch.Branch, nil},
		{"brigade", &patch.Brigade, nil},
		{"full_name", &patch.FullName, nil},
		{"rank", &patch.Rank, nil},
		{"region", &patch.Region, nil},
		{"rut", &patch.RUT, nil},
		{"category", &patch.Category, func(s string) string { return categoryEnum.toStored[s] }},
		{"legal_status", &patch.LegalStatus, func(s string) string { return legalStatusEnum.toStored[s] }},
		{"verification_status", &patch.VerificationStatus, func(s string) string { return verificationEnum.toStored[s] }},
	} {
		if err := set(f.key, f.dst, f.mapped); err != nil {
			return nil, err
		}
	}
	return agentOrNull(r.store.UpdateDINAAgent(ctx, id, patch))
}

// checkLengths bounds every string of a create/update input.
func checkLengths(in map[string]any) error {
	for k, v := range in {
		s, ok := v.(string)
		if !ok {
			continue
		}
		max := maxArgLen
		if k == "biographical_notes" {
			max = maxNotesLen
		}
		if len(s) > max {
			return inputErrorf("input.%s must be at most %d characters", k, max)
		}
	}
	return nil
}

// agentID builds dina-<slug>-<base36 ms> (DESIGN decision 1), at most 100 characters.
func agentID(fullName string, ms int64) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(fullName) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.Trim(b.String(), "-")
	suffix := "-" + strconv.FormatInt(ms, 36)
	if max := maxAgentIDLen - len("dina-") - len(suffix); len(slug) > max {
		slug = strings.TrimRight(slug[:max], "-")
	}
	if slug == "" {
		slug = "agent"
	}
	return "dina-" + slug + suffix
}

func keyCounts(kcs []store.KeyCount, key string, name func(string) any) []any {
	out := make([]any, 0, len(kcs))
	for _, kc := range kcs {
		out = append(out, map[string]any{key: name(kc.Key), "count": kc.Count})
	}
	return out
}

func convictions(cs []store.Conviction) any {
	if cs == nil {
		return nil
	}
	out := make([]any, len(cs))
	for i, c := range cs {
		date := ""
		if c.Date != nil {
			date = isoString(*c.Date)
		}
		out[i] = map[string]any{"case_name": c.CaseName, "verdict": c.Verdict, "sentence": optString(c.Sentence), "date": date}
	}
	return out
}

func investigations(is []store.Investigation) any {
	if is == nil {
		return nil
	}
	out := make([]any, len(is))
	for i, v := range is {
		out[i] = map[string]any{"case_name": v.CaseName, "status": v.Status, "judge": optString(v.Judge)}
	}
	return out
}

func postPositions(ps []store.PostDINAPosition) any {
	if ps == nil {
		return nil
	}
	out := make([]any, len(ps))
	for i, v := range ps {
		out[i] = map[string]any{"institution": v.Institution, "rank": v.Rank, "position": v.Position,
			"period_start": optISO(v.PeriodStart), "period_end": optISO(v.PeriodEnd)}
	}
	return out
}

func dataSources(ds []store.DataSource) []any {
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = map[string]any{"source_name": d.SourceName, "confidence": confidenceEnum.name(d.Confidence),
			"extracted_date": isoString(d.ExtractedDate)}
	}
	return out
}
