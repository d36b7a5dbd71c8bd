package graphql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// rendezvous returns a barrier for n resolver calls: each resolver it makes
// reports its arrival and then waits until all n calls have arrived. It
// fails (rather than hanging) when they do not overlap.
func rendezvous(n int) func(value any) ResolveFunc {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(value any) ResolveFunc {
		return func(ctx context.Context, _ ResolveParams) (any, error) {
			mu.Lock()
			arrived++
			if arrived == n {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
				return value, nil
			case <-time.After(5 * time.Second):
				return nil, errors.New("resolvers did not run concurrently")
			}
		}
	}
}

func TestBlockingSiblingsOverlap(t *testing.T) {
	barrier := rendezvous(2)
	e := newLibrary(t, map[string]Field{
		"Query.slowA": {Resolve: barrier("a"), Blocking: true},
		"Query.slowB": {Resolve: barrier("b"), Blocking: true},
	}, nil)
	// slowA and slowB each wait for the other: the request only succeeds if
	// both are in flight at once.
	want := `{"data":{"slowA":"a","slowB":"b"}}`
	if got := do(t, e, Request{Query: `{ slowA slowB }`}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestBlockingListItemsOverlap(t *testing.T) {
	cfg := libraryConfig(t, nil)
	// All three items' Book.title must be in flight together, as a
	// dataloader batching their keys needs.
	cfg.Resolvers["Book"] = map[string]Field{"title": {Resolve: rendezvous(3)("T"), Blocking: true}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"books":[{"id":"b1","title":"T"},{"id":"b2","title":"T"},{"id":"b3","title":"T"}]}}`
	if got := do(t, e, Request{Query: `{ books { id title } }`}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestConcurrencyBoundRunsInline(t *testing.T) {
	var inFlight, peak atomic.Int32
	counted := Field{Blocking: true, Resolve: func(context.Context, ResolveParams) (any, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return "x", nil
	}}
	cfg := libraryConfig(t, map[string]Field{"Query.slowA": counted, "Query.slowB": counted})
	cfg.Resolvers["Book"] = map[string]Field{"title": counted}
	cfg.MaxConcurrency = 1
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"slowA":"x","slowB":"x","books":[{"title":"x"},{"title":"x"},{"title":"x"}]}}`
	if got := do(t, e, Request{Query: `{ slowA slowB books { title } }`}); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// One extra goroutine plus the caller's: never more than two at once.
	if p := peak.Load(); p > 2 {
		t.Errorf("peak concurrency %d exceeds MaxConcurrency+1", p)
	}
}

func TestMutationsRunSerially(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	var inFlight atomic.Int32
	add := Field{Blocking: true, Resolve: func(_ context.Context, p ResolveParams) (any, error) {
		if inFlight.Add(1) != 1 {
			return nil, errors.New("mutation fields overlapped")
		}
		defer inFlight.Add(-1)
		title := p.Args["title"].(string)
		mu.Lock()
		calls = append(calls, title)
		mu.Unlock()
		return map[string]any{"id": title, "title": title}, nil
	}}
	e := newLibrary(t, map[string]Field{"Mutation.addBook": add}, nil)
	got := do(t, e, Request{Query: `mutation { c: addBook(title: "C") { id } a: addBook(title: "A") { id } b: addBook(title: "B") { id } }`})
	if want := `{"data":{"c":{"id":"C"},"a":{"id":"A"},"b":{"id":"B"}}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if !slices.Equal(calls, []string{"C", "A", "B"}) {
		t.Errorf("call order %v, want document order [C A B]", calls)
	}
}

func TestCancelledContextSkipsResolvers(t *testing.T) {
	var called atomic.Bool
	e := newLibrary(t, map[string]Field{"Query.cancelled": {Resolve: func(context.Context, ResolveParams) (any, error) {
		called.Store(true)
		return "ran", nil
	}}}, nil)
	op, err := e.Prepare(context.Background(), Request{Query: `{ cancelled }`})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp := e.Execute(ctx, op)
	if called.Load() {
		t.Error("resolver called after cancellation")
	}
	if len(resp.Errors) != 1 || !errors.Is(resp.Errors[0], context.Canceled) || string(resp.Data) != `{"cancelled":null}` {
		t.Errorf("got data %s errors %v", resp.Data, resp.Errors)
	}
}

func TestResolverErrors(t *testing.T) {
	e := newLibrary(t, map[string]Field{
		"Query.cancelled": {Resolve: func(context.Context, ResolveParams) (any, error) {
			return nil, fmt.Errorf("lookup: %w", errBoom)
		}},
	}, nil)
	resp := e.Do(context.Background(), Request{Query: `{ cancelled failsCoded panics }`})
	if len(resp.Errors) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(resp.Errors), resp.Errors)
	}
	plain, coded, panicked := resp.Errors[0], resp.Errors[1], resp.Errors[2]
	if plain.Message != "lookup: boom" || !errors.Is(plain, errBoom) || plain.Code() != "" {
		t.Errorf("plain error = %+v", plain)
	}
	if coded.Message != "forbidden" || coded.Code() != "FORBIDDEN" || !errors.Is(coded, errBoom) {
		t.Errorf("coded error = %+v", coded)
	}
	var pe *PanicError
	if panicked.Code() != CodeInternal || !errors.As(panicked, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
		t.Errorf("panic error = %+v", panicked)
	}
	if !slices.Equal(panicked.Path, Path{"panics"}) {
		t.Errorf("panic path = %v", panicked.Path)
	}
}

func TestResolveParams(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	cfg := libraryConfig(t, nil)
	cfg.Resolvers["Book"] = map[string]Field{"title": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s.%s alias=%s path=%v op=%s", p.Info.ParentType, p.Info.FieldName, p.Info.Field.Alias, p.Info.Path, p.Info.Operation.Name))
		return p.Source.(map[string]any)["title"], nil
	}}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	do(t, e, Request{Query: `query Named { books(limit: 2) { name: title } }`})
	want := []string{
		"Book.title alias=name path=books[0].name op=Named",
		"Book.title alias=name path=books[1].name op=Named",
	}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
}

func TestMiddleware(t *testing.T) {
	const sdl = `
directive @auth(requires: Role!) on FIELD_DEFINITION
enum Role { USER ADMIN }
type Query {
  public: String
  secret: String @auth(requires: ADMIN)
}`
	schema := mustSchema(t, sdl)
	var wrapped []string
	var mu sync.Mutex
	e, err := New(Config{
		Schema: schema,
		Resolvers: map[string]map[string]Field{"Query": {
			"public": {Resolve: func(context.Context, ResolveParams) (any, error) { return "hello", nil }},
			"secret": {Resolve: func(context.Context, ResolveParams) (any, error) { return "s3cr3t", nil }},
		}},
		Introspection: true,
		Middleware: func(ctx context.Context, p ResolveParams, next ResolveFunc) (any, error) {
			mu.Lock()
			wrapped = append(wrapped, p.Info.ParentType+"."+p.Info.FieldName)
			mu.Unlock()
			if d := p.Info.Definition.Directives.ForName("auth"); d != nil {
				return nil, &Error{Message: "requires " + d.Arguments.ForName("requires").Value.Raw, Extensions: map[string]any{"code": "FORBIDDEN"}}
			}
			return next(ctx, p)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := do(t, e, Request{Query: `{ public secret __type(name: "Role") { name } }`})
	want := `{"data":{"public":"hello","secret":null,"__type":{"name":"Role"}},"errors":[{"message":"requires ADMIN","locations":[{"line":1,"column":10}],"path":["secret"],"extensions":{"code":"FORBIDDEN"}}]}`
	if got != want {
		t.Errorf("\n got: %s\nwant: %s", got, want)
	}
	slices.Sort(wrapped)
	if !slices.Equal(wrapped, []string{"Query.public", "Query.secret"}) {
		t.Errorf("middleware saw %v; introspection must bypass it", wrapped)
	}
}

// typed is a TypeNamer with a value receiver, to exercise reflection paths.
type typed struct{ name, id string }

func (t typed) GraphQLTypeName() string { return t.name }

type severity int

func TestResultCoercionPaths(t *testing.T) {
	var nilAuthor *author
	pages := 7
	tests := []struct {
		name  string
		hooks map[string]Field
		query string
		want  string
	}{
		{
			name:  "slice of TypeNamer via reflection",
			hooks: map[string]Field{"Query.search": resolved([]TypeNamer{&author{ID: "a9", Name: "N"}})},
			query: `{ search(text: "") { ... on Author { id } } }`,
			want:  `{"data":{"search":[{"id":"a9"}]}}`,
		},
		{
			name:  "typed nil pointer is null",
			hooks: map[string]Field{"Query.node": resolved(nilAuthor)},
			query: `{ node(id: "x") { id } }`,
			want:  `{"data":{"node":null}}`,
		},
		{
			name:  "named int and pointer scalars",
			hooks: map[string]Field{"Query.stats": resolved(map[string]any{"count": severity(4), "avgRating": &[]float64{1.5}[0], "label": (*string)(nil)})},
			query: `{ stats { count avgRating label } }`,
			want:  `{"data":{"stats":{"count":4,"avgRating":1.5,"label":null}}}`,
		},
		{
			name:  "pointer to int and integral float",
			hooks: map[string]Field{"Query.badInt": resolved(&pages), "Query.bigInt": resolved(float64(12))},
			query: `{ badInt bigInt }`,
			want:  `{"data":{"badInt":7,"bigInt":12}}`,
		},
		{
			name:  "not a list",
			hooks: map[string]Field{"Query.books": resolved("nope")},
			query: `{ books { id } }`,
			want:  `{"data":null,"errors":[{"message":"Expected Iterable, but did not find one for field \"Query.books\".","locations":[{"line":1,"column":3}],"path":["books"]}]}`,
		},
		{
			name:  "value type name outside the union",
			hooks: map[string]Field{"Query.search": resolved([]any{typed{name: "Stats"}})},
			query: `{ search(text: "") { __typename } }`,
			want:  `{"data":null,"errors":[{"message":"Runtime Object type \"Stats\" is not a possible type for \"SearchResult\".","locations":[{"line":1,"column":3}],"path":["search",0]}]}`,
		},
		{
			name:  "custom scalar serialize error",
			hooks: map[string]Field{"Query.now": resolved("yesterday")},
			query: `{ now }`,
			want:  `{"data":{"now":null},"errors":[{"message":"DateTime cannot represent value: not a time: string","locations":[{"line":1,"column":3}],"path":["now"]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLibrary(t, tc.hooks, nil)
			if got := do(t, e, Request{Query: tc.query}); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func resolved(v any) Field {
	return Field{Resolve: func(context.Context, ResolveParams) (any, error) { return v, nil }}
}

func TestSubscriptionIsNotExecuted(t *testing.T) {
	schema := mustSchema(t, `type Query { a: String } type Subscription { tick: Int }`)
	e, err := New(Config{Schema: schema, Resolvers: map[string]map[string]Field{"Query": {"a": resolved("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	op, err := e.Prepare(context.Background(), Request{Query: `subscription { tick }`})
	if err != nil {
		t.Fatal(err)
	}
	if op.Kind != ast.Subscription {
		t.Fatalf("kind = %s", op.Kind)
	}
	resp := e.Execute(context.Background(), op)
	if resp.Data != nil || len(resp.Errors) != 1 {
		t.Errorf("got %s", resp.AppendJSON(nil))
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "nil schema", mutate: func(c *Config) { c.Schema = nil }, want: "Config.Schema"},
		{name: "unbound root field", mutate: func(c *Config) { delete(c.Resolvers["Query"], "book") }, want: "root field Query.book has no resolver"},
		{name: "unbound mutation field", mutate: func(c *Config) { delete(c.Resolvers["Mutation"], "record") }, want: "root field Mutation.record has no resolver"},
		{name: "unknown type", mutate: func(c *Config) { c.Resolvers["Nope"] = map[string]Field{} }, want: `resolvers bound to "Nope"`},
		{name: "unknown field", mutate: func(c *Config) { c.Resolvers["Book"] = map[string]Field{"nope": resolved(1)} }, want: "unknown field Book.nope"},
		{name: "nil resolve", mutate: func(c *Config) { c.Resolvers["Book"] = map[string]Field{"title": {}} }, want: "Book.title has a nil Resolve"},
		{name: "missing scalar codec", mutate: func(c *Config) { delete(c.Scalars, "JSON") }, want: `custom scalar "JSON" has no codec`},
		{name: "codec for builtin", mutate: func(c *Config) { c.Scalars["Int"] = Scalar{} }, want: `scalar codec for "Int"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := libraryConfig(t, nil)
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestScalarCodecPanics(t *testing.T) {
	explode := func(any) (any, error) { panic("codec bug") }
	e := newLibrary(t, nil, func(c *Config) {
		c.Scalars["JSON"] = Scalar{
			ParseValue:   explode,
			ParseLiteral: func(*ast.Value, map[string]any) (any, error) { panic("codec bug") },
		}
	})
	tests := []struct {
		name, query, vars string
		code              string
	}{
		{name: "ParseValue in Prepare", query: `query ($j: JSON) { echoArgs(j: $j) }`, vars: `{"j":1}`, code: CodeBadUserInput},
		{name: "ParseLiteral in Execute", query: `{ echoArgs(j: 1) }`, code: CodeBadUserInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.Do(context.Background(), Request{Query: tc.query, Variables: vars(t, tc.vars)})
			var pe *PanicError
			if len(resp.Errors) != 1 || resp.Errors[0].Code() != tc.code || !errors.As(resp.Errors[0], &pe) {
				t.Errorf("got %s", resp.AppendJSON(nil))
			}
		})
	}
}

func TestPrepareHonoursContext(t *testing.T) {
	e := newLibrary(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Prepare(ctx, Request{Query: `{ __typename }`}); !errors.Is(err, context.Canceled) {
		t.Errorf("Prepare error = %v, want context.Canceled", err)
	}
}

func TestOneOfInput(t *testing.T) {
	schema := mustSchema(t, `
input By @oneOf { id: ID name: String }
type Query { find(by: By!): String }`)
	e, err := New(Config{Schema: schema, Resolvers: map[string]map[string]Field{"Query": {
		"find": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return fmt.Sprint(p.Args["by"]), nil }},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, vars, want string
	}{
		{name: "one field", vars: `{"by":{"id":"7"}}`, want: `{"data":{"find":"map[id:7]"}}`},
		{name: "two fields", vars: `{"by":{"id":"7","name":"x"}}`, want: `{"errors":[{"message":"Variable \"$by\" got invalid value {\"id\":\"7\",\"name\":\"x\"}; OneOf Input Object \"By\" must specify exactly one key.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
		{name: "null field", vars: `{"by":{"id":null}}`, want: `{"errors":[{"message":"Variable \"$by\" got invalid value {\"id\":null}; Field \"By.id\" must be non-null.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(t, e, Request{Query: `query ($by: By!) { find(by: $by) }`, Variables: vars(t, tc.vars)}); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}
