package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// securityHeaders are helmet's defaults as the original served them (reference §4.5), with
// Cross-Origin-Embedder-Policy left out as the original configured. They are a fixed list, set
// from precomputed strings on every response: Fiber's helmet middleware differs from helmet
// (it cannot drop COEP and only sends HSTS over TLS, which behind Fly's proxy is never).
var securityHeaders = [][2]string{
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Origin-Agent-Cluster", "?1"},
	{"Referrer-Policy", "no-referrer"},
	{"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-DNS-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Frame-Options", "SAMEORIGIN"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	{"X-XSS-Protection", "0"},
}

// securityHeaderBytes is securityHeaders as byte slices, built once.
var securityHeaderBytes = func() [][2][]byte {
	out := make([][2][]byte, len(securityHeaders))
	for i, kv := range securityHeaders {
		out[i] = [2][]byte{[]byte(kv[0]), []byte(kv[1])}
	}
	return out
}()

// productionCSP is helmet's default Content-Security-Policy, sent in production only (as the
// original did): development keeps GraphiQL-style tools working.
const productionCSP = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';" +
	"frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';" +
	"style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	for _, kv := range securityHeaderBytes {
		h.AddBytesKV(kv[0], kv[1]) // set only here: no need to search for an earlier value (addHeader)
	}
	if s.cfg.Production {
		h.Set("Content-Security-Policy", productionCSP)
	}
	return c.Next()
}

// corsMiddleware allows the configured origins (CORS_ORIGIN, comma-separated) with credentials,
// answering preflights with 204. A disallowed origin gets no Access-Control-Allow-Origin and the
// browser refuses to hand it the response.
func (s *Server) corsMiddleware() fiber.Handler {
	origins := make([]string, 0, len(s.cfg.CORSOrigins))
	for _, o := range s.cfg.CORSOrigins {
		if o = strings.TrimSpace(o); o != "" && o != "*" { // "*" with credentials is refused by browsers and by us
			origins = append(origins, o)
		}
	}
	return cors.New(cors.Config{
		AllowOrigins:     strings.Join(origins, ","),
		AllowCredentials: true,
		AllowMethods:     "GET,POST,OPTIONS",
		AllowHeaders:     "Content-Type,Authorization,X-API-Key,Apollo-Require-Preflight,X-Apollo-Operation-Name,If-None-Match,X-Request-Id",
		ExposeHeaders:    "X-Cache,ETag,Cache-Control,RateLimit-Limit,RateLimit-Remaining,RateLimit-Reset,Retry-After,X-Request-Id,X-Neko-Region,X-Neko-Threat-Score,X-Neko-Defense",
		MaxAge:           600,
	})
}

// requirePreflight implements Apollo Server's CSRF prevention for GraphQL: a request a browser
// could send cross-site without a preflight (a GET, or a POST with a "simple" content type) must
// carry a header that forces one: a non-simple Content-Type, X-Apollo-Operation-Name or
// Apollo-Require-Preflight. Our POSTs must be application/json (non-simple) anyway, so in
// practice this guards GET.
func requirePreflight(c *fiber.Ctx) error {
	if !readOnly(c) || c.Get("Apollo-Require-Preflight") != "" || c.Get("X-Apollo-Operation-Name") != "" {
		return nil
	}
	ct, _, _ := strings.Cut(c.Get(fiber.HeaderContentType), ";")
	switch strings.ToLower(strings.TrimSpace(ct)) {
	case "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return badRequest("this GET request could be a cross-site request forgery: add an Apollo-Require-Preflight: true " +
			"(or X-Apollo-Operation-Name, or Content-Type: application/json) header")
	}
	return nil
}
