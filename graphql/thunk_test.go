package graphql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// batchLoader is a fake dataloader: Load registers a key in the open batch
// and returns a thunk; the first thunk forced closes and fetches the batch.
// A loader that dispatches on first force (rather than after a wait window)
// is the strictest test of the engine: any thunk forced before every key of
// the level is registered splits the batch.
type batchLoader struct {
	fetch func(key string) (any, error)

	mu      sync.Mutex
	open    *loaderBatch // guarded by mu
	batches [][]string   // guarded by mu: the keys of each fetched batch
}

type loaderBatch struct {
	once    sync.Once
	keys    []string
	results []any
	errs    []error
}

func (l *batchLoader) Load(key string) Thunk {
	l.mu.Lock()
	b := l.open
	if b == nil {
		b = &loaderBatch{}
		l.open = b
	}
	i := len(b.keys)
	b.keys = append(b.keys, key)
	l.mu.Unlock()
	return func() (any, error) {
		b.once.Do(func() {
			l.mu.Lock()
			if l.open == b {
				l.open = nil
			}
			l.batches = append(l.batches, slices.Clone(b.keys))
			l.mu.Unlock()
			b.results = make([]any, len(b.keys))
			b.errs = make([]error, len(b.keys))
			for j, k := range b.keys {
				b.results[j], b.errs[j] = l.fetch(k)
			}
		})
		return b.results[i], b.errs[i]
	}
}

// reset forgets the fetched batches (benchmarks run many requests).
func (l *batchLoader) reset() {
	l.mu.Lock()
	l.batches = nil
	l.mu.Unlock()
}

func (l *batchLoader) sizes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, b := range l.batches {
		out = append(out, len(b))
	}
	return out
}

const thunkSDL = `
type Person { id: ID! name: String! team: Team strictTeam: Team! }
type Team { id: ID! name: String! }
type Item { id: ID! owner: Person strictOwner: Person! }
type Query {
  items(n: Int!): [Item!]!
  maybeItems(n: Int!): [Item]
  lazyList: [Person]
  chained: Person
}
`

// thunkEngine binds Item.owner and Person.team to loaders. errKey and
// panicKey make the fetch fail or the thunk panic for one key.
func thunkEngine(t testing.TB, blocking bool, maxConcurrency int) (*Engine, *batchLoader) {
	t.Helper()
	people := &batchLoader{fetch: func(key string) (any, error) {
		switch {
		case strings.HasSuffix(key, "-err"):
			return nil, fmt.Errorf("no record %s", key)
		case strings.HasSuffix(key, "-nil"):
			return nil, nil
		case strings.HasPrefix(key, "team-"):
			return map[string]any{"id": key, "name": "T" + key}, nil
		}
		return map[string]any{"id": key, "name": "P" + key}, nil
	}}
	items := func(_ context.Context, p ResolveParams) (any, error) {
		n := p.Args["n"].(int)
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"id": fmt.Sprint(i)}
		}
		return out, nil
	}
	owner := func(suffix string) Field {
		return Field{Blocking: blocking, Resolve: func(_ context.Context, p ResolveParams) (any, error) {
			id := p.Source.(map[string]any)["id"].(string)
			switch id {
			case "3":
				return people.Load("person-3-err"), nil
			case "4":
				return Thunk(func() (any, error) { panic("thunk exploded") }), nil
			case "5":
				return people.Load("person-5-nil"), nil
			}
			return people.Load("person-" + id + suffix), nil
		}}
	}
	team := func(_ context.Context, p ResolveParams) (any, error) {
		return people.Load("team-" + p.Source.(map[string]any)["id"].(string)), nil
	}
	e, err := New(Config{
		Schema:         mustSchema(t, thunkSDL),
		MaxConcurrency: maxConcurrency,
		Resolvers: map[string]map[string]Field{
			"Query": {
				"items":      {Resolve: items},
				"maybeItems": {Resolve: items},
				"lazyList": {Resolve: func(context.Context, ResolveParams) (any, error) {
					return []any{people.Load("person-a"), nil, people.Load("person-b")}, nil
				}},
				"chained": {Resolve: func(context.Context, ResolveParams) (any, error) {
					return Thunk(func() (any, error) { return people.Load("person-c"), nil }), nil
				}},
			},
			"Item":   {"owner": owner(""), "strictOwner": owner("")},
			"Person": {"team": {Resolve: team}, "strictTeam": {Resolve: team}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, people
}

func TestThunksBatchAWholeList(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		t.Run(fmt.Sprintf("blocking=%v", blocking), func(t *testing.T) {
			e, loader := thunkEngine(t, blocking, 8)
			resp := e.Do(context.Background(), Request{Query: `{ items(n: 200) { id owner { id } } }`})
			// Item 4's thunk panics without loading: 199 keys.
			if got := loader.sizes(); !slices.Equal(got, []int{199}) {
				t.Fatalf("batches = %v, want one batch of 199 keys", got)
			}
			out := string(resp.AppendJSON(nil))
			for _, want := range []string{`{"id":"0","owner":{"id":"person-0"}}`, `{"id":"199","owner":{"id":"person-199"}}`} {
				if !strings.Contains(out, want) {
					t.Errorf("response lacks %s: %.300s", want, out)
				}
			}
		})
	}
}

func TestThunksNestedLevels(t *testing.T) {
	e, loader := thunkEngine(t, false, 8)
	resp := e.Do(context.Background(), Request{Query: `{ items(n: 200) { owner { name team { name } } } }`})
	// 199 people load (item 4's thunk panics without loading), then the
	// teams of the 197 found (3 fails, 5 is missing): one batch per level.
	if got := loader.sizes(); !slices.Equal(got, []int{199, 197}) {
		t.Fatalf("batches = %v, want [199 197]", got)
	}
	out := string(resp.AppendJSON(nil))
	want := `{"owner":{"name":"Pperson-7","team":{"name":"Tteam-person-7"}}}`
	if !strings.Contains(out, want) {
		t.Errorf("response lacks %s: %.300s", want, out)
	}
}

func TestThunkErrorsAndNulls(t *testing.T) {
	e, _ := thunkEngine(t, false, 8)
	tests := []struct {
		name, query, want string
	}{
		{
			name:  "error and panic become field errors",
			query: `{ items(n: 5) { id owner { id } } }`,
			want: `{"data":{"items":[{"id":"0","owner":{"id":"person-0"}},{"id":"1","owner":{"id":"person-1"}},{"id":"2","owner":{"id":"person-2"}},{"id":"3","owner":null},{"id":"4","owner":null}]},` +
				`"errors":[{"message":"no record person-3-err","locations":[{"line":1,"column":20}],"path":["items",3,"owner"]},` +
				`{"message":"internal error","locations":[{"line":1,"column":20}],"path":["items",4,"owner"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`,
		},
		{
			name:  "null from a thunk in a non-null position propagates",
			query: `{ maybeItems(n: 6) { id strictOwner { id } } }`,
			want: `{"data":{"maybeItems":[{"id":"0","strictOwner":{"id":"person-0"}},{"id":"1","strictOwner":{"id":"person-1"}},{"id":"2","strictOwner":{"id":"person-2"}},null,null,null]},` +
				`"errors":[{"message":"no record person-3-err","locations":[{"line":1,"column":25}],"path":["maybeItems",3,"strictOwner"]},` +
				`{"message":"internal error","locations":[{"line":1,"column":25}],"path":["maybeItems",4,"strictOwner"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}},` +
				`{"message":"Cannot return null for non-nullable field Item.strictOwner.","locations":[{"line":1,"column":25}],"path":["maybeItems",5,"strictOwner"]}]}`,
		},
		{
			name:  "propagation through two thunk levels",
			query: `{ maybeItems(n: 1) { owner { strictTeam { id } id } } }`,
			want:  `{"data":{"maybeItems":[{"owner":{"strictTeam":{"id":"team-person-0"},"id":"person-0"}}]}}`,
		},
		{
			name:  "thunks as list items",
			query: `{ lazyList { id } }`,
			want:  `{"data":{"lazyList":[{"id":"person-a"},null,{"id":"person-b"}]}}`,
		},
		{
			name:  "a thunk that yields a thunk",
			query: `{ chained { name } }`,
			want:  `{"data":{"chained":{"name":"Pperson-c"}}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(t, e, Request{Query: tc.query}); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestThunkInMutationFinishesBeforeNextField(t *testing.T) {
	var mu sync.Mutex
	var log []string
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	step := func(name string) Field {
		return Field{Resolve: func(context.Context, ResolveParams) (any, error) {
			record("resolve " + name)
			return Thunk(func() (any, error) { record("force " + name); return name, nil }), nil
		}}
	}
	e, err := New(Config{
		Schema: mustSchema(t, `type Query { a: String } type Mutation { a: String b: String }`),
		Resolvers: map[string]map[string]Field{
			"Query":    {"a": resolved("q")},
			"Mutation": {"a": step("a"), "b": step("b")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := do(t, e, Request{Query: `mutation { a b }`}), `{"data":{"a":"a","b":"b"}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if want := []string{"resolve a", "force a", "resolve b", "force b"}; !slices.Equal(log, want) {
		t.Errorf("order = %v, want %v", log, want)
	}
}

func TestThunkHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	forced := false
	e, err := New(Config{
		Schema: mustSchema(t, `type Query { a: String }`),
		Resolvers: map[string]map[string]Field{"Query": {"a": {Resolve: func(context.Context, ResolveParams) (any, error) {
			cancel()
			return Thunk(func() (any, error) { forced = true; return "x", nil }), nil
		}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp := e.Do(ctx, Request{Query: `{ a }`})
	if forced {
		t.Error("thunk forced after cancellation")
	}
	if len(resp.Errors) != 1 || !errors.Is(resp.Errors[0], context.Canceled) {
		t.Errorf("errors = %v, want one context.Canceled", resp.Errors)
	}
}
