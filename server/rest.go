package server

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// CompatAPI computes the bodies of the REST compatibility endpoints from the database. Each
// method returns the whole JSON body in the original's shape; the server only routes and writes.
type CompatAPI interface {
	Stats(ctx context.Context) (any, error)
	ThreatCounts(ctx context.Context) (any, error)
	ThreatActors(ctx context.Context, category string) (any, error)
	MongoDBStats(ctx context.Context) (any, error)
	AsciiArt(ctx context.Context) (any, error)
	DinaStats(ctx context.Context) (any, error)
	DinaPerpetrators(ctx context.Context) (any, error)
	DinaAllAgents(ctx context.Context, page, limit int, filter string) (any, error)
}

// maxCategoryLen bounds the ?category= value; real categories are a dozen characters.
const maxCategoryLen = 64

func (s *Server) restRoutes(api fiber.Router) {
	api.Get("/stats", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.Stats(ctx) }))
	api.Get("/threat-counts", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.ThreatCounts(ctx) }))
	api.Get("/threat-actors", s.rest(func(ctx context.Context, c *fiber.Ctx) (any, error) {
		cat := c.Query("category", "all")
		if len(cat) > maxCategoryLen {
			return nil, badRequest("category is too long")
		}
		return s.deps.REST.ThreatActors(ctx, cat)
	}))
	api.Get("/mongodb-stats", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.MongoDBStats(ctx) }))
	api.Get("/ascii-art", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.AsciiArt(ctx) }))
	api.Get("/dina/stats", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.DinaStats(ctx) }))
	api.Get("/dina/perpetrators", s.rest(func(ctx context.Context, _ *fiber.Ctx) (any, error) { return s.deps.REST.DinaPerpetrators(ctx) }))
	api.Get("/dina/all-agents", s.rest(func(ctx context.Context, c *fiber.Ctx) (any, error) {
		page, err := positiveQueryInt(c, "page", 1)
		if err != nil {
			return nil, err
		}
		limit, err := positiveQueryInt(c, "limit", 50)
		if err != nil {
			return nil, err
		}
		filter := c.Query("filter")
		if len(filter) > maxCategoryLen {
			return nil, badRequest("filter is too long")
		}
		return s.deps.REST.DinaAllAgents(ctx, page, limit, filter)
	}))
}

// rest adapts a body-producing function into a handler that writes JSON.
func (s *Server) rest(fn func(ctx context.Context, c *fiber.Ctx) (any, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		body, err := fn(requestContext(c), c)
		if err != nil {
			return err
		}
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(b)
	}
}

// positiveQueryInt parses an optional positive integer URL parameter.
func positiveQueryInt(c *fiber.Ctx, name string, def int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest(name + " must be a positive integer")
	}
	return n, nil
}
