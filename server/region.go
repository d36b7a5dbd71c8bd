package server

import (
	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Writes live in one region. MongoDB accepts writes only on its primary, which sits next to
// Config.PrimaryRegion, so a mutation that reaches an instance in any other region is not
// executed there: the instance answers at once with a fly-replay header and Fly's proxy replays
// the original request (headers and body) to an instance in the primary region, whose answer is
// the one the client sees. Queries are always served locally.
//
// The flow of one mutation outside the primary region:
//
//	client -> Fly proxy -> instance in gru: prepare (to learn it is a mutation), then
//	          409 + "fly-replay: region=scl", nothing executed, nothing charged beyond arrival
//	       <- Fly proxy replays to scl with "fly-replay-src": executed there
//
// A request that already carries fly-replay-src has been replayed once and is executed wherever it
// lands, so a request can never bounce between regions.

const (
	// headerFlyReplay asks Fly's proxy to replay the request elsewhere ("region=scl").
	headerFlyReplay = "fly-replay"
	// headerFlyReplaySrc is added by Fly's proxy to a replayed request.
	headerFlyReplaySrc = "fly-replay-src"
	// flyReplayLimit is the largest request body Fly's proxy buffers and can replay (1 MiB).
	flyReplayLimit = 1 << 20
)

// replayToPrimary decides whether the mutation in c must be executed in the primary region
// instead of here. It returns ok=false when this instance should execute it (it is in the primary
// region, or Fly already replayed the request); otherwise the result to send, with the
// fly-replay header already set on the response. Clients that are not behind Fly's proxy see the
// result itself: a 409 naming the primary region, or a 413 when the body is too large for the
// proxy to replay.
func (s *Server) replayToPrimary(c *fiber.Ctx) (res result, ok bool) {
	primary := s.cfg.PrimaryRegion
	if primary == s.cfg.Region || len(c.Request().Header.Peek(headerFlyReplaySrc)) > 0 {
		return result{}, false
	}
	span := trace.SpanFromContext(s.requestContext(c))
	if n := len(c.Request().Body()); n > flyReplayLimit { // the bytes Fly replays, as sent
		span.SetAttributes(attribute.Bool("neko.fly_replay.too_large", true))
		err := &httpError{status: fiber.StatusRequestEntityTooLarge, code: codeBadUserInput,
			message: "request body is too large to forward to the primary region " + primary +
				" (limit 1 MiB); send writes to the primary region directly",
			extensions: map[string]any{"primaryRegion": primary, "bodyBytes": n, "limitBytes": flyReplayLimit}}
		return s.refusal(err), true
	}
	c.Set(headerFlyReplay, "region="+primary)
	span.SetAttributes(attribute.String("neko.fly_replay.region", primary))
	err := &httpError{status: fiber.StatusConflict, code: codeBadUserInput,
		message: "mutations are executed in the primary region " + primary + "; this instance runs in " +
			s.cfg.Region + " and asked Fly's proxy to replay the request there (fly-replay)",
		extensions: map[string]any{"primaryRegion": primary, "region": s.cfg.Region}}
	// Inside a batch, Fly replays the whole request because the header is on the response.
	return s.refusal(err), true
}
