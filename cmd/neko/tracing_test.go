package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/neko-defense/neko/security"
)

// otlpCollector is a fake OTLP/HTTP receiver: it keeps the raw (protobuf) export bodies. Span
// names, attribute keys and string values appear verbatim in protobuf, and ids as raw bytes, so
// the test can look for them without decoding.
type otlpCollector struct {
	mu     sync.Mutex // guards bodies
	bodies [][]byte
}

func (o *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	o.mu.Lock()
	o.bodies = append(o.bodies, b)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func (o *otlpCollector) all() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Join(o.bodies, nil)
}

// TestTracingExportsRequestSpans runs an instance with OTEL_EXPORTER_OTLP_ENDPOINT set and checks
// that a request continuing a caller's trace is exported on Close: the server span named after
// the route, the engine's spans, in the caller's trace, with the resource describing the machine.
func TestTracingExportsRequestSpans(t *testing.T) {
	collector := &otlpCollector{}
	otlp := httptest.NewServer(collector)
	defer otlp.Close()
	// The App starts (and seeds) its own embedded database: the relation query needs hunts.
	app, base := serveApp(t, map[string]string{
		"FLY_REGION": "gru", "FLY_MACHINE_ID": "machine-7e3a", "NEKO_WARM": "false",
		"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_TRACES_SAMPLER_ARG": "1",
	})
	auth, err := security.NewAuthenticator(security.AuthConfig{Secret: []byte(testSecret), AdminUsername: "x", AdminPassword: "y"})
	if err != nil {
		t.Fatal(err)
	}
	analyst, err := auth.Issue(security.Identity{Username: "test-analyst", Role: security.RoleAnalyst})
	if err != nil {
		t.Fatal(err)
	}

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct{ token, query string }{
		{"", `{ __typename }`},
		{analyst, `{ threatActors(limit: 3) { name } }`},                 // cached: cache.lookup, a store span
		{analyst, `{ huntConversations(limit: 5) { target { name } } }`}, // a loader batch
	} {
		body, _ := json.Marshal(map[string]string{"query": tc.query})
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(answer, []byte(`"errors"`)) {
			t.Fatalf("%s: status %d: %s", tc.query, resp.StatusCode, answer)
		}
	}
	if err := app.Close(); err != nil { // flushes the spans
		t.Fatal(err)
	}

	exported := collector.all()
	id, _ := hex.DecodeString(traceID)
	for _, want := range [][]byte{
		[]byte("POST /graphql"), []byte("graphql.prepare"), []byte("graphql.execute"),
		[]byte("http.route"), []byte("http.response.status_code"), []byte("request_id"),
		id, []byte("machine-7e3a"), []byte("gru"),
		[]byte("cache.lookup"), []byte("neko.cache.key_kind"), []byte("neko.cache.status"), []byte("MISS"),
		[]byte("mongodb "), []byte("db.collection.name"), []byte("threat_actors"),
		[]byte("loader.batch"), []byte("actor_by_key"), []byte("neko.loader.keys"),
	} {
		if !bytes.Contains(exported, want) {
			t.Errorf("exported spans (%d bytes) lack %q", len(exported), want)
		}
	}
}

func TestConfigRegionsAndTracing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr bool
		check   func(t *testing.T, c Config)
	}{
		{"primary defaults to the region", map[string]string{"FLY_REGION": "gru"}, false, func(t *testing.T, c Config) {
			if c.PrimaryRegion != "gru" || c.OTLPEndpoint != "" || c.TraceSampleRatio != 0.1 {
				t.Errorf("got primary %q endpoint %q ratio %v", c.PrimaryRegion, c.OTLPEndpoint, c.TraceSampleRatio)
			}
		}},
		{"everything set", map[string]string{
			"FLY_REGION": "gru", "PRIMARY_REGION": "scl", "FLY_MACHINE_ID": "m1",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS": "x-key=a%20b,x-team=t",
			"OTEL_TRACES_SAMPLER_ARG": "0.5",
		}, false, func(t *testing.T, c Config) {
			if c.PrimaryRegion != "scl" || c.MachineID != "m1" || c.TraceSampleRatio != 0.5 ||
				c.OTLPHeaders["x-key"] != "a b" || c.OTLPHeaders["x-team"] != "t" {
				t.Errorf("got %+v", c)
			}
			if s := fmt.Sprint(slog.AnyValue(c).Resolve()); strings.Contains(s, "a b") {
				t.Errorf("OTLP headers leak into the config log: %s", s)
			}
		}},
		{"ratio above 1", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "2"}, true, nil},
		{"ratio not a number", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "all"}, true, nil},
		{"malformed headers", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestTracingGroupsWarmPasses: with warming on, each pass of the warmer is one trace, a root
// "cache.warm" span over its lookups, instead of a root trace per lookup.
func TestTracingGroupsWarmPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second server and warms it")
	}
	collector := &otlpCollector{}
	otlp := httptest.NewServer(collector)
	defer otlp.Close()
	app, base := serveApp(t, map[string]string{
		"NEKO_WARM": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_TRACES_SAMPLER_ARG": "1",
	})
	waitReadyAt(t, base)                // the first pass is done
	if err := app.Close(); err != nil { // flushes the spans
		t.Fatal(err)
	}
	exported := collector.all()
	for _, want := range [][]byte{[]byte("cache.warm"), []byte("neko.warm.lookups"), []byte("cache.lookup"), []byte("mongodb ")} {
		if !bytes.Contains(exported, want) {
			t.Errorf("exported spans (%d bytes) lack %q", len(exported), want)
		}
	}
}
