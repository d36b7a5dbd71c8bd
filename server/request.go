package server

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/security"
)

// request is what the middleware chain learns about one request, kept in a single Locals slot:
// one allocation per request instead of one per value, and typed fields instead of interface
// lookups. The first middleware (requestID) creates it and releases what it holds when the
// request is done.
//
// The request's context.Context is built lazily (requestContext): a deadline timer, the client
// address and the identity cost several allocations, and a request answered from the memo never
// needs them. The deadline still counts from the request's arrival.
type request struct {
	id       string            // X-Request-Id
	idText   [24]byte          // a generated id's text (id points into it)
	start    time.Time         // arrival; the context's deadline is start + RequestTimeout
	addr     *clientAddr       // the client address (client), nil until asked
	identity security.Identity // set by authenticate
	// credentialErr is why the credentials the request sent failed: the request is served as
	// anonymous, and fields that need a role answer this error (security.WithCredentialError).
	credentialErr error
	verdict       defense.Verdict // threat scoring's verdict, for the trap handler

	// The rate limit: the key and tier of the caller, and the latest decision, whose RateLimit-*
	// headers are written once when the request leaves rateLimit.
	limitKey string
	limit    resilience.Limit
	decision resilience.Decision
	charged  bool // a decision was taken

	traceCtx context.Context // the context holding the server span (tracing.go); nil without one
	ctx      context.Context // built by requestContext on first use
	cancel   context.CancelFunc
}

// maxAuditUserAgent bounds the user agent a request's context carries to the audit log.
const maxAuditUserAgent = 256

// localRequest holds the *request in fiber.Ctx.Locals.
const localRequest localKey = 1

// state returns the request's state. Outside the middleware chain (a handler called directly in
// a test) it makes a fresh one.
func state(c *fiber.Ctx) *request {
	if r, ok := c.Locals(localRequest).(*request); ok {
		return r
	}
	r := &request{start: time.Now()}
	c.Locals(localRequest, r)
	return r
}

// requestContext returns the request's context: a deadline of RequestTimeout from arrival, the
// client address (login throttling, the audit log), the caller's identity and the server span.
// Built on first use; done cancels it.
func (s *Server) requestContext(c *fiber.Ctx) context.Context {
	r := state(c)
	if r.ctx != nil {
		return r.ctx
	}
	parent := r.traceCtx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithDeadline(parent, r.start.Add(s.cfg.RequestTimeout))
	ctx = security.WithClientAddr(ctx, s.clientIP(c))
	if ua := c.Get(fiber.HeaderUserAgent); ua != "" { // for the audit log; the header's buffer is reused
		ctx = security.WithUserAgent(ctx, strings.Clone(truncateString(ua, maxAuditUserAgent)))
	}
	if r.identity.Authenticated() {
		ctx = security.NewContext(ctx, r.identity)
	}
	if r.credentialErr != nil {
		ctx = security.WithCredentialError(ctx, r.credentialErr)
	}
	if r.id != "" {
		ctx = context.WithValue(ctx, requestIDKey{}, r.id) // for the logs of code that holds only ctx
	}
	r.ctx, r.cancel = ctx, cancel
	return ctx
}

// requestIDKey is the context key of the request's X-Request-Id.
type requestIDKey struct{}

// requestIDFrom is the X-Request-Id of the request ctx belongs to, "" for work no request asked
// for (the cache warmer).
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// done releases the request's context, if one was built.
func (r *request) done() {
	if r.cancel != nil {
		r.cancel()
	}
}
