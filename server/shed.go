package server

import (
	"github.com/gofiber/fiber/v2"
)

// shedBody is the answer to a shed request, prebuilt so that refusing under overload costs no
// allocation: the same GraphQL-shaped error body every other failure uses.
var shedBody = appendErrorBody(nil, "the server is overloaded; try again shortly", codeServiceUnavailable, nil)

// shed is the load-shedding middleware: past Deps.Shedder's cap of requests in flight a request is
// refused at once with 503 SERVICE_UNAVAILABLE and Retry-After: 1, before its body is parsed or
// any other work is done, so that an overloaded instance keeps answering the requests it admitted
// quickly instead of making every request slow. Liveness (/health) and /metrics are never shed:
// an orchestrator must not restart, and an operator must still see, an instance that is merely
// busy. Without a Shedder every request is admitted.
func (s *Server) shed(c *fiber.Ctx) error {
	if s.deps.Shedder == nil {
		return c.Next()
	}
	switch c.Path() {
	case "/health", "/metrics":
		return c.Next()
	}
	release, ok := s.deps.Shedder.Acquire()
	if !ok {
		c.Set(fiber.HeaderRetryAfter, "1")
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Status(fiber.StatusServiceUnavailable).Send(shedBody)
	}
	defer release()
	return c.Next()
}
