package server

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

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

// rateLimit charges every request one token on arrival; GraphQL operations are charged the rest
// of their computed cost after prepare (chargeCost). Every response carries the RateLimit-*
// headers; a refused request gets 429 with Retry-After and RATE_LIMITED.
func (s *Server) rateLimit(c *fiber.Ctx) error {
	if s.deps.RateLimit == nil || exemptFromLimits(c.Path()) {
		return c.Next()
	}
	if err := s.charge(c, 1); err != nil {
		return err
	}
	return c.Next()
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

func (s *Server) charge(c *fiber.Ctx, cost int) error {
	rl := s.deps.RateLimit
	id := security.FromContext(requestContext(c))
	key, limit := "ip:"+s.clientIP(c), rl.Anonymous
	switch {
	case id.Role >= security.RoleAdmin:
		key, limit = "user:"+id.Username, rl.Admin
	case id.Authenticated():
		key, limit = "user:"+id.Username, rl.Authenticated
	}
	d := rl.Limiter.Allow(key, limit, cost)
	h := &c.Response().Header
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.ResetAfter)))
	if !d.Allowed {
		h.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
		return &httpError{status: fiber.StatusTooManyRequests, code: codeRateLimited,
			message:    "rate limit exceeded; retry after the time in Retry-After",
			extensions: map[string]any{"retryAfterSeconds": max(1, ceilSeconds(d.RetryAfter)), "cost": cost}}
	}
	return nil
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

// clientIP is the caller's address: the socket peer, or, when the peer is a trusted proxy
// (Fly's edge), the address it reports in Fly-Client-IP or the first X-Forwarded-For entry.
// Headers from untrusted peers are ignored: anyone can send them.
func (s *Server) clientIP(c *fiber.Ctx) string {
	// Several middlewares ask; parse once per request.
	if ip, ok := c.Locals(localClientIP).(string); ok {
		return ip
	}
	ip := s.parseClientIP(c)
	c.Locals(localClientIP, ip)
	return ip
}

func (s *Server) parseClientIP(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	if v := strings.TrimSpace(c.Get("Fly-Client-IP")); v != "" {
		if a, err := netip.ParseAddr(v); err == nil {
			return a.Unmap().String()
		}
	}
	if v := c.Get(fiber.HeaderXForwardedFor); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return a.Unmap().String()
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
