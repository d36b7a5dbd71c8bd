package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// countingLibrary is the library engine with every bound resolver counting
// its calls, so that tests can prove a rejected request ran none.
func countingLibrary(t testing.TB, mutate func(*Config)) (*Engine, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	cfg := libraryConfig(t, nil)
	for _, fields := range cfg.Resolvers {
		for name, f := range fields {
			next := f.Resolve
			f.Resolve = func(ctx context.Context, p ResolveParams) (any, error) {
				calls.Add(1)
				return next(ctx, p)
			}
			fields[name] = f
		}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, &calls
}

// nested returns open, then n times "{ "+step, then the closing braces.
func nested(prefix, step, leaf string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for range n {
		b.WriteString(" { ")
		b.WriteString(step)
	}
	b.WriteString(" { " + leaf + " }")
	b.WriteString(strings.Repeat(" }", n))
	return b.String()
}

func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: slowA ", i)
	}
	b.WriteString("}")
	return b.String()
}

func fanOut(levels, width int) string {
	var b strings.Builder
	b.WriteString(`{ book(id: "b1") { ...F0 } }`)
	for i := range levels {
		fmt.Fprintf(&b, "\nfragment F%d on Book {", i)
		for range width {
			fmt.Fprintf(&b, " ...F%d", i+1)
		}
		b.WriteString(" }")
	}
	fmt.Fprintf(&b, "\nfragment F%d on Book { title }", levels)
	return b.String()
}

func TestHostileRequests(t *testing.T) {
	unbounded := func(c *Config) { c.MaxTokens, c.MaxDocumentBytes = -1, -1 }
	hugeList := make([]any, 100_000)
	for i := range hugeList {
		hugeList[i] = i
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		req    Request
		code   string
		ext    map[string]any // extensions beyond the code that must match
	}{
		{
			name: "depth bomb",
			req:  Request{Query: nested(`{ book(id: "b1")`, "author { books", "id", 25) + strings.Repeat(" }", 26)},
			code: CodeTooDeep,
			ext:  map[string]any{"depth": 51, "maxDepth": 12},
		},
		{
			name: "alias bomb stopped by the token limit",
			req:  Request{Query: aliasBomb(5000)},
			code: CodeTooComplex,
			ext:  map[string]any{"maxTokens": 10000},
		},
		{
			name:   "alias bomb stopped before validation",
			mutate: unbounded,
			req:    Request{Query: aliasBomb(5000)},
			code:   CodeTooComplex,
			ext:    map[string]any{"aliases": 5000, "maxAliases": 30},
		},
		{
			name:   "same-key bomb stopped before validation",
			mutate: unbounded,
			req:    Request{Query: "{ book(id: \"b1\") { " + strings.Repeat("title ", 5000) + "} }"},
			code:   CodeTooComplex,
			ext:    map[string]any{"fields": 5001, "maxFields": 1000},
		},
		{
			name: "too many root fields",
			req:  Request{Query: "{ " + strings.Repeat("slowA ", 21) + "}"},
			code: CodeTooComplex,
			ext:  map[string]any{"rootFields": 21, "maxRootFields": 20},
		},
		{
			name: "fragment cycle",
			req:  Request{Query: `{ book(id: "b1") { ...A } } fragment A on Book { author { books { ...B } } } fragment B on Book { ...A }`},
			code: CodeValidationFailed,
		},
		{
			name: "fragment self-spread",
			req:  Request{Query: `{ book(id: "b1") { ...A } } fragment A on Book { title ...A }`},
			code: CodeValidationFailed,
		},
		{
			name: "fragment fan-out",
			req:  Request{Query: fanOut(8, 10)},
			code: CodeTooComplex,
			ext:  map[string]any{"fields": 100_000_001, "maxFields": 1000},
		},
		{
			name: "fragment fan-out over 40 levels saturates",
			req:  Request{Query: fanOut(40, 10)},
			code: CodeTooComplex,
			ext:  map[string]any{"fields": measureCap, "maxFields": 1000},
		},
		{
			name: "huge variable list",
			req:  Request{Query: `query ($l: [Int]) { echoArgs(l: $l) }`, Variables: map[string]any{"l": hugeList}},
			code: CodeBadUserInput,
		},
		{
			name: "nested introspection",
			req:  Request{Query: nested(`{ __schema { types { fields { type`, "ofType", "name", 20) + " } } } }"},
			code: CodeTooDeep,
			ext:  map[string]any{"depth": 24, "maxDepth": 12},
		},
		{
			name: "repeated directive",
			req:  Request{Query: `{ book(id: "b1") { title @skip(if: false) @skip(if: false) } }`},
			code: CodeValidationFailed,
		},
		{
			name: "100 KB string argument",
			req:  Request{Query: `{ echo(input: {text: "` + strings.Repeat("x", 100<<10) + `"}) }`},
			code: CodeTooComplex,
			ext:  map[string]any{"maxBytes": 64 << 10},
		},
		{
			name: "invalid UTF-8 outside strings",
			req:  Request{Query: "{ bo\xffok }"},
			code: CodeParseFailed,
		},
		{
			name: "invalid UTF-8 in a string literal",
			req:  Request{Query: "{ book(id: \"\xff\xfe\") { id } }"},
			code: CodeParseFailed,
		},
		{
			name: "invalid UTF-8 in a comment",
			req:  Request{Query: "{ book(id: \"b1\") { id } } # \xc3"},
			code: CodeParseFailed,
		},
		{
			name: "invalid UTF-8 name start",
			req:  Request{Query: "{ \xfe\xff }"},
			code: CodeParseFailed,
		},
		{
			name: "50,000 tokens",
			req:  Request{Query: `{ echoArgs(l: [` + strings.Repeat("[]", 25_000) + `]) }`},
			code: CodeTooComplex,
			ext:  map[string]any{"tokens": 50_009, "maxTokens": 10000},
		},
		{
			name: "cost over the limit",
			req:  Request{Query: `{ books { author { books { author { books { author { books { id } } } } } } } }`},
			code: CodeTooComplex,
			ext:  map[string]any{"cost": 12220, "maxCost": 5000},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, calls := countingLibrary(t, tc.mutate)
			resp := e.Do(context.Background(), tc.req)
			if resp.Data != nil {
				t.Errorf("data = %s, want none", resp.Data)
			}
			if len(resp.Errors) == 0 {
				t.Fatal("no error")
			}
			got := resp.Errors[0]
			if got.Code() != tc.code {
				t.Fatalf("code = %q (%s), want %q", got.Code(), got.Message, tc.code)
			}
			for k, want := range tc.ext {
				if got.Extensions[k] != want {
					t.Errorf("extensions[%q] = %v, want %v (%v)", k, got.Extensions[k], want, got.Extensions)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("%d resolver calls, want none", n)
			}
			if !json.Valid(resp.AppendJSON(nil)) {
				t.Error("response is not valid JSON")
			}
		})
	}
}

func TestLargeStringVariableIsAccepted(t *testing.T) {
	// Variables are not part of the document: the application caps strings.
	e, calls := countingLibrary(t, func(c *Config) { c.MaxDocumentBytes = 60 << 10 })
	text := strings.Repeat("y", 100<<10)
	resp := e.Do(context.Background(), Request{
		Query:     `query ($t: String!) { echo(input: {text: $t, times: 1}) }`,
		Variables: map[string]any{"t": text},
	})
	if len(resp.Errors) > 0 {
		t.Fatal(resp.Errors)
	}
	if calls.Load() != 1 || len(resp.Data) < 100<<10 {
		t.Errorf("calls = %d, data %d bytes", calls.Load(), len(resp.Data))
	}
}

func TestListInputLimits(t *testing.T) {
	list := func(n int) []any { return make([]any, n) }
	tests := []struct {
		name string
		vars map[string]any
		ok   bool
	}{
		{name: "at the per-list limit", vars: map[string]any{"l": list(1000)}, ok: true},
		{name: "over the per-list limit", vars: map[string]any{"l": list(1001)}},
		{name: "nested lists over the total", vars: map[string]any{"m": []any{list(1000), list(1000), list(1000), list(1000), list(1000), list(1000), list(1000), list(1000), list(1000), list(1000)}}},
		{name: "nested lists within the total", vars: map[string]any{"m": []any{list(1000), list(1000)}}, ok: true},
	}
	e, err := New(Config{
		Schema:    mustSchema(t, `type Query { f(l: [Int], m: [[Int]]): Int }`),
		Resolvers: map[string]map[string]Field{"Query": {"f": resolved(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Prepare(context.Background(), Request{Query: `query ($l: [Int], $m: [[Int]]) { f(l: $l, m: $m) }`, Variables: tc.vars})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			errs := AsErrors(err)
			if len(errs) != 1 || errs[0].Code() != CodeBadUserInput || len(errs[0].Message) > 200 {
				t.Fatalf("got %v, want one short %s error", err, CodeBadUserInput)
			}
		})
	}
}

func TestLimitsCanBeDisabled(t *testing.T) {
	e, _ := countingLibrary(t, func(c *Config) {
		c.MaxDepth, c.MaxCost, c.MaxRootFields = -1, -1, -1
	})
	q := nested(`{ book(id: "b1")`, "author { books", "id", 25) + strings.Repeat(" }", 26)
	op, err := e.Prepare(context.Background(), Request{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	if op.Depth != 51 {
		t.Errorf("Depth = %d, want 51", op.Depth)
	}
	if _, err := New(Config{Schema: loadLibrarySchema(t), DefaultListSize: -1}); err == nil || !strings.Contains(err.Error(), "DefaultListSize") {
		t.Errorf("New with negative DefaultListSize: %v", err)
	}
}

// BenchmarkRejectAliasBomb measures the rejection of 5,000 aliases with the
// token and size limits lifted: the pre-validation walk rejects it in time
// linear in the document, before OverlappingFieldsCanBeMerged would compare
// the fields.
func BenchmarkRejectAliasBomb(b *testing.B) {
	e := newLibrary(b, nil, func(c *Config) { c.MaxTokens, c.MaxDocumentBytes = -1, -1 })
	req := Request{Query: aliasBomb(5000)}
	b.ReportAllocs()
	b.SetBytes(int64(len(req.Query)))
	for b.Loop() {
		if _, err := e.Prepare(context.Background(), req); err == nil {
			b.Fatal("accepted")
		}
	}
}

// Error answers stay small next to the request: at most maxRequestErrors errors (the rest
// summarized in the last), and a bad value is quoted only in part.
func TestErrorAnswersAreBounded(t *testing.T) {
	e, err := New(Config{
		Schema:    mustSchema(t, `type Query { f(n: Int): Int }`),
		Resolvers: map[string]map[string]Field{"Query": {"f": resolved(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	doc.WriteString("{ f(")
	for i := range 300 {
		fmt.Fprintf(&doc, "u%d: 1 ", i)
	}
	doc.WriteString(") }")
	resp := e.Do(context.Background(), Request{Query: doc.String()})
	if n := len(resp.Errors); n != maxRequestErrors || !strings.Contains(resp.Errors[n-1].Message, "201 more not shown") {
		t.Fatalf("%d errors, last %q", n, resp.Errors[len(resp.Errors)-1].Message)
	}

	resp = e.Do(context.Background(), Request{Query: `query ($n: Int) { f(n: $n) }`, Variables: map[string]any{"n": strings.Repeat("z", 1<<20)}})
	if len(resp.Errors) != 1 || len(resp.Errors[0].Message) > 4*maxDescribed { // the value may be quoted twice
		t.Fatalf("bad value: %d errors, message of %d bytes", len(resp.Errors), len(resp.Errors[0].Message))
	}
}
