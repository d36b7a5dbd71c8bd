package server

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/neko-defense/neko/cache"
)

// Tracing in the server. The trace middleware reads the caller's W3C traceparent and baggage
// (Deps.Propagator), starts the request's server span (Deps.Tracer) and keeps the resulting
// context in Locals; the request context is built on top of it (requestContext), so
// the server's own spans (graphql.prepare, cache.lookup, graphql.execute), those started below them
// (loader batches, database commands) and every log record written with the
// request context belong to the request's trace. With tracing disabled the tracer is a no-op:
// requests without a traceparent skip the middleware entirely, and those with one only carry
// its ids through to the logs.

// headerTraceparent is the W3C trace-context header.
const headerTraceparent = "traceparent"

// headerCarrier adapts a request's fasthttp headers to propagation.TextMapCarrier. Get copies
// the value: a span context outlives the request, whose header buffers fasthttp reuses.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return string(h.c.Request().Header.Peek(key)) }

func (h headerCarrier) Set(key, value string) { h.c.Request().Header.Set(key, value) }

func (h headerCarrier) Keys() []string {
	var keys []string
	h.c.Request().Header.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}

// recording reports whether spans started by this server can be recorded: a tracer is
// configured and it is not the no-op one.
func (s *Server) recording() bool {
	if s.deps.Tracer == nil || s.deps.Propagator == nil {
		return false
	}
	_, isNoop := s.deps.Tracer.(noop.Tracer)
	return !isNoop
}

// trace starts the server span "{METHOD} {route}" for the request, as a child of the caller's
// traceparent when there is one, and ends it with the final status code.
func (s *Server) trace(c *fiber.Ctx) error {
	if s.deps.Tracer == nil || s.deps.Propagator == nil {
		return c.Next()
	}
	if !s.recording() && len(c.Request().Header.Peek(headerTraceparent)) == 0 {
		return c.Next() // nothing to record and no ids to pass through
	}
	ctx := s.deps.Propagator.Extract(context.Background(), headerCarrier{c})
	method := c.Method()
	ctx, span := s.deps.Tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	state(c).traceCtx = ctx
	err := c.Next()
	if !span.IsRecording() {
		return err
	}
	route := routeLabel(c)
	status := c.Response().StatusCode()
	span.SetName(method + " " + route)
	span.SetAttributes(
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status),
	)
	if id := state(c).id; id != "" {
		span.SetAttributes(attribute.String("request_id", id))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	return err
}

// startSpan starts an internal span under ctx's span. It costs nothing when tracing is off.
func (s *Server) startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	if !s.recording() {
		return ctx, noop.Span{}
	}
	return s.deps.Tracer.Start(ctx, name)
}

// Values of the cache.lookup span's neko.cache.key_kind attribute.
const (
	cacheKindGraphQL = "graphql"
	cacheKindREST    = "rest"
)

// startCacheSpan starts the "cache.lookup" span around one response-cache Do; the fill (and so
// graphql.execute and the store's spans on a miss) runs under it. endCacheSpan ends it.
func (s *Server) startCacheSpan(ctx context.Context, kind string) (context.Context, trace.Span) {
	if !s.recording() {
		return ctx, noop.Span{}
	}
	return s.deps.Tracer.Start(ctx, "cache.lookup", trace.WithAttributes(attribute.String("neko.cache.key_kind", kind)))
}

// endCacheSpan records the lookup's outcome (the X-Cache value) and any error, then ends span.
func endCacheSpan(span trace.Span, status cache.Status, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("neko.cache.status", status.String()))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
