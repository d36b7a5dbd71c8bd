package resolvers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neko-defense/neko/graphql"
)

// blocking binds a resolver that does I/O, so the engine may run it beside its siblings.
func blocking(fn graphql.ResolveFunc) graphql.Field {
	return graphql.Field{Resolve: fn, Blocking: true}
}

// getters binds the fields of a typed object. Each getter reads one field of *T without I/O;
// the engine runs them inline. Values are returned in the shapes the engine serializes: strings,
// *int, *bool, []string, time values via the DateTime scalar, and nil for absent optional fields.
func getters[T any](fields map[string]func(*T) any) map[string]graphql.Field {
	out := make(map[string]graphql.Field, len(fields))
	for name, get := range fields {
		out[name] = graphql.Field{Resolve: func(_ context.Context, p graphql.ResolveParams) (any, error) {
			v, ok := p.Source.(*T)
			if !ok {
				return nil, fmt.Errorf("field %s: source is %T, want %T", name, p.Source, v)
			}
			return get(v), nil
		}}
	}
	return out
}

// pointers converts a slice of values into the []any of pointers the getters expect.
func pointers[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i := range xs {
		out[i] = &xs[i]
	}
	return out
}

// optString maps the empty string (an absent field) to null.
func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// optTime maps a nil time to null and anything else to a time.Time for the DateTime scalar.
func optTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return *t
}

// optStrings maps a nil list to null; an empty stored list stays [].
func optStrings(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

// optMap maps a nil map to null.
func optMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// isoString formats t as the ISO-8601 string used for String-typed dates.
func isoString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// optISO formats an optional time for a nullable String field.
func optISO(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return isoString(*t)
}

// Argument readers. The engine has coerced arguments against the schema, so the type assertions
// below only fail for absent optional arguments, which read as the zero value.

// argString reads a string argument with NUL bytes removed: they have no business in any NEKO
// value and confuse C-based tooling downstream (the original's sanitizer stripped them too).
func argString(p graphql.ResolveParams, name string) string {
	return inputString(p.Args, name)
}

// inputString reads the string member name of an input object (or of the arguments), with NUL
// bytes removed as argString does; absent or null reads as "". Every string a client sends is read
// through one of the two.
func inputString(in map[string]any, name string) string {
	s, _ := in[name].(string)
	return stripNUL(s)
}

// stripNUL removes NUL bytes from s.
func stripNUL(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

func argInt(p graphql.ResolveParams, name string) int {
	n, _ := p.Args[name].(int)
	return n
}

func argObject(p graphql.ResolveParams, name string) map[string]any {
	m, _ := p.Args[name].(map[string]any)
	return m
}

// limitArg reads a limit argument, rejecting values below 1 and capping it at max.
func limitArg(p graphql.ResolveParams, name string, max int) (int, error) {
	n := argInt(p, name)
	if n < 1 {
		return 0, inputErrorf("%s must be at least 1", name)
	}
	return min(n, max), nil
}

// maxArgLen bounds free-text arguments such as names and search terms.
const maxArgLen = 200

// shortString reads an optional string argument of at most maxArgLen characters.
func shortString(p graphql.ResolveParams, name string) (string, error) {
	s := argString(p, name)
	if len(s) > maxArgLen {
		return "", inputErrorf("%s must be at most %d characters", name, maxArgLen)
	}
	return s, nil
}
