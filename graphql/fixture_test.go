package graphql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// The test schema is a small library: an interface, a union, enums, an input
// object with defaults, custom scalars and fields that misbehave on purpose.
const librarySDL = `
"An RFC 3339 timestamp."
scalar DateTime @specifiedBy(url: "https://tools.ietf.org/html/rfc3339")
scalar JSON

"Book genres."
enum Genre { FICTION SCIENCE HISTORY POETRY @deprecated(reason: "merged into FICTION") }
enum BookOrder { TITLE_ASC TITLE_DESC }

interface Node { id: ID! }

type Author implements Node {
  id: ID!
  name: String!
  books: [Book!]!
}

"A book in the library."
type Book implements Node {
  id: ID!
  title: String!
  genre: Genre
  author: Author
  published: DateTime
  rating: Float
  pages: Int
  tags: [String!]
  isbn: String @deprecated(reason: "use id")
}

union SearchResult = Book | Author

input EchoInput {
  text: String!
  times: Int = 2
  upper: Boolean = false
  tags: [String!]
  genre: Genre
}

type Stats { count: Int! avgRating: Float label: String }

type Query {
  book(id: ID!): Book
  books(limit: Int = 10, genre: Genre, order: BookOrder = TITLE_ASC): [Book!]!
  search(text: String!): [SearchResult!]!
  node(id: ID!): Node
  nonNullFails: String!
  listWithNullItem: [Book!]
  listWithNullableItems: [Book]
  strictList: [Book!]!
  brokenBook: Book
  untyped: Node
  echo(input: EchoInput!): String
  echoArgs(i: Int, f: Float, s: String, b: Boolean, id: ID, g: Genre, l: [Int], when: DateTime, j: JSON, in: EchoInput): JSON
  panics: String
  failsCoded: String
  slowA: String
  slowB: String
  stats(kind: String = "all"): Stats
  badInt: Int
  bigInt: Int
  badEnum: Genre
  nan: Float
  escape: String
  now: DateTime
  cancelled: String
}

type Mutation {
  addBook(title: String!): Book!
  record(step: Int!): Int
}
`

func loadLibrarySchema(tb testing.TB) *ast.Schema {
	tb.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "library.graphql", Input: librarySDL})
	if err != nil {
		tb.Fatalf("load schema: %v", err)
	}
	return s
}

// author is a struct source: its fields need bindings and it names its type.
type author struct {
	ID, Name string
}

func (*author) GraphQLTypeName() string { return "Author" }

func book(id, title, genre string, rating float64) map[string]any {
	return map[string]any{
		"__typename": "Book", "id": id, "title": title, "genre": genre,
		"rating": rating, "pages": 100, "tags": []string{"a", "b"},
		"published": time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

var errBoom = errors.New("boom")

// libraryConfig returns a config over the library schema. hooks lets tests
// replace single resolvers.
func libraryConfig(tb testing.TB, hooks map[string]Field) Config {
	tb.Helper()
	tolkien := &author{ID: "a1", Name: "Tolkien"}
	books := []map[string]any{
		book("b1", "The Hobbit", "FICTION", 4.5),
		book("b2", "Cosmos", "SCIENCE", 4.75),
		book("b3", "SPQR", "HISTORY", 4),
	}
	books[0]["author"] = tolkien
	res := func(v any) Field {
		return Field{Resolve: func(context.Context, ResolveParams) (any, error) { return v, nil }}
	}
	query := map[string]Field{
		"book": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			for _, b := range books {
				if b["id"] == p.Args["id"] {
					return b, nil
				}
			}
			return nil, nil
		}},
		"books": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			limit := p.Args["limit"].(int)
			var out []any
			for _, b := range books {
				if g, ok := p.Args["genre"]; ok && b["genre"] != g {
					continue
				}
				if len(out) < limit {
					out = append(out, b)
				}
			}
			if out == nil {
				out = []any{}
			}
			return out, nil
		}},
		"search": {Resolve: func(context.Context, ResolveParams) (any, error) {
			return []any{books[1], tolkien}, nil
		}},
		"node": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			if p.Args["id"] == "a1" {
				return tolkien, nil
			}
			return books[0], nil
		}},
		"nonNullFails":          res(nil),
		"listWithNullItem":      res([]any{books[0], nil, books[1]}),
		"listWithNullableItems": res([]any{books[0], nil}),
		"brokenBook":            res(map[string]any{"__typename": "Book", "id": "zz"}),
		"untyped":               res(map[string]any{"id": "u"}),
		"strictList":            res([]any{books[0], map[string]any{"__typename": "Book", "id": "x"}}),
		"echo": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			in := p.Args["input"].(map[string]any)
			s := strings.Repeat(in["text"].(string), in["times"].(int))
			if in["upper"].(bool) {
				s = strings.ToUpper(s)
			}
			return s, nil
		}},
		"echoArgs": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			out := map[string]any{}
			for k, v := range p.Args {
				out[k] = fmt.Sprintf("%T:%v", v, v)
			}
			return out, nil
		}},
		"panics": {Resolve: func(context.Context, ResolveParams) (any, error) { panic("kaboom") }},
		"failsCoded": {Resolve: func(context.Context, ResolveParams) (any, error) {
			return nil, &Error{Message: "forbidden", Extensions: map[string]any{"code": "FORBIDDEN"}, Err: errBoom}
		}},
		"slowA":     res("a"),
		"slowB":     res("b"),
		"stats":     res(map[string]any{"count": 3, "avgRating": 4.25, "label": "all"}),
		"badInt":    res(int64(1) << 40),
		"bigInt":    res(int64(2147483647)),
		"badEnum":   res("ROMANCE"),
		"nan":       {Resolve: func(context.Context, ResolveParams) (any, error) { return nanValue(), nil }},
		"escape":    res("quote\" backslash\\ nl\n tab\t ctl\x01 bad\xff uni\u2028 é"),
		"now":       res(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
		"cancelled": res("never"),
	}
	var mu sync.Mutex
	var next int
	mutation := map[string]Field{
		"addBook": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			next++
			return map[string]any{"id": fmt.Sprintf("n%d", next), "title": p.Args["title"]}, nil
		}},
		"record": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return p.Args["step"], nil }},
	}
	for k, f := range hooks {
		typ, field, _ := strings.Cut(k, ".")
		switch typ {
		case "Query":
			query[field] = f
		case "Mutation":
			mutation[field] = f
		}
	}
	return Config{
		Schema: loadLibrarySchema(tb),
		Resolvers: map[string]map[string]Field{
			"Query":    query,
			"Mutation": mutation,
			"Author": {
				"id":   {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return p.Source.(*author).ID, nil }},
				"name": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return p.Source.(*author).Name, nil }},
				"books": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
					return []map[string]any{books[0]}, nil
				}},
			},
		},
		Scalars: map[string]Scalar{
			"DateTime": {
				Serialize: func(w *JSONWriter, v any) error {
					t, ok := v.(time.Time)
					if !ok {
						return fmt.Errorf("not a time: %T", v)
					}
					w.WriteString(t.Format(time.RFC3339))
					return nil
				},
				ParseValue: func(v any) (any, error) {
					s, ok := v.(string)
					if !ok {
						return nil, errors.New("DateTime must be a string")
					}
					return time.Parse(time.RFC3339, s)
				},
			},
			"JSON": {},
		},
		Introspection: true,
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func newLibrary(tb testing.TB, hooks map[string]Field, mutate func(*Config)) *Engine {
	tb.Helper()
	cfg := libraryConfig(tb, hooks)
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return e
}

// do runs a request and returns the response JSON.
func do(tb testing.TB, e *Engine, req Request) string {
	tb.Helper()
	b, err := e.Do(context.Background(), req).MarshalJSON()
	if err != nil {
		tb.Fatalf("MarshalJSON: %v", err)
	}
	return string(b)
}

// vars decodes a JSON object the way an HTTP handler would.
func vars(tb testing.TB, s string) map[string]any {
	tb.Helper()
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("vars: %v", err)
	}
	return m
}

func mustSchema(tb testing.TB, sdl string) *ast.Schema {
	tb.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphql", Input: sdl})
	if err != nil {
		tb.Fatalf("load schema: %v", err)
	}
	return s
}
