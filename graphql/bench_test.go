package graphql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// benchQuery is a ~2 KB document over the library schema: several
// operations' worth of fields, fragments, variables and directives.
const benchQuery = `
query Dashboard($limit: Int = 20, $genre: Genre, $withAuthor: Boolean = true, $id: ID!, $text: String!) {
  first: book(id: $id) {
    ...BookCore
    author @include(if: $withAuthor) {
      id
      name
      books { ...BookCore }
    }
  }
  list: books(limit: $limit, genre: $genre, order: TITLE_DESC) {
    ...BookCore
    ...BookExtra
    author @include(if: $withAuthor) { ...AuthorCore }
  }
  search(text: $text) {
    __typename
    ... on Book { ...BookCore }
    ... on Author { ...AuthorCore }
    ... on Node { id }
  }
  node(id: $id) {
    id
    __typename
    ... on Book { title genre rating }
    ... on Author { name }
  }
  stats(kind: "weekly") { count avgRating label }
  echo(input: {text: "ping", times: 2, upper: false, tags: ["a", "b", "c"], genre: FICTION})
  echoArgs(i: 1, f: 2.5, s: "str", b: true, id: "x", g: SCIENCE, l: [1, 2, 3], j: {nested: {deep: [1, 2]}})
  typename: __typename
}

fragment BookCore on Book {
  id
  title
  genre
  published
  rating
  pages
}

fragment BookExtra on Book {
  tags
  isbn
  alias1: title
  alias2: rating
  ... on Node { id }
}

fragment AuthorCore on Author {
  id
  name
  books {
    id
    title
    ... on Book @skip(if: false) { pages }
  }
}
`

func benchRequest() Request {
	return Request{
		Query:     benchQuery,
		Variables: map[string]any{"id": "b1", "text": "hobbit", "limit": 5},
	}
}

func BenchmarkPrepareCold(b *testing.B) {
	e := newLibrary(b, nil, nil)
	ctx := context.Background()
	req := benchRequest()
	b.ReportAllocs()
	b.SetBytes(int64(len(benchQuery)))
	for i := 0; b.Loop(); i++ {
		// A distinct comment makes every text a cache miss.
		req.Query = benchQuery + "# " + strconv.Itoa(i)
		if _, err := e.Prepare(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareCached prepares a cached dashboard document of about 2 KB
// and of about 4 KB (the same with more operations): a cache hit hashes the
// text, coerces the variables and evaluates the operation's cost plan, so
// the larger document should cost more only by the hashing, with the same
// allocations.
func BenchmarkPrepareCached(b *testing.B) {
	op, _, _ := strings.Cut(benchQuery, "fragment BookCore")
	withOps := func(n int) string {
		q := benchQuery
		for i := range n {
			q += strings.Replace(op, "query Dashboard(", "query Dashboard"+strconv.Itoa(i+2)+"(", 1)
		}
		return q
	}
	for _, doc := range []struct{ name, query string }{{"2KB", withOps(1)}, {"4KB", withOps(3)}} {
		b.Run(doc.name, func(b *testing.B) {
			e := newLibrary(b, nil, nil)
			ctx := context.Background()
			req := benchRequest()
			req.Query, req.OperationName = doc.query, "Dashboard"
			if _, err := e.Prepare(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(doc.query)))
			for b.Loop() {
				if _, err := e.Prepare(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCostAnalysis evaluates the cost plan of a prepared operation
// whose lists are sized by variables, the part of pricing done per request.
func BenchmarkCostAnalysis(b *testing.B) {
	e := costEngine(b)
	op, err := e.Prepare(context.Background(), Request{
		Query: `query ($n: Int, $m: Int) {
  users(first: $n) { id ...U friends(first: $m) { ...U } }
  connection(first: $m) { total edges { node { ...U } } }
  search { ... on User { ...U } ... on Post { author { ...U } } }
}
fragment U on User { name score heavy posts { id title } f2: friends(first: $m, last: 2) { id } }`,
		Variables: map[string]any{"n": 5, "m": 3},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if e.Cost(op) != op.Cost {
			b.Fatal("cost changed")
		}
	}
}

// BenchmarkExecuteThunks executes a 200-item list whose items each return
// a dataloader thunk: one batch, forced after the whole list is resolved.
func BenchmarkExecuteThunks(b *testing.B) {
	e, loader := thunkEngine(b, false, 8)
	ctx := context.Background()
	op, err := e.Prepare(ctx, Request{Query: `{ maybeItems(n: 200) { id owner { id name } } }`})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp := e.Execute(ctx, op)
		if len(resp.Errors) != 2 { // item 3 fails, item 4 panics
			b.Fatal(resp.Errors)
		}
		loader.reset()
	}
}

const benchSDL = `
type Stats { total: Int! critical: Int! ratio: Float label: String }
type Indicator {
  id: ID!
  value: String!
  kind: String!
  score: Float!
  active: Boolean!
  sightings: Int!
}
type Query {
  today: Stats
  week: Stats
  month: Stats
  indicators(first: Int = 50): [Indicator!]!
}
`

type indicator struct {
	ID, Value, Kind string
	Score           float64
	Active          bool
	Sightings       int
}

// benchEngine binds every field the way an application with struct values
// does: root resolvers are Blocking (they would hit a database) and the
// Indicator fields are plain accessors.
func benchEngine(b *testing.B) *Engine {
	items := make([]*indicator, 50)
	for i := range items {
		items[i] = &indicator{
			ID: fmt.Sprintf("ind-%d", i), Value: fmt.Sprintf("198.51.100.%d", i), Kind: "ipv4",
			Score: float64(i) / 7, Active: i%2 == 0, Sightings: i * 13,
		}
	}
	stats := func(total int) Field {
		v := map[string]any{"total": total, "critical": total / 10, "ratio": 0.1, "label": "window"}
		return Field{Blocking: true, Resolve: func(context.Context, ResolveParams) (any, error) { return v, nil }}
	}
	acc := func(get func(*indicator) any) Field {
		return Field{Resolve: func(_ context.Context, p ResolveParams) (any, error) { return get(p.Source.(*indicator)), nil }}
	}
	e, err := New(Config{
		Schema: mustSchema(b, benchSDL),
		Resolvers: map[string]map[string]Field{
			"Query": {
				"today": stats(12), "week": stats(80), "month": stats(333),
				"indicators": {Blocking: true, Resolve: func(_ context.Context, p ResolveParams) (any, error) {
					return items[:p.Args["first"].(int)], nil
				}},
			},
			"Indicator": {
				"id":        acc(func(i *indicator) any { return i.ID }),
				"value":     acc(func(i *indicator) any { return i.Value }),
				"kind":      acc(func(i *indicator) any { return i.Kind }),
				"score":     acc(func(i *indicator) any { return i.Score }),
				"active":    acc(func(i *indicator) any { return i.Active }),
				"sightings": acc(func(i *indicator) any { return i.Sightings }),
			},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func BenchmarkExecute(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	op, err := e.Prepare(ctx, Request{Query: `query Dash {
  today { total critical ratio }
  week { total critical ratio }
  month { total critical ratio }
  indicators(first: 50) { id value kind score active sightings }
}`})
	if err != nil {
		b.Fatal(err)
	}
	resp := e.Execute(ctx, op)
	if len(resp.Errors) > 0 {
		b.Fatal(resp.Errors)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(resp.Data)))
	for b.Loop() {
		if resp := e.Execute(ctx, op); len(resp.Errors) > 0 {
			b.Fatal(resp.Errors)
		}
	}
}
