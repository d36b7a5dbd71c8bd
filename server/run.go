package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/cache"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
)

// ResponseCache is the read-through response cache (cache.Tiered satisfies it).
type ResponseCache interface {
	Do(ctx context.Context, key string, p cache.Policy, fill func(ctx context.Context) (cache.Entry, error)) (cache.Entry, cache.Status, error)
	Invalidate(ctx context.Context, tags ...string) error
}

// PersistedQueries stores automatic persisted queries (cache.PersistedQueries satisfies it).
type PersistedQueries interface {
	Get(ctx context.Context, sha256Hex string) (string, bool)
	Put(ctx context.Context, sha256Hex, query string) error
}

// result is the outcome of one GraphQL operation, ready to be written: alone as the response,
// or as one item of a batch.
type result struct {
	status       int    // HTTP status when written alone
	body         []byte // the GraphQL response object
	requestError bool   // no execution happened (the status then depends on the media type)
	err          error  // a failure of the whole HTTP request (e.g. a mutation over GET)
	xCache       string // X-Cache value
	cacheControl string
	etag         string
	private      bool
	cost         int           // the operation's computed cost (charged to the rate limit)
	retryAfter   time.Duration // a field was refused for a while (a throttled login): Retry-After
	fresh        time.Duration // how much longer a cached answer stays fresh (0: not cacheable)
	storedAt     time.Time     // when a cached answer was computed: its Age (zero: not from the cache)
}

// run executes one GraphQL request: persisted query lookup, prepare, cost charge, then the
// response cache for queries or execution plus invalidation for mutations.
func (s *Server) run(c *fiber.Ctx, req graphql.Request) result {
	ctx := s.requestContext(c)
	register, err := s.resolvePersisted(ctx, &req)
	if err != nil {
		return s.requestError(err)
	}
	if register != "" {
		// A registration is paid for by what it asks us to store, before any work on it.
		if err := s.chargeRegistration(c, len(req.Query)); err != nil {
			return s.refusal(err)
		}
	}
	pctx, span := s.startSpan(ctx, "graphql.prepare")
	op, err := s.deps.Engine.Prepare(pctx, req)
	span.End()
	if err != nil {
		return s.requestError(err)
	}
	if register != "" { // stored only once the document has parsed and validated, as Apollo does
		if err := s.deps.APQ.Put(ctx, register, req.Query); err != nil {
			return s.requestError(persistedError(err))
		}
	}
	if readOnly(c) && op.Kind != ast.Query {
		c.Set(fiber.HeaderAllow, "POST")
		return s.refusal(&httpError{status: fiber.StatusMethodNotAllowed, code: codeBadUserInput,
			message: "only queries may be sent with GET; send mutations with POST"})
	}
	if op.Kind == ast.Mutation {
		// Writes execute in the primary region only (region.go): decided before any cost is
		// charged or anything executes.
		if res, replay := s.replayToPrimary(c); replay {
			return res
		}
	}
	if err := s.chargeCost(c, op.Cost); err != nil {
		return s.refusal(err)
	}
	var pol resolvers.OperationPolicy
	if s.deps.Policies != nil {
		pol = s.deps.Policies(op)
	}

	var res result
	switch {
	case op.Kind == ast.Mutation:
		res = s.mutate(ctx, op, pol)
	case s.deps.Cache == nil || pol.MaxAge <= 0 || !security.FromContext(ctx).Role.Allows(pol.Requires):
		// Uncacheable, or a caller who lacks the role: execute so they get the real errors.
		res = s.executeOnce(ctx, op)
		res.xCache = cache.Bypass.String()
	default:
		res = s.cached(ctx, op, pol)
	}
	res.cost = op.Cost
	if wantsCost(req.Extensions) {
		res.body = appendCostExtension(res.body, op.Cost, s.deps.Engine.MaxCost())
		res.fresh = 0 // the cost extension is per request: never memoize it
		res.etag = "" // nor let it pass for the cached representation (If-None-Match)
	}
	return res
}

// executeOnce runs op with fresh per-request loaders and renders the response.
func (s *Server) executeOnce(ctx context.Context, op *graphql.Operation) result {
	resp := s.execute(ctx, op)
	return result{status: s.responseStatus(resp), body: s.appendResponse(nil, resp.Data, resp.Errors),
		cacheControl: "no-store", retryAfter: retryAfterOf(resp.Errors)}
}

// retryHint is an error that knows when trying again makes sense: a throttled login
// (security.ThrottledError) or an open circuit breaker (resilience.OpenError).
type retryHint interface {
	RetryIn() time.Duration
}

// retryAfterOf is the longest wait a field error asks for: a throttled login answers with a
// RATE_LIMITED field error, an open breaker with SERVICE_UNAVAILABLE, and the client should learn
// when to try again from Retry-After as it would from any 429 or 503.
func retryAfterOf(errs []*graphql.Error) time.Duration {
	var wait time.Duration
	for _, e := range errs {
		var h retryHint
		if errors.As(e, &h) {
			wait = max(wait, h.RetryIn())
		}
	}
	return wait
}

// responseStatus tells clients and proxies to back off and retry when nothing could be answered
// (data is null, or holds only nulls) for a reason that passes: 503 when a dependency is
// unavailable (every error SERVICE_UNAVAILABLE, or some of them and the rest RATE_LIMITED), 429
// when the caller was throttled (every error RATE_LIMITED: a login refused after too many
// failures). Any other error, or a partial answer, stays 200.
func (s *Server) responseStatus(resp *graphql.Response) int {
	if len(resp.Errors) == 0 || !onlyNulls(resp.Data) {
		return fiber.StatusOK
	}
	status := fiber.StatusTooManyRequests
	for _, e := range resp.Errors {
		switch _, code, _ := describe(e, s.cfg.Production); code {
		case codeServiceUnavailable:
			status = fiber.StatusServiceUnavailable
		case codeRateLimited:
		default:
			return fiber.StatusOK
		}
	}
	return status
}

// onlyNulls reports whether a response's data is absent, null, or an object of nulls (every root
// field failed, nullable ones included).
func onlyNulls(data json.RawMessage) bool {
	if len(data) == 0 || string(data) == "null" {
		return true
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}

func (s *Server) execute(ctx context.Context, op *graphql.Operation) *graphql.Response {
	if s.deps.ExecContext != nil {
		ctx = s.deps.ExecContext(ctx)
	}
	ctx, span := s.startSpan(ctx, "graphql.execute")
	defer span.End()
	return s.deps.Engine.Execute(ctx, op)
}

// mutate executes a mutation and, before answering, makes the cached answers it changes stale
// on this instance (and, through the cache's pub/sub, on every other).
func (s *Server) mutate(ctx context.Context, op *graphql.Operation, pol resolvers.OperationPolicy) result {
	res := s.executeOnce(ctx, op)
	res.xCache = cache.Bypass.String()
	if s.deps.Cache != nil && len(pol.Invalidates) > 0 {
		// The write has happened whether or not some field failed: invalidate regardless, with a
		// context that the client's departure cannot cancel.
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := s.deps.Cache.Invalidate(ictx, pol.Invalidates...); err != nil {
			s.deps.Logger.WarnContext(ctx, "cache invalidation failed", "request_id", requestIDFrom(ctx), "tags", pol.Invalidates, "err", err)
		}
	}
	return res
}

// uncacheable carries a response that must be sent but not cached (it has errors). It travels
// through the cache's fill as an error so that the cache neither stores it nor hides it, and so
// that every caller sharing the flight receives it.
type uncacheable struct {
	body       []byte
	status     int           // see responseStatus
	retryAfter time.Duration // see retryAfterOf
}

func (u *uncacheable) Error() string { return "response has errors" }

// cached answers a query through the response cache: L1, L2, singleflight, then execution.
func (s *Server) cached(ctx context.Context, op *graphql.Operation, pol resolvers.OperationPolicy) result {
	id := security.FromContext(ctx)
	key := cacheKey(op, pol, id)
	lctx, span := s.startCacheSpan(ctx, cacheKindGraphQL)
	entry, status, err := s.deps.Cache.Do(lctx, key, cache.Policy{
		MaxAge:               pol.MaxAge,
		StaleWhileRevalidate: s.cfg.StaleWhileRevalidate,
		StaleIfError:         s.cfg.StaleIfError,
		Tags:                 pol.Tags,
	}, func(ctx context.Context) (cache.Entry, error) {
		resp := s.execute(ctx, op)
		if len(resp.Errors) > 0 {
			return cache.Entry{}, &uncacheable{body: s.appendResponse(nil, resp.Data, resp.Errors), status: s.responseStatus(resp),
				retryAfter: retryAfterOf(resp.Errors)}
		}
		return cache.Entry{Body: s.appendResponse(nil, resp.Data, nil), Tags: pol.Tags}, nil
	})
	var u *uncacheable
	isUncacheable := errors.As(err, &u)
	if isUncacheable {
		endCacheSpan(span, status, nil) // an answer with GraphQL errors, not a failed lookup
	} else {
		endCacheSpan(span, status, err)
	}
	switch {
	case isUncacheable:
		return result{status: u.status, body: u.body, xCache: cache.Miss.String(), cacheControl: "no-store", retryAfter: u.retryAfter}
	case err != nil:
		return s.failure(ctx, err)
	}
	private := pol.Private || pol.Requires > security.RoleAnonymous
	return result{
		status:       fiber.StatusOK,
		body:         entry.Body,
		xCache:       status.String(),
		etag:         entry.ETag,
		private:      private,
		cacheControl: cacheControl(private, pol.MaxAge),
		fresh:        pol.MaxAge - time.Since(entry.StoredAt),
		storedAt:     entry.StoredAt,
	}
}

// cacheKey identifies an answer: the document, the operation, the coerced variables and the
// scope. Answers of operations that need a role are shared by every caller who holds it (the
// server checks the role before looking); PRIVATE answers are keyed by the user as well, so one
// user's answer never reaches another.
func cacheKey(op *graphql.Operation, pol resolvers.OperationPolicy, id security.Identity) string {
	h := sha256.New()
	h.Write(op.Hash[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(op.Name)))
	h.Write(n[:])
	h.Write([]byte(op.Name))
	if len(op.Variables) > 0 {
		vars, _ := json.Marshal(op.Variables) // map keys are sorted: canonical
		h.Write(vars)
	}
	h.Write([]byte{0})
	h.Write([]byte(pol.Requires.String()))
	if pol.Private {
		// The whole identity, not only the name: two API keys may share a name with different
		// roles, and a user whose role changed holds tokens of both roles until the old expires.
		for _, part := range [...]string{id.Username, id.Role.String(), id.Language} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write([]byte(part))
		}
	}
	var sum [sha256.Size]byte
	return "gql:" + hex.EncodeToString(h.Sum(sum[:0]))
}

func cacheControl(private bool, maxAge time.Duration) string {
	scope := "public"
	if private {
		scope = "private"
	}
	return scope + ", max-age=" + strconv.Itoa(int(maxAge/time.Second))
}

// requestError renders errors raised before execution (parse, validation, limits, variables).
func (s *Server) requestError(err error) result {
	var he *httpError
	if errors.As(err, &he) {
		return s.refusal(err)
	}
	errs := graphql.AsErrors(err)
	status, _, _ := describe(errs[0], s.cfg.Production)
	return result{status: status, body: s.appendResponse(nil, nil, errs), requestError: true, cacheControl: "no-store"}
}

// refusal is the result of an operation refused as a whole: alone, err fails the HTTP request
// (handleError writes it); inside a batch, body stands in for the operation's answer.
func (s *Server) refusal(err error) result {
	_, code, msg := describe(err, s.cfg.Production)
	return result{err: err, body: appendErrorBody(nil, msg, code, extensionsOf(err))}
}

// failure renders an error that prevented any answer (deadline, cache fill failure), and logs
// it with the request's id. A cancellation of ctx itself is not a failure worth an ERROR: no
// client's request context is ever cancelled before its answer is written, so that is the cache
// warmer stopping at shutdown (debug only).
func (s *Server) failure(ctx context.Context, err error) result {
	status, code, msg := describe(err, s.cfg.Production)
	if status >= 500 {
		level, text := slog.LevelError, "graphql request failed"
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			level, text = slog.LevelDebug, "graphql request cancelled"
		}
		attrs := []any{"err", err}
		if id := requestIDFrom(ctx); id != "" {
			attrs = append(attrs, "request_id", id)
		}
		s.deps.Logger.Log(ctx, level, text, attrs...)
	}
	var h retryHint
	var retry time.Duration
	if errors.As(err, &h) {
		retry = h.RetryIn()
	}
	return result{status: status, body: appendErrorBody(nil, msg, code, nil), requestError: true, cacheControl: "no-store", retryAfter: retry}
}

// writeResult writes a single operation's result with its caching headers, answering 304 when
// the client already holds the same representation.
func (s *Server) writeResult(c *fiber.Ctx, media string, r result) error {
	if r.err != nil {
		return r.err
	}
	status := r.status
	if r.requestError && media == mediaJSON && status < 500 && status != fiber.StatusTooManyRequests {
		status = fiber.StatusOK // application/json: well-formed requests get 200 (GraphQL over HTTP)
	}
	if status == fiber.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if r.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(1, ceilSeconds(r.retryAfter))))
	}
	// writeResult is the only writer of X-Cache, Cache-Control and ETag on a single operation's
	// answer, once (addHeader).
	addHeader(c, headerXCache, cmp.Or(r.xCache, cache.Bypass.String())) // an answer refused before any lookup bypassed it
	if r.cacheControl != "" {
		addHeader(c, headerCacheControl, r.cacheControl)
	}
	if !r.storedAt.IsZero() {
		// max-age counts from when the answer was computed: Age tells a downstream cache how much
		// of it is left (RFC 9111 section 4.2.3).
		var buf [20]byte
		age := max(0, state(c).start.Sub(r.storedAt)/time.Second)
		c.Response().Header.AddBytesKV(headerAge, strconv.AppendInt(buf[:0], int64(age), 10))
	}
	setVary(c, r.private)
	if r.etag != "" {
		etag := etagFor(r.etag, media)
		addHeader(c, headerETag, etag)
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
			// RFC 9110 13.1.2: 304 for GET and HEAD; any other method is not performed.
			if !readOnly(c) {
				return c.SendStatus(fiber.StatusPreconditionFailed)
			}
			return c.SendStatus(fiber.StatusNotModified)
		}
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, media+"; charset=utf-8")
	return c.Send(r.body)
}

// setVary names the request headers the answer depends on, after the Origin that the CORS
// middleware has named (nearly always the only one there): Accept (the media type), and the
// credentials for a private answer.
func setVary(c *fiber.Ctx, private bool) {
	h := &c.Response().Header
	switch origin := string(h.Peek(fiber.HeaderVary)); {
	case origin == "" && !private:
		h.Set(fiber.HeaderVary, "Accept")
	case origin == "" && private:
		h.Set(fiber.HeaderVary, "Accept, Authorization, X-API-Key")
	case origin == fiber.HeaderOrigin && !private:
		h.Set(fiber.HeaderVary, "Origin, Accept")
	case origin == fiber.HeaderOrigin && private:
		h.Set(fiber.HeaderVary, "Origin, Accept, Authorization, X-API-Key")
	case private:
		c.Vary(fiber.HeaderAccept, fiber.HeaderAuthorization, "X-API-Key")
	default:
		c.Vary(fiber.HeaderAccept)
	}
}

// etagFor is the ETag of an answer's body as sent with media: the same bytes under another
// Content-Type are another representation, which a cache must not take for this one (Vary: Accept
// keys the cache, the tag must differ too).
func etagFor(etag, media string) string {
	if media == mediaJSON || !strings.HasSuffix(etag, `"`) {
		return etag
	}
	return etag[:len(etag)-1] + `-gr"`
}

// etagMatches implements If-None-Match's weak comparison over a list of tags, or "*" alone
// (which is not a member of a list: "*, x" matches only x).
func etagMatches(header, etag string) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	for _, part := range splitComma(header) {
		if part != "*" && trimWeak(part) == trimWeak(etag) {
			return true
		}
	}
	return false
}

// persistedHash returns extensions.persistedQuery.sha256Hash (Apollo's APQ), or "".
func persistedHash(ext map[string]any) string {
	pq, _ := ext["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return h
}

// resolvePersisted implements automatic persisted queries (extensions.persistedQuery, version 1,
// with a sha256Hash of 64 lowercase hex digits). A hash alone is looked up: the query is filled
// in, or PERSISTED_QUERY_NOT_FOUND tells the client to send the text once. A hash with its text
// is checked against it, and returned as register: run stores the text once it proves valid.
func (s *Server) resolvePersisted(ctx context.Context, req *graphql.Request) (register string, err error) {
	raw, present := req.Extensions["persistedQuery"]
	if !present {
		return "", nil
	}
	pq, _ := raw.(map[string]any)
	if pq == nil {
		return "", badRequest("extensions.persistedQuery must be an object")
	}
	if v, _ := pq["version"].(json.Number); v != "1" {
		return "", badRequest("extensions.persistedQuery.version must be 1")
	}
	hash, _ := pq["sha256Hash"].(string)
	if err := cache.CheckPersisted(hash, req.Query); err != nil {
		return "", persistedError(err)
	}
	if s.deps.APQ == nil {
		return "", &graphql.Error{Message: "PersistedQueryNotSupported", Extensions: map[string]any{"code": codePersistedNotFound}}
	}
	if req.Query != "" {
		return hash, nil
	}
	q, ok := s.deps.APQ.Get(ctx, hash)
	if !ok {
		return "", &graphql.Error{Message: "PersistedQueryNotFound", Extensions: map[string]any{"code": codePersistedNotFound}}
	}
	req.Query = q
	return "", nil
}

// persistedError maps the persisted-query store's refusals to request errors.
func persistedError(err error) error {
	switch {
	case errors.Is(err, cache.ErrHashMismatch):
		return badRequest("provided sha256Hash does not match the query")
	case errors.Is(err, cache.ErrInvalidHash):
		return badRequest("sha256Hash must be 64 lowercase hexadecimal digits")
	case errors.Is(err, cache.ErrQueryTooLarge):
		return &httpError{status: fiber.StatusBadRequest, code: codeTooComplex, message: "persisted query too large"}
	}
	return err
}

// wantsCost reports whether the client asked for the operation's cost (extensions.cost: true).
func wantsCost(ext map[string]any) bool {
	v, _ := ext["cost"].(bool)
	return v
}

// appendCostExtension adds "extensions":{"cost":{...}} to a rendered response object.
func appendCostExtension(body []byte, cost, max int) []byte {
	if len(body) < 2 || body[len(body)-1] != '}' {
		return body
	}
	out := make([]byte, 0, len(body)+64)
	out = append(out, body[:len(body)-1]...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, fmt.Sprintf(`"extensions":{"cost":{"requestedQueryCost":%d,"maximumAvailable":%d}}}`, cost, max)...)
}
