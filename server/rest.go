package server

import (
	"cmp"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/cache"
)

// CompatAPI computes the bodies of the REST compatibility endpoints from the database. Each
// method returns the whole JSON body in the original's shape; the server only routes and writes.
type CompatAPI interface {
	Stats(ctx context.Context) (any, error)
	ThreatCounts(ctx context.Context) (any, error)
	ThreatActors(ctx context.Context, category string) (any, error)
	MongoDBStats(ctx context.Context) (any, error)
	AsciiArt(ctx context.Context) (any, error)
	DinaStats(ctx context.Context) (any, error)
	DinaPerpetrators(ctx context.Context) (any, error)
	DinaAllAgents(ctx context.Context, page, limit int, filter string) (any, error)
}

// maxCategoryLen bounds the ?category= value; real categories are a dozen characters.
const maxCategoryLen = 64

// restRoute describes a REST compatibility endpoint: how long its body is fresh, which cached
// types it is built from (invalidation tags), and how to compute it.
type restRoute struct {
	path   string
	maxAge time.Duration
	tags   []string
	params []string // the query parameters body reads; the others neither reach it nor key the cache
	body   func(ctx context.Context, q url.Values) (any, error)
	canon  func(q url.Values) // rewrites params in canonical form before they key the cache, or nil
}

// warmParams lists the parameter sets of a route the warmer keeps cached: every route's
// parameterless answer, and each category of /threat-actors, which the dashboard's ThreatList
// asks for on every switch.
func warmParams(path string) []url.Values {
	sets := []url.Values{{}}
	if path == "/threat-actors" {
		for _, cat := range []string{"all", "predators", "pedophiles", "dina_network", "ransomware", "state_sponsored", "crypto_crime"} {
			sets = append(sets, url.Values{"category": {cat}})
		}
	}
	return sets
}

// restRoutes lists the endpoints the TV monitors, the dashboard and the stress tests call. All are
// public, computed from the database and served through the response cache; the TV monitor's
// 5-second poll of /api/mongodb-stats is answered from memory and refreshed in the background.
func (s *Server) restRoutes(api fiber.Router) {
	r := s.deps.REST
	routes := []restRoute{
		{"/stats", 30 * time.Second, []string{"ThreatActorType", "HuntConversationType", "HoneypotTriggerType"}, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.Stats(ctx) }, nil},
		{"/threat-counts", 30 * time.Second, []string{"ThreatActorType"}, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.ThreatCounts(ctx) }, nil},
		{"/threat-actors", 30 * time.Second, []string{"ThreatActorType"}, []string{"category"}, func(ctx context.Context, q url.Values) (any, error) {
			cat := cmp.Or(q.Get("category"), "all")
			if len(cat) > maxCategoryLen {
				return nil, badRequest("category is too long")
			}
			return r.ThreatActors(ctx, cat)
		}, nil},
		// The TV monitor polls every 5 s; a 10 s max-age with refresh-ahead keeps it on fresh hits
		// while the database sees the (costly) statistics at most every 5 s.
		{"/mongodb-stats", 10 * time.Second, nil, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.MongoDBStats(ctx) }, nil},
		{"/ascii-art", 300 * time.Second, nil, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.AsciiArt(ctx) }, nil},
		{"/dina/stats", 60 * time.Second, []string{"DinaPerpType"}, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.DinaStats(ctx) }, nil},
		{"/dina/perpetrators", 60 * time.Second, []string{"DinaPerpType"}, nil,
			func(ctx context.Context, _ url.Values) (any, error) { return r.DinaPerpetrators(ctx) }, nil},
		{"/dina/all-agents", 60 * time.Second, []string{"DinaPerpType"}, []string{"page", "limit", "filter"}, func(ctx context.Context, q url.Values) (any, error) {
			page, _ := strconv.Atoi(q.Get("page")) // canonical (canonPaging): a number in range
			limit, _ := strconv.Atoi(q.Get("limit"))
			filter := q.Get("filter")
			if len(filter) > maxCategoryLen {
				return nil, badRequest("filter is too long")
			}
			return r.DinaAllAgents(ctx, page, limit, filter)
		}, canonPaging},
	}
	for _, rt := range routes {
		api.Get(rt.path, s.rest(rt)) // and HEAD
		api.All(rt.path, s.methodNotAllowed("GET, HEAD"))
	}
	s.restTable = routes
}

// canonical rewrites q, the parameters of a request to rt, in the form that keys the cache.
func (rt restRoute) canonical(q url.Values) {
	if rt.canon != nil {
		rt.canon(q)
	}
}

// restKey is the route's path with its query parameters sorted (url.Values.Encode sorts), so
// that ?a=1&b=2 and ?b=2&a=1 share an entry.
func restKey(path string, q url.Values) string {
	if len(q) == 0 {
		return "rest:" + path
	}
	return "rest:" + path + "?" + q.Encode()
}

// restFill computes a route's body for the parameters q. q must be the caller's own copy: a
// background refresh may run fill after the request has ended and Fiber has reused its buffers.
func (s *Server) restFill(rt restRoute, q url.Values) func(ctx context.Context) (cache.Entry, error) {
	return func(ctx context.Context) (cache.Entry, error) {
		v, err := rt.body(ctx, q)
		if err != nil {
			return cache.Entry{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return cache.Entry{}, err
		}
		return cache.Entry{Body: b, Tags: rt.tags}, nil
	}
}

// rest serves one REST route through the response cache.
func (s *Server) rest(rt restRoute) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, gen, ok := s.memo.get(c, fiber.MIMEApplicationJSON, state(c).start)
		if ok {
			return s.writeResult(c, fiber.MIMEApplicationJSON, e.answer)
		}
		ctx := s.requestContext(c)
		// Only the parameters the route reads, each once, under the route's own path: a cache
		// buster (?cb=1), a trailing slash or another letter case is the same answer, and must not
		// make the database compute it again nor fill the caches with copies.
		q := url.Values{}
		for _, name := range rt.params {
			if v := c.Context().QueryArgs().Peek(name); len(v) > 0 {
				q.Set(name, string(v))
			}
		}
		rt.canonical(q)
		fill := s.restFill(rt, q)
		var (
			entry  cache.Entry
			status = cache.Bypass
			err    error
		)
		if s.deps.Cache == nil {
			entry, err = fill(ctx)
		} else {
			// Parameters are validated inside fill; a bad one fails the fill and is not cached.
			lctx, span := s.startCacheSpan(ctx, cacheKindREST)
			entry, status, err = s.deps.Cache.Do(lctx, restKey("/api"+rt.path, q), cache.Policy{
				MaxAge: rt.maxAge, StaleWhileRevalidate: s.cfg.StaleWhileRevalidate, StaleIfError: s.cfg.StaleIfError, Tags: rt.tags,
			}, fill)
			endCacheSpan(span, status, err)
		}
		if err != nil {
			return err
		}
		return s.writeRemembered(c, fiber.MIMEApplicationJSON, result{
			status: fiber.StatusOK, body: entry.Body, xCache: status.String(), etag: entry.ETag,
			cacheControl: cacheControl(false, rt.maxAge), cost: 1, fresh: rt.maxAge - time.Since(entry.StoredAt),
			storedAt: entry.StoredAt,
		}, gen)
	}
}

// Paging of /api/dina/all-agents: the original's defaults, and bounds of ours (the store caps a
// page at 100 agents; no collection has 10 million).
const (
	defaultPage  = 1
	defaultLimit = 50
	maxPage      = 100_000
	maxLimit     = 100
)

// canonPaging rewrites the page and limit parameters of q as the original read them,
// parseInt(value, 10) || default: the leading integer of the text, and the default when there is
// none or it is 0 (so ?page=0, ?page=abc and ?limit=5.5 answer as the original did, not with an
// error). Negative values, which the original passed on to an impossible skip, also take the
// default, and large ones are capped. The canonical values key the cache: ?page=abc and ?page=1
// are one entry.
func canonPaging(q url.Values) {
	for name, p := range map[string]struct{ def, max int }{"page": {defaultPage, maxPage}, "limit": {defaultLimit, maxLimit}} {
		n := parseIntPrefix(q.Get(name))
		if n < 1 {
			n = p.def
		}
		q.Set(name, strconv.Itoa(min(n, p.max)))
	}
}

// parseIntPrefix is JavaScript's parseInt(s, 10) for the values paging needs: optional leading
// spaces and sign, then the longest run of digits; 0 when there are none, and saturated rather
// than overflowing.
func parseIntPrefix(s string) int {
	s = strings.TrimLeft(s, " \t\n\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = min(n*10+int(s[i]-'0'), 1<<31)
	}
	if neg {
		return -n
	}
	return n
}
