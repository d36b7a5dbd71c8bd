package server

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/security"
)

// Defense are the traffic defenses the server applies in its middleware chain: the shared block
// list (checked in memory before anything else), threat scoring of every request, the incident
// playbooks for what scoring and the rate limit catch, and the honeypot traps. A nil *Defense in
// Deps disables them all.
type Defense struct {
	// BlockList refuses blocked addresses. Required.
	BlockList *defense.BlockList
	// Scorer scores every request except the operational routes. Required.
	Scorer *defense.Scorer
	// Responder runs the playbook of a blocked verdict and of an address that keeps hammering
	// the rate limit. Required.
	Responder *defense.Responder
	// Honeypot records trap hits; nil registers no trap routes.
	Honeypot *defense.Honeypot
}

func (d *Defense) validate() error {
	if d.BlockList == nil || d.Scorer == nil || d.Responder == nil {
		return fmt.Errorf("server: Defense needs BlockList, Scorer and Responder")
	}
	return nil
}

// blockedMessage is the body of every refusal by the block list or threat scoring; securityId
// lets an operator find the request in the logs without telling the client why.
const blockedMessage = "Request blocked by security policy"

var defenseActive, defenseBlocked = []byte("ACTIVE"), []byte("BLOCKED")

// blockedError is the 403 FORBIDDEN answer to a blocked address or request.
func blockedError(now time.Time) *httpError {
	return &httpError{status: fiber.StatusForbidden, code: codeForbidden, message: blockedMessage,
		extensions: map[string]any{"securityId": defense.NewSecurityID(now)}}
}

// blockList refuses requests from blocked addresses. The check is an in-memory lookup; the
// operational routes stay reachable so that orchestrators never see a blocked proxy address.
func (s *Server) blockList(c *fiber.Ctx) error {
	d := s.deps.Defense
	if d == nil || exemptFromLimits(c.Path()) {
		return c.Next()
	}
	cl := s.client(c)
	if _, reason, blocked := d.BlockList.BlockedClient(cl.key, cl.text); blocked {
		s.deps.Metrics.ThreatBlocked.Inc()
		err := blockedError(time.Now())
		c.Response().Header.SetBytesKV(headerDefense, defenseBlocked)
		// A blocked client may keep sending as fast as it can (a wrk run made 300,000 lines in
		// 28 s): the count is in neko_threat_blocked_total, the log gets a sample.
		s.blockedLog.Do(func() {
			s.deps.Logger.Info("blocked address refused (sampled: at most one line a second)", "ip", cl.text, "client", cl.key, "reason", reason,
				"security_id", err.extensions["securityId"], "request_id", state(c).id)
		})
		return err
	}
	return c.Next()
}

// requestInfo describes the request for the threat scorer: one pass over its headers notes which
// of the ones the rules look at are present, and counts them all. key is the client's key, under
// which the scorer keeps its history.
func (s *Server) requestInfo(c *fiber.Ctx, key string, now time.Time) defense.RequestInfo {
	h := &c.Request().Header
	var present defense.HeaderSet
	count := 0
	h.VisitAll(func(k, _ []byte) {
		count++
		present |= defense.KeptHeader(k)
	})
	size := int64(h.ContentLength())
	if size <= 0 {
		size = int64(len(c.Request().Body()))
	}
	return defense.RequestInfo{
		// The strings alias fasthttp's buffers: the scorer copies what it keeps.
		IP: key, Method: c.Method(), Path: c.OriginalURL(), UserAgent: utils.UnsafeString(h.UserAgent()),
		Headers: present, HeaderCount: count, PayloadSize: size,
		Authenticated: state(c).identity.Authenticated(), Now: now,
	}
}

// threatScore scores every request (GraphQL included; the operational routes excepted), reports
// a positive score in X-Neko-Threat-Score, and refuses a blocking verdict with 403 after running
// its incident playbook. A honeypot trap is never refused here: it answers its decoy and records
// the hit (the HONEYPOT_CAPTURE playbook does the blocking). After the response the duration
// feeds the scorer's timing rule.
func (s *Server) threatScore(c *fiber.Ctx) error {
	d := s.deps.Defense
	if d == nil || exemptFromLimits(c.Path()) {
		return c.Next()
	}
	start := time.Now()
	cl := s.client(c)
	ip := cl.text // the exact address: evidence in incidents and logs; cl.key counts
	info := s.requestInfo(c, cl.key, start)
	v := d.Scorer.Score(info)
	if v.Score > 0 {
		var buf [20]byte
		c.Response().Header.AddBytesKV(headerThreatScore, strconv.AppendInt(buf[:0], int64(v.Score), 10))
		c.Response().Header.SetBytesKV(headerDefense, defenseActive)
	}
	defer func() { d.Scorer.Observe(cl.key, time.Since(start)) }()
	if _, trap := s.trapPath(c.Path()); trap {
		state(c).verdict = v
		return c.Next()
	}
	switch v.Action {
	case defense.ActionBlock:
		s.deps.Metrics.ThreatBlocked.Inc()
		in, _ := d.Responder.HandleAsync(s.requestContext(c), v.Category, v.Severity(), ip, v.Score, map[string]any{
			"reasons": v.Reasons, "path": strings.Clone(truncateString(info.Path, 400)), "method": info.Method,
			"user_agent": strings.Clone(info.UserAgent), "request_id": state(c).id,
		})
		err := blockedError(start)
		err.extensions["threatScore"] = v.Score
		c.Response().Header.SetBytesKV(headerDefense, defenseBlocked)
		s.deps.Logger.Warn("request blocked by threat scoring", "request_id", state(c).id, "ip", ip, "score", v.Raw, "reasons", v.Reasons,
			"incident_id", in.IncidentID, "security_id", err.extensions["securityId"])
		return err
	case defense.ActionChallenge:
		s.deps.Logger.Info("suspicious request", "ip", ip, "score", v.Raw, "reasons", v.Reasons, "path", c.Path())
		if d.Responder.ClaimMonitor(cl.key) {
			d.Responder.Monitor(s.requestContext(c), ip, v.Score, v.Severity(), map[string]any{
				"signal": v.Category, "reasons": v.Reasons, "path": strings.Clone(truncateString(info.Path, 400)),
				"method": info.Method, "user_agent": strings.Clone(info.UserAgent), "request_id": state(c).id,
			})
		}
	}
	return c.Next()
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// trapPath is defense.MatchTrap, skipped for the exact paths of real routes, which no trap
// matches (registerTraps refuses a trap that would shadow one).
func (s *Server) trapPath(path string) (defense.Trap, bool) {
	if s.realPaths[path] {
		return defense.Trap{}, false
	}
	return defense.MatchTrap(path)
}

// registerTraps answers every honeypot trap path, whatever the method, with its decoy, and
// records the hit. It fails when a trap would shadow one of the real routes registered before.
func (s *Server) registerTraps(a *fiber.App) error {
	d := s.deps.Defense
	if d == nil || d.Honeypot == nil {
		return nil
	}
	real := map[string]bool{}
	for _, r := range a.GetRoutes() {
		real[r.Path] = true
	}
	s.realPaths = real
	for path := range real {
		if tr, ok := defense.MatchTrap(path); ok {
			return fmt.Errorf("server: honeypot trap %s (%s) would shadow the route %s", tr.Name, tr.Pattern, path)
		}
	}
	for _, tr := range defense.Traps() {
		pattern := tr.Pattern
		if tr.Prefix {
			pattern += "/*"
		}
		a.All(pattern, s.trap)
	}
	return nil
}

// trap answers a honeypot route: the hit is recorded (HONEYPOT_CAPTURE blocks the address from
// score 60) and the decoy is sent.
func (s *Server) trap(c *fiber.Ctx) error {
	d := s.deps.Defense
	tr, ok := defense.MatchTrap(c.Path())
	if !ok { // the router and MatchTrap disagree (e.g. an odd encoding): nothing to imitate
		return c.Next()
	}
	v := state(c).verdict
	headers := map[string]string{}
	c.Request().Header.VisitAll(func(k, val []byte) { headers[string(k)] = string(val) })
	// Fiber's strings and body alias buffers reused after the response; the hit is written later.
	doc, _ := d.Honeypot.Record(s.requestContext(c), defense.TrapHit{
		Trap: tr, IP: s.clientIP(c), Method: strings.Clone(c.Method()), Path: strings.Clone(c.OriginalURL()),
		UserAgent: strings.Clone(c.Get(fiber.HeaderUserAgent)), Headers: headers, Body: bytes.Clone(c.Request().Body()), // as sent, never decoded
		ThreatScore: v.Score,
	})
	if doc.ActionTaken == "blocked" {
		s.deps.Metrics.ThreatBlocked.Inc()
	}
	c.Status(tr.Status)
	c.Set(fiber.HeaderContentType, tr.ContentType)
	return c.Send(tr.Body)
}

// Rate-limit escalation: a client (key) refused this many times within hammerWindow gets the RATE_LIMIT_VIOLATION playbook (a temporary block).
const (
	hammerRejections = 3
	hammerWindow     = time.Minute
	hammerMaxTracked = 10_000
)

// hammering counts rate-limit rejections per key within hammerWindow, in bounded memory. Only
// rejections touch it, so the requests that pass pay nothing.
type hammering struct {
	mu      sync.Mutex // guards entries
	entries map[string]hammerEntry
}

type hammerEntry struct {
	n     int
	first time.Time
}

// reject records a rejection of key at now and reports whether it is the one that escalates.
func (h *hammering) reject(key string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = make(map[string]hammerEntry)
	}
	e, ok := h.entries[key]
	if !ok || now.Sub(e.first) > hammerWindow {
		if !ok && len(h.entries) >= hammerMaxTracked {
			for k, old := range h.entries { // drop the expired; if none, start over
				if now.Sub(old.first) > hammerWindow {
					delete(h.entries, k)
				}
			}
			if len(h.entries) >= hammerMaxTracked {
				clear(h.entries)
			}
		}
		e = hammerEntry{first: now}
	}
	e.n++
	if e.n >= hammerRejections {
		delete(h.entries, key)
		return true
	}
	h.entries[key] = e
	return false
}

// limitRequests is the rate limit (rateLimit, plus the cost charged by the GraphQL handler) with
// escalation: the hammerRejections-th 429 of an address within hammerWindow runs the
// RATE_LIMIT_VIOLATION playbook, whose temporary block the block list then enforces.
//
// Which refusals escalate: those of anonymous callers, whether they sent no credentials or
// credentials that failed, except credentials that lapsed within the last hour
// (security.ErrCredentialLapsed: an expired token this server signed, a revoked, expired or
// past-grace API key it issued; an older lapse escalates, so a leaked old credential shields no
// one). Every
// such request is still charged to its address's anonymous limit and refused over it; only the
// block is spared. A lapsed credential proves a client that was legitimate, typically a
// dashboard or monitor polling at its authenticated pace whose token or key just ran out: a block
// would lock it, and everyone behind its address, out even after it logs in again or gets a
// new key. Junk, tampered and unknown credentials do escalate, including well-formed API keys
// the store could not be asked about (security.LookupConfig's budget spent, the database down):
// anyone can make those, so exempting them would let any client escape escalation by sending a
// random key with every request. A key just created on another instance is not among them: it
// is looked up and accepted (security.KeyManager.Verify).
func (s *Server) limitRequests(c *fiber.Ctx) error {
	err := s.rateLimit(c)
	d := s.deps.Defense
	if d == nil || s.deps.RateLimit == nil || exemptFromLimits(c.Path()) {
		return err
	}
	// Only the rate limiter's own refusals count, not every 429: a login refused by its
	// throttle answers 429 too, and escalating that would let anyone who fails logins for a
	// username get its owner's address blocked.
	r := state(c)
	if !r.charged || r.decision.Allowed {
		return err
	}
	cl := s.client(c)
	ip := cl.text
	// Escalation blocks the client, so it answers only a client's own (anonymous) limit: a
	// user or API key over its limit must not lock everyone behind the same address out. It
	// counts per client key, as the limit does: an IPv6 client is refused as its /64.
	if !r.identity.Authenticated() && !errors.Is(r.credentialErr, security.ErrCredentialLapsed) && s.hammer.reject(cl.key, time.Now()) {
		in, _ := d.Responder.HandleAsync(s.requestContext(c), defense.CategoryRateLimit, "medium", ip, 50, map[string]any{
			"rejections": hammerRejections, "window": hammerWindow.String(), "path": strings.Clone(c.Path()),
			"identity": r.identity.Username,
		})
		s.deps.Logger.Warn("rate limit violation", "request_id", r.id, "ip", ip, "incident_id", in.IncidentID, "playbook", in.Playbook)
	}
	return err
}
