package main

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/telemetry"
)

// serverTracerName names the tracer of the HTTP layer (the instrumented package's import path).
const serverTracerName = "github.com/neko-defense/neko/server"

// loadersTracerName and storeTracerName name the tracers of the dataloaders' batches and of the
// database commands.
const (
	loadersTracerName = "github.com/neko-defense/neko/loaders"
	storeTracerName   = "github.com/neko-defense/neko/store/mongo"
)

// tracingFlushTimeout bounds the final export of buffered spans at exit. fly.toml's kill_timeout
// leaves room for it after NEKO_SHUTDOWN_TIMEOUT.
const tracingFlushTimeout = 5 * time.Second

// startTracing builds the process's tracer provider from the OTEL_* configuration: an OTLP/HTTP
// exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set, a no-op provider otherwise (the server then
// skips its spans and only passes incoming trace ids through). It contacts nothing.
func (a *App) startTracing(ctx context.Context) error {
	t, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{
		ServiceVersion: version,
		Region:         a.cfg.Region,
		InstanceID:     a.cfg.MachineID,
		Environment:    a.cfg.Env,
		Endpoint:       a.cfg.OTLPEndpoint,
		Headers:        a.cfg.OTLPHeaders,
		SampleRatio:    a.cfg.TraceSampleRatio,
	})
	if err != nil {
		return err
	}
	a.tracing = t
	if t.Enabled() {
		a.logger.Info("tracing enabled", "endpoint", maskURI(a.cfg.OTLPEndpoint), "sample_ratio", a.cfg.TraceSampleRatio)
	}
	return nil
}

// stopTracing flushes the spans still buffered. Close calls it after the HTTP server has drained,
// so the last requests' spans are exported too.
func (a *App) stopTracing() error {
	if a.tracing == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	return a.tracing.Shutdown(ctx)
}

// loaderTracer is the tracer of the dataloaders' batch spans, nil with tracing disabled so that
// batches pay nothing for it.
func (a *App) loaderTracer() trace.Tracer {
	if !a.tracing.Enabled() {
		return nil
	}
	return a.tracing.Tracer(loadersTracerName)
}

// storeSpans returns a command monitor that records one client span per database command,
// "mongodb <collection>.<command>", as a child of the span in the operation's context (so a
// resolver's or a loader batch's queries join the request's trace). Handshake, authentication
// and session bookkeeping commands are skipped. It returns nil with tracing disabled.
//
// The driver reports a command's start and its end as separate events carrying the same
// RequestID; the open spans wait in a sync.Map under it until the end arrives.
func storeSpans(t *telemetry.Tracing) *event.CommandMonitor {
	if !t.Enabled() {
		return nil
	}
	tracer := t.Tracer(storeTracerName)
	var open sync.Map // RequestID (int64) -> trace.Span
	finish := func(requestID int64, err error) {
		v, ok := open.LoadAndDelete(requestID)
		if !ok {
			return // a skipped command
		}
		span := v.(trace.Span)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			// Connection management and keep-alives are not work worth a span.
			if mongo.IsHandshake(e.CommandName) || e.CommandName == "ping" || e.CommandName == "endSessions" {
				return
			}
			collection := mongo.CommandCollection(e)
			name := "mongodb " + e.CommandName
			attrs := []attribute.KeyValue{
				attribute.String("db.system.name", "mongodb"),
				attribute.String("db.operation.name", e.CommandName),
				attribute.String("db.namespace", e.DatabaseName),
			}
			if collection != "-" {
				name = "mongodb " + collection + "." + e.CommandName
				attrs = append(attrs, attribute.String("db.collection.name", collection))
			}
			_, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
			open.Store(e.RequestID, span)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { finish(e.RequestID, nil) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { finish(e.RequestID, e.Failure) },
	}
}

// chainMonitors combines command monitors into one that calls each in order; nil ones are
// skipped, and nil is returned when none is left.
func chainMonitors(monitors ...*event.CommandMonitor) *event.CommandMonitor {
	var ms []*event.CommandMonitor
	for _, m := range monitors {
		if m != nil {
			ms = append(ms, m)
		}
	}
	switch len(ms) {
	case 0:
		return nil
	case 1:
		return ms[0]
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			for _, m := range ms {
				if m.Started != nil {
					m.Started(ctx, e)
				}
			}
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			for _, m := range ms {
				if m.Succeeded != nil {
					m.Succeeded(ctx, e)
				}
			}
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			for _, m := range ms {
				if m.Failed != nil {
					m.Failed(ctx, e)
				}
			}
		},
	}
}
