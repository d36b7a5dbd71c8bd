package main

import (
	"context"
	"time"

	"github.com/neko-defense/neko/telemetry"
)

// serverTracerName names the tracer of the HTTP layer (the instrumented package's import path).
const serverTracerName = "github.com/neko-defense/neko/server"

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
