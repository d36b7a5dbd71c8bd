package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func TestNewTracingDisabledIsNoop(t *testing.T) {
	tr, err := NewTracing(context.Background(), TracingConfig{ServiceName: "neko"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Fatal("Enabled() = true without an endpoint")
	}
	_, span := tr.Tracer("test").Start(context.Background(), "op")
	if span.IsRecording() {
		t.Error("span of a disabled tracer is recording")
	}
	if span.SpanContext().IsValid() {
		t.Error("root span of a disabled tracer has a valid span context")
	}
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// With tracing disabled an incoming traceparent still passes through, so logs and downstream
// calls keep the caller's trace id.
func TestDisabledTracingKeepsIncomingTraceContext(t *testing.T) {
	tr, err := NewTracing(context.Background(), TracingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tr.Propagator().Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {traceparent}})
	ctx, span := tr.Tracer("test").Start(ctx, "op")
	defer span.End()
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id = %s, want the incoming one", got)
	}
	out := propagation.HeaderCarrier{}
	tr.Propagator().Inject(ctx, out)
	if out.Get("traceparent") != traceparent {
		t.Errorf("injected traceparent = %q, want %q", out.Get("traceparent"), traceparent)
	}
}

// otlpCollector is a minimal OTLP/HTTP receiver: it decodes every POST to /v1/traces.
type otlpCollector struct {
	t      *testing.T
	mu     sync.Mutex // guards the fields below
	posts  int
	spans  []string          // span names, in arrival order
	attrs  map[string]string // resource attributes of the last export
	header http.Header       // headers of the last export
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		c.t.Errorf("collector got %s %s, want POST /v1/traces", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Errorf("read export: %v", err)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		c.t.Errorf("decode export (content-type %s): %v", r.Header.Get("Content-Type"), err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	c.header = r.Header.Clone()
	for _, rs := range req.GetResourceSpans() {
		c.attrs = map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			c.attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s.GetName())
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func TestNewTracingExportsOverOTLPHTTPOnShutdown(t *testing.T) {
	col := &otlpCollector{t: t}
	srv := httptest.NewServer(col)
	defer srv.Close()

	ctx := context.Background()
	tr, err := NewTracing(ctx, TracingConfig{
		ServiceName: "neko", ServiceVersion: "v1.2.3", Region: "scl", InstanceID: "machine-1",
		Environment: "production", Endpoint: srv.URL, SampleRatio: 1,
		Headers: map[string]string{"x-api-key": "k"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("Enabled() = false with an endpoint")
	}
	tracer := tr.Tracer("github.com/neko-defense/neko/server")
	rctx, root := tracer.Start(ctx, "POST /graphql")
	_, child := tracer.Start(rctx, "graphql.execute")
	child.End()
	root.End()

	col.mu.Lock()
	before := col.posts
	col.mu.Unlock()
	if before != 0 {
		t.Fatalf("%d exports before Shutdown; the batcher should still hold the spans", before)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if col.posts == 0 {
		t.Fatal("no POST /v1/traces after Shutdown")
	}
	if got := strings.Join(col.spans, ","); got != "graphql.execute,POST /graphql" {
		t.Errorf("exported spans = %q", got)
	}
	for k, want := range map[string]string{
		"service.name": "neko", "service.version": "v1.2.3", "cloud.region": "scl",
		"service.instance.id": "machine-1", "deployment.environment.name": "production",
	} {
		if col.attrs[k] != want {
			t.Errorf("resource %s = %q, want %q", k, col.attrs[k], want)
		}
	}
	if col.header.Get("x-api-key") != "k" {
		t.Errorf("export header x-api-key = %q, want k", col.header.Get("x-api-key"))
	}
}

func TestTracingConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		cfg      TracingConfig
		wantURL  string // "" means disabled
		wantErr  string
		wantRate float64
	}{
		{name: "zero value is disabled with defaults", cfg: TracingConfig{}, wantRate: DefaultSampleRatio},
		{name: "base URL gets the traces path", cfg: TracingConfig{Endpoint: "http://collector:4318"}, wantURL: "http://collector:4318/v1/traces", wantRate: 0.1},
		{name: "trailing slash", cfg: TracingConfig{Endpoint: "https://api.example.com/"}, wantURL: "https://api.example.com/v1/traces", wantRate: 0.1},
		{name: "base path is kept", cfg: TracingConfig{Endpoint: "https://gw.example.com/otlp"}, wantURL: "https://gw.example.com/otlp/v1/traces", wantRate: 0.1},
		{name: "full traces URL is used as is", cfg: TracingConfig{Endpoint: "https://gw.example.com/otlp/v1/traces"}, wantURL: "https://gw.example.com/otlp/v1/traces", wantRate: 0.1},
		{name: "bare host defaults to https", cfg: TracingConfig{Endpoint: "collector:4318"}, wantURL: "https://collector:4318/v1/traces", wantRate: 0.1},
		{name: "bare host with Insecure is http", cfg: TracingConfig{Endpoint: "collector:4318", Insecure: true}, wantURL: "http://collector:4318/v1/traces", wantRate: 0.1},
		{name: "explicit ratio", cfg: TracingConfig{Endpoint: "http://c:4318", SampleRatio: 0.5}, wantURL: "http://c:4318/v1/traces", wantRate: 0.5},
		{name: "https with Insecure contradicts", cfg: TracingConfig{Endpoint: "https://c:4318", Insecure: true}, wantErr: "Insecure"},
		{name: "unknown scheme", cfg: TracingConfig{Endpoint: "grpc://c:4317"}, wantErr: "scheme"},
		{name: "no host", cfg: TracingConfig{Endpoint: "http://"}, wantErr: "no host"},
		{name: "query", cfg: TracingConfig{Endpoint: "http://c:4318/?a=b"}, wantErr: "query"},
		{name: "negative ratio", cfg: TracingConfig{SampleRatio: -0.1}, wantErr: "sample ratio"},
		{name: "ratio above one", cfg: TracingConfig{SampleRatio: 1.5}, wantErr: "sample ratio"},
		{name: "NaN ratio", cfg: TracingConfig{SampleRatio: math.NaN()}, wantErr: "sample ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, u, err := tt.cfg.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				if _, nerr := NewTracing(context.Background(), tt.cfg); nerr == nil {
					t.Error("NewTracing accepted a config validate rejects")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if u != nil {
				got = u.String()
			}
			if got != tt.wantURL {
				t.Errorf("export URL = %q, want %q", got, tt.wantURL)
			}
			if cfg.SampleRatio != tt.wantRate {
				t.Errorf("SampleRatio = %v, want %v", cfg.SampleRatio, tt.wantRate)
			}
			if cfg.ServiceName != "neko" {
				t.Errorf("ServiceName = %q, want default neko", cfg.ServiceName)
			}
		})
	}
}

// newTestTracing is an SDK-backed Tracing that records ended spans in memory.
func newTestTracing(t *testing.T, cfg TracingConfig) (*Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	cfg, _, err := cfg.validate()
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tr, err := newSDKTracing(context.Background(), cfg, sdktrace.WithSyncer(exp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// The sampler is parent-based: an incoming sampled traceparent is always recorded and an
// unsampled one never, whatever the ratio for roots.
func TestSamplerFollowsRemoteParent(t *testing.T) {
	tr, exp := newTestTracing(t, TracingConfig{SampleRatio: 1e-9})
	for _, tt := range []struct {
		name  string
		flags string
		want  bool
	}{
		{"sampled parent", "01", true},
		{"unsampled parent", "00", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			h := propagation.HeaderCarrier{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-" + tt.flags}}
			ctx := tr.Propagator().Extract(context.Background(), h)
			_, span := tr.Tracer("test").Start(ctx, "op")
			span.End()
			if got := span.SpanContext().IsSampled(); got != tt.want {
				t.Errorf("sampled = %v, want %v", got, tt.want)
			}
			if got := len(exp.GetSpans()) == 1; got != tt.want {
				t.Errorf("exported = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTraceHandlerAddsTraceIDs(t *testing.T) {
	tr, _ := newTestTracing(t, TracingConfig{SampleRatio: 1})
	ctx, span := tr.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	tests := []struct {
		name      string
		ctx       context.Context
		wantTrace string
		wantSpan  string
	}{
		{"context with a span", ctx, sc.TraceID().String(), sc.SpanID().String()},
		{"context without a span", context.Background(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(NewTraceHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
			logger.InfoContext(tt.ctx, "hello", "n", 1)
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if got, _ := rec[LogKeyTraceID].(string); got != tt.wantTrace {
				t.Errorf("trace_id = %q, want %q", got, tt.wantTrace)
			}
			if got, _ := rec[LogKeySpanID].(string); got != tt.wantSpan {
				t.Errorf("span_id = %q, want %q", got, tt.wantSpan)
			}
			if rec["component"] != "test" || rec["n"] != float64(1) {
				t.Errorf("other attributes lost: %v", rec)
			}
		})
	}
}

func TestNewTraceHandlerDoesNotWrapTwice(t *testing.T) {
	tr, _ := newTestTracing(t, TracingConfig{SampleRatio: 1})
	ctx, span := tr.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	var buf bytes.Buffer
	h := NewTraceHandler(NewTraceHandler(slog.NewTextHandler(&buf, nil)))
	slog.New(h).InfoContext(ctx, "hello")
	if n := strings.Count(buf.String(), LogKeyTraceID+"="); n != 1 {
		t.Errorf("trace_id appears %d times in %q, want once", n, buf.String())
	}
}

func TestTraceAttrs(t *testing.T) {
	if got := TraceAttrs(context.Background()); got != nil {
		t.Errorf("TraceAttrs without a span = %v, want nil", got)
	}
	tr, _ := newTestTracing(t, TracingConfig{SampleRatio: 1})
	ctx, span := tr.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	got := TraceAttrs(ctx)
	want := []slog.Attr{
		slog.String("trace_id", span.SpanContext().TraceID().String()),
		slog.String("span_id", span.SpanContext().SpanID().String()),
	}
	if len(got) != len(want) {
		t.Fatalf("TraceAttrs = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("attr %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseOTLPHeaders(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "empty", in: "  ", want: nil},
		{name: "one", in: "x-honeycomb-team=abc", want: map[string]string{"x-honeycomb-team": "abc"}},
		{name: "several with spaces and escapes", in: "a=1, Authorization=Basic%20eHk%3D", want: map[string]string{"a": "1", "Authorization": "Basic eHk="}},
		{name: "value with equals sign", in: "k=a=b", want: map[string]string{"k": "a=b"}},
		{name: "missing equals", in: "a=1,b", wantErr: true},
		{name: "empty key", in: "=v", wantErr: true},
		{name: "bad escape", in: "a=%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOTLPHeaders(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) || (got == nil) != (tt.want == nil) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// Header values are secrets (the backend's API key): a malformed setting is reported by the
// pair's position or key, never by its value, even when the pair has no "=" at all.
func TestParseOTLPHeadersErrorsHideValues(t *testing.T) {
	for _, in := range []string{"x-honeycomb-team:secretkey123", "a=1,secretkey123", "=secretkey123", "k=secretkey123%zz"} {
		_, err := ParseOTLPHeaders(in)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if strings.Contains(err.Error(), "secretkey123") || strings.Contains(err.Error(), "%zz") {
			t.Errorf("%q: error echoes the value: %v", in, err)
		}
	}
}

// The endpoint may carry credentials: errors never echo it, and credentials in it (which the
// exporter would silently drop) are refused.
func TestValidateEndpointHidesCredentials(t *testing.T) {
	for _, in := range []string{"https://u:secretpw@127.0.0.1:bad", "ftp://u:secretpw@host", "https://u:secretpw@host:4318", "https://u:secretpw@host/?q=1"} {
		err := ValidateEndpoint(in)
		if err == nil {
			t.Fatalf("%q: no error", in)
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("%q: error echoes the password: %v", in, err)
		}
	}
	for _, ok := range []string{"", "https://api.honeycomb.io", "otel-collector:4318", "http://127.0.0.1:4318/otlp"} {
		if err := ValidateEndpoint(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// ExampleNewTracing shows the wiring main does: build once, hand tracers out, flush at exit.
func ExampleNewTracing() {
	ctx := context.Background()
	tr, err := NewTracing(ctx, TracingConfig{
		ServiceName: "neko", ServiceVersion: "dev", Region: "local",
		Endpoint: "", // OTEL_EXPORTER_OTLP_ENDPOINT; empty disables tracing
	})
	if err != nil {
		panic(err)
	}
	defer tr.Shutdown(ctx)

	logger := slog.New(NewTraceHandler(slog.NewJSONHandler(io.Discard, nil)))
	ctx, span := tr.Tracer("github.com/neko-defense/neko/server").Start(ctx, "GET /health",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.route", "/health")))
	logger.InfoContext(ctx, "served")
	span.End()
	// Output:
}

func BenchmarkDisabledSpan(b *testing.B) {
	tr, err := NewTracing(context.Background(), TracingConfig{})
	if err != nil {
		b.Fatal(err)
	}
	tracer := tr.Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tracer.Start(ctx, "op")
		span.End()
	}
}

func BenchmarkTraceHandler(b *testing.B) {
	tr, err := NewTracing(context.Background(), TracingConfig{})
	if err != nil {
		b.Fatal(err)
	}
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tr.Propagator().Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {traceparent}})
	logger := slog.New(NewTraceHandler(slog.NewJSONHandler(io.Discard, nil)))
	b.ReportAllocs()
	for b.Loop() {
		logger.InfoContext(ctx, "hello", "n", 1)
	}
}
