package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
)

// Response headers set in exactly one place, with addHeader.
var (
	headerRequestID   = []byte(fiber.HeaderXRequestID)
	headerRegion      = []byte("X-Neko-Region")
	headerThreatScore = []byte("X-Neko-Threat-Score")
	// headerDefense is the original's X-Neko-Defense: ACTIVE on a request that scored, BLOCKED on
	// one refused by scoring or the block list.
	headerDefense      = []byte("X-Neko-Defense")
	headerXCache       = []byte("X-Cache")
	headerCacheControl = []byte(fiber.HeaderCacheControl)
	headerETag         = []byte(fiber.HeaderETag)
	headerAge          = []byte(fiber.HeaderAge)
)

// addHeader appends a response header that only one place in the server sets, once per request.
// fasthttp keeps response headers in a list that Set searches for an earlier value; on a cache hit
// with some twenty headers those searches were a large part of the server's own work.
func addHeader(c *fiber.Ctx, key []byte, value string) {
	c.Response().Header.AddBytesKV(key, unsafe.Slice(unsafe.StringData(value), len(value)))
}

// Keys of values this package stores in fiber.Ctx.Locals for the duration of one request.
type localKey int

const maxRequestIDLen = 64

// requestID starts the request's state (request.go) and releases it when the request is done. It
// takes a well-formed incoming X-Request-Id (so a trace can cross a proxy) or makes one, and
// echoes it on the response.
func (s *Server) requestID(c *fiber.Ctx) error {
	r := &request{start: time.Now()}
	c.Locals(localRequest, r)
	defer r.done()
	// Every response header name this server writes is already in canonical form: skip
	// fasthttp's per-header rewriting of it.
	c.Response().Header.DisableNormalizing()
	id := c.Get(fiber.HeaderXRequestID)
	if validRequestID(id) {
		id = strings.Clone(id) // Get aliases a buffer fasthttp reuses; the id may be logged later
	} else {
		// Request ids only need to be unique, not secret: the runtime's per-thread generator is
		// far cheaper than crypto/rand on the hot path.
		// The text lives in the request's state, which a string pointing into it keeps alive.
		var b [12]byte
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
		hex.Encode(r.idText[:], b[:])
		id = unsafe.String(&r.idText[0], len(r.idText))
	}
	r.id = id
	addHeader(c, headerRequestID, id)
	return c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// recoverPanic turns a handler panic into a 500 with a masked message and logs the stack.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.deps.Logger.Error("panic in handler", "request_id", state(c).id,
				"path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

// observe records neko_http_requests_total and neko_http_request_duration_seconds by route
// pattern (never the raw path, which would let clients create unbounded label values).
//
// It runs before load shedding so that shed requests are counted too.
func (s *Server) observe(c *fiber.Ctx) error {
	start := state(c).start
	err := c.Next()
	if err != nil {
		// Let the error handler write the response now so that the status we record is final.
		if herr := s.handleError(c, err); herr != nil {
			s.deps.Logger.Error("write error response", "request_id", state(c).id, "err", herr)
		}
		err = nil
	}
	s.routeMetrics(routeLabel(c), c.Response().StatusCode()).observe(time.Since(start))
	return err
}

// routeLabel names the route that answered a request, for metrics and span names: its pattern,
// "unmatched" for a path no route serves (404), and "refused" for a request a middleware
// answered before routing (shed, blocked, rate limited, bad credentials). Never the raw path.
func routeLabel(c *fiber.Ctx) string {
	route := c.Route().Path
	if route != "/" { // no route serves "/" itself: it is the middlewares' pattern
		return route
	}
	if c.Response().StatusCode() == fiber.StatusNotFound {
		return "unmatched"
	}
	return "refused"
}

// commonHeaders sets the headers every response carries.
func (s *Server) commonHeaders(c *fiber.Ctx) error {
	addHeader(c, headerRegion, s.cfg.Region)
	return c.Next()
}

// authenticate verifies the credentials of the request, when it sends any (a JWT or an API key in
// Authorization, or an API key in X-API-Key), and records the caller's identity in the request's
// state, from which its context carries it (requestContext). No credentials mean an anonymous
// caller (public fields still work).
//
// Bad credentials (expired, tampered, revoked) make an anonymous caller too, as in the original,
// whose guard ran only on guarded operations: the dashboard sends its stored token with every
// request, and after the token expires it must still be able to log in and read public data.
// The caller learns why from every field that needs a role, which answers UNAUTHENTICATED
// "invalid or expired token" instead of "authentication required". Such a request faces every
// defense as any anonymous one (rate limit per address, threat scoring, honeypot), except that
// a lapsed credential is not escalated to a block (limitRequests).
//
// Verification gets the request's trace context, not requestContext, which carries the identity
// this middleware is about to set; an API key's database lookup has its own deadline.
func (s *Server) authenticate(c *fiber.Ctx) error {
	ctx := state(c).traceCtx
	if ctx == nil {
		ctx = context.Background()
	}
	id, presented, err := s.deps.Auth.Authenticate(ctx, c.Get(fiber.HeaderAuthorization), c.Get("X-API-Key"))
	switch {
	case err != nil:
		state(c).credentialErr = err
	case presented:
		state(c).identity = id
	}
	return c.Next()
}

func (s *Server) methodNotAllowed(allow string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return &httpError{status: fiber.StatusMethodNotAllowed, code: codeBadUserInput, message: "method " + c.Method() + " not allowed; use " + allow}
	}
}

// handleError writes any error that reached Fiber as a JSON body shaped like a GraphQL error
// response, so every client (GraphQL or REST) can read errors[0].extensions.code.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, code, msg := describe(err, s.cfg.Production)
	if status >= 500 {
		s.deps.Logger.ErrorContext(s.requestContext(c), "request failed", "request_id", state(c).id, "path", c.Path(), "err", err)
	}
	if (status == fiber.StatusServiceUnavailable || status == fiber.StatusTooManyRequests) && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		retry := time.Second
		var h retryHint
		if errors.As(err, &h) {
			retry = max(retry, h.RetryIn())
		}
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ceilSeconds(retry)))
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, errorMediaType(c))
	c.Set(fiber.HeaderCacheControl, "no-store") // an error is about this request, never to be reused
	c.Set("X-Cache", "BYPASS")
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.Send(appendRESTErrorBody(nil, msg, code, extensionsOf(err), state(c).start))
	}
	return c.Send(appendErrorBody(nil, msg, code, extensionsOf(err)))
}

// isoMillis is JavaScript's Date.toISOString: UTC with milliseconds, the original's timestamps.
const isoMillis = "2006-01-02T15:04:05.000Z"

// appendRESTErrorBody appends the error body of a REST compatibility endpoint: the original's
// {"success":false,"error":msg,"message":msg,"timestamp":...} (its dashboard and TV pages branch
// on success) plus the error's extra extensions, with the errors array of appendErrorBody beside it, so that errors[0].extensions
// carries the code (and a refusal's securityId) as on /graphql.
func appendRESTErrorBody(b []byte, msg, code string, ext map[string]any, now time.Time) []byte {
	b = append(b, `{"success":false,"error":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"timestamp":"`...)
	b = now.UTC().AppendFormat(b, isoMillis)
	b = append(b, '"')
	b = appendExtensions(b, ext) // a refusal's securityId and threatScore, where the original had them
	b = append(b, ',')
	b = appendErrorsMember(b, msg, code, ext)
	return append(b, '}')
}

// errorMediaType is the Content-Type of an error answer: on /graphql the media type the client
// accepts (a client that asked for application/graphql-response+json gets its errors in it, as
// the GraphQL-over-HTTP specification wants), application/json otherwise.
func errorMediaType(c *fiber.Ctx) string {
	if c.Path() == "/graphql" {
		if media, err := negotiate(c.Get(fiber.HeaderAccept)); err == nil && media == mediaGraphQLResponse {
			return mediaGraphQLResponse + "; charset=utf-8"
		}
	}
	return fiber.MIMEApplicationJSONCharsetUTF8
}

// extensionsOf returns the extra extensions members of an *httpError, nil for other errors.
func extensionsOf(err error) map[string]any {
	if he, ok := err.(*httpError); ok {
		return he.extensions
	}
	return nil
}

// appendErrorBody appends {"errors":[{"message":msg,"extensions":{"code":code,...ext}}]}.
func appendErrorBody(b []byte, msg, code string, ext map[string]any) []byte {
	b = append(b, '{')
	b = appendErrorsMember(b, msg, code, ext)
	return append(b, '}')
}

// appendErrorsMember appends "errors":[{"message":msg,"extensions":{"code":code,...ext}}].
func appendErrorsMember(b []byte, msg, code string, ext map[string]any) []byte {
	b = append(b, `"errors":[{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"extensions":{"code":`...)
	b = appendJSONString(b, code)
	b = appendExtensions(b, ext)
	return append(b, `}}]`...)
}
