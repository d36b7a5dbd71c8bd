package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/neko-defense/neko/security"
)

// Keys of values this package stores in fiber.Ctx.Locals for the duration of one request.
type localKey int

const (
	localContext localKey = iota // context.Context with deadline and identity
	localRequestID
	localClientIP // the caller's address, parsed once (clientIP)
)

const maxRequestIDLen = 64

// requestID takes a well-formed incoming X-Request-Id (so a trace can cross a proxy) or makes one,
// and echoes it on the response.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		// Request ids only need to be unique, not secret: the runtime's per-thread generator is
		// far cheaper than crypto/rand on the hot path.
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
		binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
		id = hex.EncodeToString(b[:12])
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
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
			s.deps.Logger.Error("panic in handler", "request_id", c.Locals(localRequestID),
				"path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

// observe records neko_http_requests_total and neko_http_request_duration_seconds by route
// pattern (never the raw path, which would let clients create unbounded label values).
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		// Let the error handler write the response now so that the status we record is final.
		if herr := s.handleError(c, err); herr != nil {
			s.deps.Logger.Error("write error response", "err", herr)
		}
		err = nil
	}
	route := c.Route().Path
	if c.Response().StatusCode() == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	s.routeMetrics(route, c.Response().StatusCode()).observe(time.Since(start))
	return err
}

// commonHeaders sets the headers every response carries.
func (s *Server) commonHeaders(c *fiber.Ctx) error {
	c.Set("X-Neko-Region", s.cfg.Region)
	return c.Next()
}

// authenticate verifies the credentials of the request, when it sends any (a JWT or an API key in
// Authorization, or an API key in X-API-Key), and builds the request's context: a deadline of
// RequestTimeout, the client address (for login throttling and the audit log) and the caller's
// identity. No credentials mean an anonymous caller (public fields still work); bad credentials
// fail the request with 401 rather than silently downgrading the caller.
func (s *Server) authenticate(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(traceContext(c), s.cfg.RequestTimeout) // traceContext: tracing.go
	defer cancel()
	ctx = security.WithClientAddr(ctx, s.clientIP(c))
	id, presented, err := s.deps.Auth.Authenticate(c.Get(fiber.HeaderAuthorization), c.Get("X-API-Key"))
	if err != nil {
		return err
	}
	if presented {
		ctx = security.NewContext(ctx, id)
	}
	c.Locals(localContext, ctx)
	return c.Next()
}

// requestContext returns the context built by authenticate.
func requestContext(c *fiber.Ctx) context.Context {
	if ctx, ok := c.Locals(localContext).(context.Context); ok {
		return ctx
	}
	return context.Background()
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
		s.deps.Logger.ErrorContext(requestContext(c), "request failed", "request_id", c.Locals(localRequestID), "path", c.Path(), "err", err)
	}
	if status == fiber.StatusServiceUnavailable || status == fiber.StatusTooManyRequests && len(c.Response().Header.Peek(fiber.HeaderRetryAfter)) == 0 {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	var ext map[string]any
	if he, ok := err.(*httpError); ok {
		ext = he.extensions
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(appendErrorBody(nil, msg, code, ext))
}

// appendErrorBody appends {"errors":[{"message":msg,"extensions":{"code":code,...ext}}]}.
func appendErrorBody(b []byte, msg, code string, ext map[string]any) []byte {
	b = append(b, `{"errors":[{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"extensions":{"code":`...)
	b = appendJSONString(b, code)
	b = appendExtensions(b, ext)
	return append(b, `}}]}`...)
}
