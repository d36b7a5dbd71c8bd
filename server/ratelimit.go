package server

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/neko-defense/neko/internal/clientkey"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/security"
)

// Limiter decides locally whether a key may spend cost tokens (resilience.RateLimiter, which
// reconciles with every other instance through Redis in the background).
type Limiter interface {
	Allow(key string, limit resilience.Limit, cost int) resilience.Decision
}

// RateLimits are the tiers of the distributed rate limit: anonymous callers are limited per
// client address, authenticated ones per user or API key, admins more generously.
type RateLimits struct {
	Limiter                         Limiter
	Anonymous, Authenticated, Admin resilience.Limit
}

// exemptFromLimits are operational routes that orchestrators and scrapers poll.
func exemptFromLimits(path string) bool {
	return path == "/health" || path == "/ready" || path == "/metrics"
}

// rateLimit charges every request one token on arrival, except GraphQL requests, which the
// GraphQL handler charges itself: its arrival token before any work (chargeArrival) and then the
// rest of the operation's computed cost after prepare (chargeCost), or, for a repeat answered
// from the memo, whose cost is known up front, the whole cost at once (chargeWhole). Every
// response carries the RateLimit-* headers of the request's last decision; a refused request
// gets 429 with Retry-After and RATE_LIMITED.
func (s *Server) rateLimit(c *fiber.Ctx) error {
	if s.deps.RateLimit == nil || exemptFromLimits(c.Path()) {
		return c.Next()
	}
	var err error
	if !chargedByHandler(c) {
		err = s.charge(c, 1)
	}
	if err == nil {
		err = c.Next()
	}
	if r := state(c); r.charged {
		setRateLimitHeaders(&c.Response().Header, r.decision)
	}
	return err
}

// chargedByHandler reports whether the request's handler charges the rate limit itself: the
// GraphQL endpoint (its other methods only get a 405, charged here).
func chargedByHandler(c *fiber.Ctx) bool {
	m := c.Method()
	return c.Path() == "/graphql" && (m == fiber.MethodPost || m == fiber.MethodGet || m == fiber.MethodHead)
}

// chargeArrival charges a GraphQL request (or each further operation of a batch) its arrival
// token before any work on it, and answers refused (429) when that fails. Otherwise it returns
// err, the answer the request already had.
func (s *Server) chargeArrival(c *fiber.Ctx, err error) error {
	if s.deps.RateLimit == nil {
		return err
	}
	if cerr := s.charge(c, 1); cerr != nil {
		return cerr
	}
	return err
}

// chargeCost charges a GraphQL operation's computed cost to the caller's rate limit. The
// request itself was charged one token on arrival; an operation costs at least that much, so the
// rest is charged here, after prepare has priced it.
func (s *Server) chargeCost(c *fiber.Ctx, cost int) error {
	if s.deps.RateLimit == nil || cost <= 1 {
		return nil
	}
	return s.charge(c, cost-1)
}

// registrationBytesPerToken is how many bytes of a persisted query's text one rate-limit token
// registers.
const registrationBytesPerToken = 1024

// chargeRegistration charges an automatic persisted query registration of n bytes one token per
// KiB started (at least one), on top of the operation's cost: what it stores outlives the request
// (in this process and in Redis, cache.PersistedConfig), so a client pays for it by size. The
// anonymous limit (50 tokens a second) then lets one address register about 50 KiB a second.
func (s *Server) chargeRegistration(c *fiber.Ctx, n int) error {
	if s.deps.RateLimit == nil {
		return nil
	}
	return s.charge(c, max(1, (n+registrationBytesPerToken-1)/registrationBytesPerToken))
}

// chargeWhole charges a remembered operation its whole cost at once (at least the one token of
// its arrival).
func (s *Server) chargeWhole(c *fiber.Ctx, cost int) error {
	if s.deps.RateLimit == nil {
		return nil
	}
	return s.charge(c, max(cost, 1))
}

// charge spends cost tokens of the caller's limit: per user or API key when authenticated (admins
// in their own tier), per client address otherwise.
func (s *Server) charge(c *fiber.Ctx, cost int) error {
	rl := s.deps.RateLimit
	r := state(c)
	if r.limitKey == "" {
		id := r.identity
		r.limitKey, r.limit = s.client(c).limitKey, rl.Anonymous
		switch {
		case id.Role >= security.RoleAdmin:
			r.limitKey, r.limit = s.userLimitKey(id.Username), rl.Admin
		case id.Authenticated():
			r.limitKey, r.limit = s.userLimitKey(id.Username), rl.Authenticated
		}
	}
	d := rl.Limiter.Allow(r.limitKey, r.limit, cost)
	r.decision, r.charged = d, true
	if !d.Allowed {
		retry := max(1, ceilSeconds(d.RetryAfter))
		var buf [20]byte
		c.Response().Header.SetCanonical([]byte(fiber.HeaderRetryAfter), strconv.AppendInt(buf[:0], int64(retry), 10))
		return &httpError{status: fiber.StatusTooManyRequests, code: codeRateLimited,
			message:    "rate limit exceeded; retry after the time in Retry-After",
			extensions: map[string]any{"retryAfterSeconds": retry, "cost": cost}}
	}
	return nil
}

// userLimitKey is the rate-limit key of a user or API key, made once per name (Server.userKeys).
func (s *Server) userLimitKey(name string) string {
	if k, ok := s.userKeys.Get(name); ok {
		return k
	}
	k := "user:" + name
	s.userKeys.Put(name, k)
	return k
}

// The RateLimit-* header names.
var (
	headerRateLimitLimit     = []byte("RateLimit-Limit")
	headerRateLimitRemaining = []byte("RateLimit-Remaining")
	headerRateLimitReset     = []byte("RateLimit-Reset")
)

// setRateLimitHeaders writes the RateLimit-* headers of decision d without allocating. They are
// written once per request, here (addHeader).
func setRateLimitHeaders(h *fasthttp.ResponseHeader, d resilience.Decision) {
	var buf [20]byte
	h.AddBytesKV(headerRateLimitLimit, strconv.AppendInt(buf[:0], int64(d.Limit), 10))
	h.AddBytesKV(headerRateLimitRemaining, strconv.AppendInt(buf[:0], int64(d.Remaining), 10))
	h.AddBytesKV(headerRateLimitReset, strconv.AppendInt(buf[:0], int64(ceilSeconds(d.ResetAfter)), 10))
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

// clientIP is the caller's exact address: the socket peer, or, when the peer is a trusted proxy
// (Fly's edge), the address it reports in Fly-Client-IP or the first X-Forwarded-For entry.
// Headers from untrusted peers are ignored: anyone can send them. Limits and blocks use the
// client's key instead (s.client(c).key).
func (s *Server) clientIP(c *fiber.Ctx) string { return s.client(c).text }

// clientAddr is a client address's text, its client key and its key in the rate limit, made once
// per address (Server.addrs): the same clients come back on every request, and formatting
// allocates.
//
// text is the exact address: who it was, for logs, audit records, incidents and honeypot
// triggers. key (clientkey.Of: the address for IPv4, the /64 for IPv6) is what every per-client
// defense counts: the anonymous rate limit (limitKey is "ip:" + key), its escalation, the
// threat scorer's history and the block list. A client that rotates addresses inside its /64
// stays one client to all of them.
type clientAddr struct {
	text, key, limitKey string
}

// client returns the caller's address, resolved once per request.
func (s *Server) client(c *fiber.Ctx) *clientAddr {
	r := state(c)
	if r.addr == nil {
		r.addr = s.resolveClient(c)
	}
	return r.addr
}

func (s *Server) resolveClient(c *fiber.Ctx) *clientAddr {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		text := c.Context().RemoteIP().String()
		return &clientAddr{text: text, key: text, limitKey: "ip:" + text}
	}
	peer = peer.Unmap()
	if s.trusted(peer) {
		if v := strings.TrimSpace(c.Get("Fly-Client-IP")); v != "" {
			if a, err := netip.ParseAddr(v); err == nil {
				return s.addrOf(a.Unmap())
			}
		}
		if a, ok := s.forwardedClient(c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)); ok {
			return s.addrOf(a)
		}
	}
	return s.addrOf(peer)
}

// forwardedClient reads the client address from the X-Forwarded-For headers of a request that a
// trusted proxy sent: the rightmost address that is not itself a trusted proxy. Each proxy appends
// the address it received the request from, so that one is vouched for; anything left of it is
// what the client sent and may be forged. If every address is a trusted proxy, the leftmost is
// the client. ok is false without a usable address (none, or one that does not parse).
func (s *Server) forwardedClient(headers [][]byte) (client netip.Addr, ok bool) {
	for i := len(headers) - 1; i >= 0; i-- {
		list := utils.UnsafeString(headers[i]) // read here, never kept
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, item = list[:j], list[j+1:]
			} else {
				list, item = "", list
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return client, ok
			}
			client, ok = a.Unmap(), true
			if !s.trusted(client) {
				return client, true
			}
		}
	}
	return client, ok
}

func (s *Server) addrOf(a netip.Addr) *clientAddr {
	if e, ok := s.addrs.Get(a); ok {
		return e
	}
	text, key := a.String(), clientkey.Of(a)
	if key == text { // IPv4: share the string
		key = text
	}
	e := &clientAddr{text: text, key: key, limitKey: "ip:" + key}
	s.addrs.Put(a, e)
	return e
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
