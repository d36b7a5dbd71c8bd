package server

import (
	"errors"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Some requests never reach Fiber's middleware: those fasthttp cannot parse (a malformed request
// line or header, headers beyond the read buffer, a body beyond the limit, a read timeout), which
// Fiber answers with fasthttp's error text, a text that quotes the raw request, Authorization
// and proxy-added headers included; and those with a method Fiber does not know, which its router
// answers "Invalid http method" in text/plain. guardProtocol answers both itself, on the fasthttp
// server under Fiber, with a fixed message in neko's JSON error shape and the security headers,
// never a byte of the request.
func (s *Server) guardProtocol() {
	srv := s.app.Server()
	srv.ErrorHandler = s.protocolError
	next := srv.Handler
	methods := s.app.Config().RequestMethods
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		if !knownMethod(methods, ctx.Method()) {
			s.writeProtocolError(ctx, fiber.StatusNotImplemented, "unknown HTTP method")
			return
		}
		next(ctx)
	}
}

// knownMethod reports whether Fiber's router knows method (one of methods).
func knownMethod(methods []string, method []byte) bool {
	for _, m := range methods {
		if m == string(method) { // compiled without allocating
			return true
		}
	}
	return false
}

// protocolError answers a request fasthttp failed to read. err quotes the request: only its kind
// decides the answer.
func (s *Server) protocolError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	switch {
	case errors.As(err, &small):
		s.writeProtocolError(ctx, fiber.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.writeProtocolError(ctx, fiber.StatusRequestEntityTooLarge, "request body too large")
	case errors.As(err, &netErr) && netErr.Timeout(), strings.Contains(err.Error(), "timeout"):
		s.writeProtocolError(ctx, fiber.StatusRequestTimeout, "request timeout")
	default:
		s.writeProtocolError(ctx, fiber.StatusBadRequest, "malformed HTTP request")
	}
}

// writeProtocolError writes status with {"errors":[{"message":msg,"extensions":{"code":"BAD_USER_INPUT"}}]},
// the security headers and no-store.
func (s *Server) writeProtocolError(ctx *fasthttp.RequestCtx, status int, msg string) {
	resp := &ctx.Response
	resp.Reset()
	resp.SetStatusCode(status)
	h := &resp.Header
	for _, kv := range securityHeaderBytes {
		h.SetBytesKV(kv[0], kv[1])
	}
	if s.cfg.Production {
		h.Set("Content-Security-Policy", productionCSP)
	}
	h.SetContentType(fiber.MIMEApplicationJSONCharsetUTF8)
	h.Set(fiber.HeaderCacheControl, "no-store")
	h.Set("X-Cache", "BYPASS")
	resp.SetBodyRaw(appendErrorBody(nil, msg, codeBadUserInput, nil)) // each is the client's doing
}
