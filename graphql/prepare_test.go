package graphql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPrepareErrors(t *testing.T) {
	e := newLibrary(t, nil, nil)
	tests := []struct {
		name     string
		req      Request
		code     string
		messages []string
		loc      Location
	}{
		{
			name:     "syntax error",
			req:      Request{Query: "{ book(id: \"b1\") {\n title }"},
			code:     CodeParseFailed,
			messages: []string{"Expected Name, found <EOF>"},
			loc:      Location{Line: 2, Column: 9},
		},
		{
			name:     "empty document",
			req:      Request{Query: "   "},
			code:     CodeValidationFailed,
			messages: []string{"Must provide an operation."},
		},
		{
			name:     "unknown field",
			req:      Request{Query: "{\n  nope\n}"},
			code:     CodeValidationFailed,
			messages: []string{`Cannot query field "nope" on type "Query". Did you mean "node" or "now"?`},
			loc:      Location{Line: 2, Column: 3},
		},
		{
			name:     "several validation errors",
			req:      Request{Query: `{ nope book { id } }`},
			code:     CodeValidationFailed,
			messages: []string{`Cannot query field "nope" on type "Query". Did you mean "node" or "now"?`, `Field "book" argument "id" of type "ID!" is required, but it was not provided.`},
			loc:      Location{Line: 1, Column: 3},
		},
		{
			name:     "only fragments",
			req:      Request{Query: `fragment F on Query { __typename }`},
			code:     CodeValidationFailed,
			messages: []string{`Fragment "F" is never used.`},
			loc:      Location{Line: 1, Column: 1},
		},
		{
			name:     "unknown operation name",
			req:      Request{Query: `query A { __typename }`, OperationName: "B"},
			code:     CodeValidationFailed,
			messages: []string{`Unknown operation named "B".`},
		},
		{
			name:     "variable coercion",
			req:      Request{Query: `query ($n: Int!) { books(limit: $n) { id } }`, Variables: map[string]any{"n": true}},
			code:     CodeBadUserInput,
			messages: []string{`Variable "$n" got invalid value true; Int cannot represent non-integer value: true`},
			loc:      Location{Line: 1, Column: 8},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op, err := e.Prepare(context.Background(), tc.req)
			if op != nil || err == nil {
				t.Fatalf("Prepare = %v, %v; want an error", op, err)
			}
			var list Errors
			if len(tc.messages) > 1 && !errors.As(err, &list) {
				t.Fatalf("several errors must be returned as Errors, got %T", err)
			}
			var first *Error
			if !errors.As(err, &first) {
				t.Fatalf("errors.As(*Error) failed for %T", err)
			}
			errs := AsErrors(err)
			var got []string
			for _, ge := range errs {
				got = append(got, ge.Message)
				if ge.Code() != tc.code {
					t.Errorf("code = %q, want %q", ge.Code(), tc.code)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.messages, "|") {
				t.Errorf("messages = %q, want %q", got, tc.messages)
			}
			if tc.loc != (Location{}) && (len(errs[0].Locations) == 0 || errs[0].Locations[0] != tc.loc) {
				t.Errorf("locations = %v, want %v", errs[0].Locations, tc.loc)
			}
		})
	}
}

func TestDocumentCache(t *testing.T) {
	ctx := context.Background()
	t.Run("same text yields the same document", func(t *testing.T) {
		e := newLibrary(t, nil, nil)
		q := `query ($id: ID!) { book(id: $id) { title } }`
		a, err := e.Prepare(ctx, Request{Query: q, Variables: map[string]any{"id": "b1"}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Prepare(ctx, Request{Query: q, Variables: map[string]any{"id": "b2"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Document != b.Document || a.Hash != b.Hash {
			t.Errorf("cached document not reused")
		}
		if a.Variables["id"] != "b1" || b.Variables["id"] != "b2" {
			t.Errorf("variables shared between requests: %v %v", a.Variables, b.Variables)
		}
	})
	t.Run("LRU bound and eviction order", func(t *testing.T) {
		e := newLibrary(t, nil, func(c *Config) { c.DocumentCacheSize = 2 })
		prep := func(i int) *Operation {
			op, err := e.Prepare(ctx, Request{Query: fmt.Sprintf("{ q%d: __typename }", i)})
			if err != nil {
				t.Fatal(err)
			}
			return op
		}
		one := prep(1)
		two := prep(2)
		if prep(1).Document != one.Document { // touch 1: 2 is now least recently used
			t.Fatal("document 1 not cached")
		}
		prep(3) // evicts 2
		if n := e.docs.len(); n != 2 {
			t.Errorf("cache holds %d documents, want 2", n)
		}
		if prep(1).Document != one.Document {
			t.Error("document 1 evicted, want it kept")
		}
		if prep(2).Document == two.Document {
			t.Error("document 2 kept, want it evicted")
		}
	})
	t.Run("invalid documents are not cached", func(t *testing.T) {
		e := newLibrary(t, nil, nil)
		for range 3 {
			if _, err := e.Prepare(ctx, Request{Query: `{ nope }`}); err == nil {
				t.Fatal("want an error")
			}
		}
		if n := e.docs.len(); n != 0 {
			t.Errorf("cache holds %d documents, want 0", n)
		}
	})
}
