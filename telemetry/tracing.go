package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultSampleRatio is the share of new (root) traces recorded when TracingConfig.SampleRatio
// is zero. Requests that arrive with a sampled traceparent are always recorded (parent-based).
const DefaultSampleRatio = 0.1

// tracesPath is the OTLP/HTTP path for spans, appended to a base endpoint as the OTLP exporter
// specification does for OTEL_EXPORTER_OTLP_ENDPOINT.
const tracesPath = "/v1/traces"

// TracingConfig configures NewTracing. The zero value is valid and means tracing is disabled.
type TracingConfig struct {
	// ServiceName is the resource's service.name. Default "neko".
	ServiceName string
	// ServiceVersion is the resource's service.version (the build's main.version). Optional.
	ServiceVersion string
	// Region is the resource's cloud.region (FLY_REGION). Optional.
	Region string
	// InstanceID is the resource's service.instance.id (FLY_MACHINE_ID on Fly). Optional.
	InstanceID string
	// Environment is the resource's deployment.environment.name (NEKO_ENV). Optional.
	Environment string

	// Endpoint is the OTLP/HTTP collector (OTEL_EXPORTER_OTLP_ENDPOINT), either a URL such as
	// "https://api.honeycomb.io" or "http://otel-collector.internal:4318", or a bare
	// "host:port". It is a base URL: "/v1/traces" is appended to its path unless the path
	// already ends with it. Empty disables tracing: Tracer returns a no-op tracer whose spans
	// are neither recorded nor exported.
	Endpoint string
	// Insecure sends spans over plain HTTP to a bare host:port Endpoint. A URL's scheme decides
	// by itself (http:// is plain); Insecure with an https:// URL is a contradiction and an error.
	Insecure bool
	// Headers are sent with every export, typically the backend's API key
	// (OTEL_EXPORTER_OTLP_HEADERS, see ParseOTLPHeaders). Treat them as secrets.
	Headers map[string]string
	// SampleRatio is the share of root traces recorded, in (0, 1]. Default DefaultSampleRatio.
	// The sampler is parent-based: a span whose parent (local, or remote via traceparent) is
	// sampled is sampled, one whose parent is not is not; the ratio only decides for roots.
	SampleRatio float64
}

// Tracing owns the process's tracer provider. Build one with NewTracing, pass it (or tracers
// from it) to whatever creates spans, and call Shutdown once at exit to flush buffered spans.
//
// A request's trace flows like this: the server extracts the caller's W3C traceparent and
// baggage with Propagator, starts a server span from a Tracer, and passes the span's context down
// through the engine, cache, resilience and store calls, which start child spans from their own
// Tracer. Sampled spans are batched in memory by the SDK's batch span processor (a full queue
// drops spans rather than blocking a request) and POSTed as OTLP/HTTP protobuf to
// Endpoint/v1/traces by a goroutine the SDK owns; Shutdown flushes the batch and stops it. Log
// records written with a span's context carry its trace_id and span_id through
// NewTraceHandler, so a log line leads to its trace.
//
// Nothing here is global: NewTracing never calls otel.SetTracerProvider or
// otel.SetTextMapPropagator. Callers hand the *Tracing (or a trace.Tracer from it) to the
// components that create spans, exactly as they hand over *Metrics.
type Tracing struct {
	provider   trace.TracerProvider
	sdk        *sdktrace.TracerProvider // nil when tracing is disabled
	propagator propagation.TextMapPropagator
}

// NewTracing validates cfg and builds the tracer provider: with an Endpoint, an SDK provider
// exporting through OTLP/HTTP with a batch span processor, a parent-based ratio sampler and a
// resource describing this process; without one, a no-op provider. It does not contact the
// collector: an unreachable collector shows up as export errors later, never as a start failure.
//
// The OTLP exporter also reads the standard OTEL_EXPORTER_OTLP_* environment variables for
// settings cfg leaves unset (timeout, compression, certificates, headers); cfg always wins.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	cfg, target, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if target == nil {
		return &Tracing{provider: noop.NewTracerProvider(), propagator: newPropagator()}, nil
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(target.Host),
		otlptracehttp.WithURLPath(target.Path),
	}
	if target.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: create OTLP exporter: %w", err)
	}
	t, err := newSDKTracing(ctx, cfg, sdktrace.WithBatcher(exp))
	if err != nil {
		return nil, errors.Join(err, exp.Shutdown(ctx))
	}
	return t, nil
}

// newSDKTracing builds an SDK-backed Tracing for a validated cfg around the given span
// processor option; tests use it with an in-memory exporter.
func newSDKTracing(ctx context.Context, cfg TracingConfig, processor sdktrace.TracerProviderOption) (*Tracing, error) {
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		processor,
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Tracing{provider: tp, sdk: tp, propagator: newPropagator()}, nil
}

// validate applies the documented defaults and checks every field once, so that a bad setting
// fails at start. It returns the parsed export URL, or nil when tracing is disabled.
func (cfg TracingConfig) validate() (TracingConfig, *url.URL, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "neko"
	}
	if cfg.SampleRatio == 0 {
		cfg.SampleRatio = DefaultSampleRatio
	}
	var errs []error
	if math.IsNaN(cfg.SampleRatio) || cfg.SampleRatio <= 0 || cfg.SampleRatio > 1 {
		errs = append(errs, fmt.Errorf("tracing: sample ratio %v must be in (0, 1]", cfg.SampleRatio))
	}
	target, err := exportURL(cfg.Endpoint, cfg.Insecure)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return cfg, nil, errors.Join(errs...)
	}
	return cfg, target, nil
}

// exportURL turns the configured endpoint into the full OTLP/HTTP traces URL; nil for "".
func exportURL(endpoint string, insecure bool) (*url.URL, error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return nil, nil
	}
	if !strings.Contains(endpoint, "://") {
		scheme := "https"
		if insecure {
			scheme = "http"
		}
		endpoint = scheme + "://" + endpoint
	}
	// The messages never echo the endpoint: it may carry credentials.
	u, err := url.Parse(endpoint)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL
		}
		return nil, fmt.Errorf("tracing: endpoint is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("tracing: endpoint scheme must be http or https")
	case u.Host == "":
		return nil, errors.New("tracing: endpoint has no host")
	case u.User != nil:
		// The exporter sends no userinfo: credentials here would be silently dropped.
		return nil, errors.New("tracing: endpoint must not carry credentials (user:password@); send them in OTEL_EXPORTER_OTLP_HEADERS")
	case u.Scheme == "https" && insecure:
		return nil, errors.New("tracing: endpoint is https but Insecure is set")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("tracing: endpoint must not carry a query or fragment")
	}
	if !strings.HasSuffix(u.Path, tracesPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + tracesPath
	}
	return u, nil
}

// newResource describes this process to the tracing backend. It deliberately does not merge
// resource.Default(), which would read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from the
// environment behind main's back.
func newResource(ctx context.Context, cfg TracingConfig) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(cfg.ServiceVersion))
	}
	if cfg.Region != "" {
		attrs = append(attrs, semconv.CloudRegion(cfg.Region))
	}
	if cfg.InstanceID != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(cfg.InstanceID))
	}
	if cfg.Environment != "" {
		attrs = append(attrs, semconv.DeploymentEnvironmentNameKey.String(cfg.Environment))
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(attrs...),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: build resource: %w", err)
	}
	return res, nil
}

// newPropagator is W3C trace context plus W3C baggage, the formats Fly's proxy and every
// OpenTelemetry client speak.
func newPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Tracer returns the named tracer (by convention the import path of the instrumented package,
// e.g. "github.com/neko-defense/neko/server"). With tracing disabled it is a no-op tracer: Start
// records nothing, exports nothing, and only carries an incoming span context along (at most one
// context allocation; see BenchmarkDisabledSpan).
func (t *Tracing) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return t.provider.Tracer(name, opts...)
}

// Provider returns the tracer provider itself, for libraries that take one as an option
// (instrumentation for the Mongo driver or go-redis, say). It is never registered globally.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Propagator returns the W3C trace-context + baggage propagator. The server uses it to Extract
// the caller's traceparent from request headers (even with tracing disabled, so that ids pass
// through) and to Inject into outgoing calls.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// Enabled reports whether spans are recorded and exported (an Endpoint was configured).
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Shutdown exports every span still buffered and stops the exporter, within ctx's deadline.
// Spans started afterwards are dropped. Call it once, after the HTTP server has drained, so the
// last requests' spans are flushed. With tracing disabled it does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ValidateEndpoint reports whether endpoint is usable as TracingConfig.Endpoint (with Insecure
// unset), without echoing it: it may carry credentials.
func ValidateEndpoint(endpoint string) error {
	_, err := exportURL(endpoint, false)
	return err
}

// ParseOTLPHeaders parses the OTEL_EXPORTER_OTLP_HEADERS format: comma-separated key=value
// pairs whose values are URL-encoded ("x-honeycomb-team=abc,x-tenant=a%20b"). Empty input gives
// a nil map.
func ParseOTLPHeaders(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	headers := map[string]string{}
	n := 0
	for pair := range strings.SplitSeq(s, ",") {
		n++
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		// The messages name the pair by position and key only: a value is a secret, and so may
		// be a pair without "=" (an API key written "header:key").
		if !ok || k == "" {
			return nil, fmt.Errorf("tracing: header %d of %d is not key=value", n, strings.Count(s, ",")+1)
		}
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("tracing: header %q: value is not valid percent-encoding", k)
		}
		headers[k] = value
	}
	return headers, nil
}

// Log attribute keys that link a log record to its trace.
const (
	LogKeyTraceID = "trace_id"
	LogKeySpanID  = "span_id"
)

// TraceAttrs returns trace_id and span_id for the span in ctx, or nil when ctx has no valid span
// context (no span, or a no-op span with no incoming traceparent).
func TraceAttrs(ctx context.Context) []slog.Attr {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []slog.Attr{
		slog.String(LogKeyTraceID, sc.TraceID().String()),
		slog.String(LogKeySpanID, sc.SpanID().String()),
	}
}

// NewTraceHandler wraps h so that every record logged with a context holding a valid span
// (logger.InfoContext(ctx, ...)) carries trace_id and span_id. Records without one pass through
// untouched. The attributes are added to the record, so under logger.WithGroup they land inside
// the group, like any other record attribute.
func NewTraceHandler(h slog.Handler) slog.Handler {
	if th, ok := h.(traceHandler); ok {
		return th // already wrapped: never add the ids twice
	}
	return traceHandler{next: h}
}

// traceHandler is the slog.Handler built by NewTraceHandler.
type traceHandler struct{ next slog.Handler }

func (h traceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := TraceAttrs(ctx); attrs != nil {
		r = r.Clone() // the caller may still hold r; never grow its shared attribute slice
		r.AddAttrs(attrs...)
	}
	return h.next.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{next: h.next.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{next: h.next.WithGroup(name)}
}
