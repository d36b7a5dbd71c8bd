package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// health answers liveness: the process is up and serving HTTP. It does no I/O so that a slow
// database never makes an orchestrator kill a healthy process. The body keeps the original's shape.
func (s *Server) health(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{
		"success":   true,
		"status":    "NEKO DEFENSE API operational, nyaa~! ⚡🐾",
		"region":    s.cfg.Region,
		"timestamp": time.Now().UTC().Format(isoMillis),
	}, fiber.MIMEApplicationJSONCharsetUTF8)
}

// ready answers readiness: 503 until the dependencies answer, so a load balancer only routes to
// instances that can serve.
func (s *Server) ready(c *fiber.Ctx) error {
	if !s.Warmed() {
		c.Set(fiber.HeaderRetryAfter, "1")
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": "warming the response cache"})
	}
	if s.deps.Ready != nil {
		if err := s.deps.Ready(s.requestContext(c)); err != nil {
			c.Set(fiber.HeaderRetryAfter, "1")
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"ready": false, "reason": readinessReason(err, s.cfg.Production)})
		}
	}
	return c.JSON(fiber.Map{"ready": true, "region": s.cfg.Region})
}

func readinessReason(err error, production bool) string {
	if production {
		return "dependencies not ready"
	}
	return err.Error()
}

// metrics serves the Prometheus text exposition of this server's own registry.
func (s *Server) metrics(c *fiber.Ctx) error {
	h := adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Metrics.Registry, promhttp.HandlerOpts{}))
	return h(c)
}
