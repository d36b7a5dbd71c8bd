package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
)

func TestNegotiate(t *testing.T) {
	cases := map[string]string{
		"":                                  mediaJSON,
		"*/*":                               mediaJSON,
		"application/*":                     mediaJSON,
		"application/json":                  mediaJSON,
		"application/graphql-response+json": mediaGraphQLResponse,
		"application/json;q=0.5, application/graphql-response+json;q=0.9": mediaGraphQLResponse,
		"application/graphql-response+json;q=0.1, application/json":       mediaJSON,
	}
	for accept, want := range cases {
		if got, err := negotiate(accept); err != nil || got != want {
			t.Errorf("negotiate(%q) = %q, %v; want %q", accept, got, err, want)
		}
	}
	for _, bad := range []string{"text/html", "application/json;q=0", "image/png, text/plain"} {
		if _, err := negotiate(bad); err == nil {
			t.Errorf("negotiate(%q) should be 406", bad)
		}
	}
}

func TestDescribeMasksInternalErrorsInProduction(t *testing.T) {
	leak := errors.New("dial tcp 10.1.2.3:27017: connection refused")
	cases := []struct {
		name       string
		err        error
		production bool
		status     int
		code, msg  string
	}{
		{"internal dev", leak, false, 500, codeInternal, leak.Error()},
		{"internal prod", leak, true, 500, codeInternal, maskedMessage},
		{"wrapped internal prod", fmt.Errorf("find actors: %w", leak), true, 500, codeInternal, maskedMessage},
		{"unauthenticated", security.ErrUnauthenticated, true, 401, codeUnauthenticated, "authentication required"},
		{"forbidden", fmt.Errorf("x: %w", security.ErrForbidden), true, 403, codeForbidden, "insufficient role for this operation"},
		{"bad token", fmt.Errorf("%w: sig", security.ErrInvalidToken), true, 401, codeUnauthenticated, "invalid or expired token"},
		{"deadline", context.DeadlineExceeded, true, 503, codeServiceUnavailable, "the request took too long; try again"},
		{"engine code kept", &graphql.Error{Message: "too deep", Extensions: map[string]any{"code": graphql.CodeTooDeep}}, true, 400, graphql.CodeTooDeep, "too deep"},
		{"http error", badRequest("nope"), true, 400, codeBadUserInput, "nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code, msg := describe(c.err, c.production)
			if status != c.status || code != c.code || msg != c.msg {
				t.Fatalf("describe = %d %s %q; want %d %s %q", status, code, msg, c.status, c.code, c.msg)
			}
		})
	}
}

func TestCacheKeyScopes(t *testing.T) {
	op := &graphql.Operation{Name: "Q", Variables: map[string]any{"n": 1}}
	copy(op.Hash[:], "document")
	shared := resolvers.OperationPolicy{MaxAge: time.Minute, Requires: security.RoleViewer}
	private := resolvers.OperationPolicy{MaxAge: time.Minute, Requires: security.RoleViewer, Private: true}
	alice := security.Identity{Username: "alice", Role: security.RoleViewer}
	bob := security.Identity{Username: "bob", Role: security.RoleAdmin}

	if cacheKey(op, shared, alice) != cacheKey(op, shared, bob) {
		t.Error("a shared answer should have one key for every caller holding the role")
	}
	if cacheKey(op, private, alice) == cacheKey(op, private, bob) {
		t.Error("private answers must be keyed per user")
	}
	promoted := alice
	promoted.Role = security.RoleAdmin
	if cacheKey(op, private, alice) == cacheKey(op, private, promoted) {
		t.Error("private answers must be keyed per identity: one name with two roles is two callers")
	}
	public := resolvers.OperationPolicy{MaxAge: time.Minute}
	if cacheKey(op, public, alice) == cacheKey(op, shared, alice) {
		t.Error("answers requiring different roles must not share a key")
	}
	other := *op
	other.Variables = map[string]any{"n": 2}
	if cacheKey(op, shared, alice) == cacheKey(&other, shared, alice) {
		t.Error("variables must be part of the key")
	}
	renamed := *op
	renamed.Name = "R"
	if cacheKey(op, shared, alice) == cacheKey(&renamed, shared, alice) {
		t.Error("the operation name must be part of the key")
	}
}

func TestETagMatchesAndCost(t *testing.T) {
	for header, want := range map[string]bool{`"abc"`: true, `W/"abc"`: true, `"x", "abc"`: true, `*`: true, ` * `: true, `*, "x"`: false, `"abcd"`: false} {
		if got := etagMatches(header, `"abc"`); got != want {
			t.Errorf("etagMatches(%q) = %v", header, got)
		}
	}
	if got := string(appendCostExtension([]byte(`{"data":{}}`), 12, 5000)); got != `{"data":{},"extensions":{"cost":{"requestedQueryCost":12,"maximumAvailable":5000}}}` {
		t.Errorf("cost extension = %s", got)
	}
}

func TestJSONValuesAtMost(t *testing.T) {
	cases := []struct {
		raw   string
		limit int
		want  bool
	}{
		{`{}`, 1, true},
		{`{"a":1}`, 2, true},
		{`{"a":1}`, 1, false},
		{`{"a":[1,2,3]}`, 5, true},
		{`{"a":[1,2,3]}`, 4, false},
		{`{"a":"x,y:[z{\"]"}`, 2, true}, // punctuation inside a string, an escaped quote included
		{`{"a":"\\","b":1}`, 4, true},   // an escaped backslash ends before the quote; names count
		{`{"a":"\\","b":1}`, 3, false},
	}
	for _, c := range cases {
		if got := jsonValuesAtMost([]byte(c.raw), c.limit); got != c.want {
			t.Errorf("jsonValuesAtMost(%s, %d) = %v", c.raw, c.limit, got)
		}
	}
}
