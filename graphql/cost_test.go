package graphql

import (
	"context"
	"slices"
	"testing"
	"time"
)

const costSDL = `
directive @cost(weight: String!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
enum CacheControlScope { PUBLIC PRIVATE }

scalar Expensive @cost(weight: "3")

type User @cacheControl(maxAge: 60) {
  id: ID!
  name: String!
  email: String @cacheControl(scope: PRIVATE)
  friends(first: Int, last: Int): [User!]! @listSize(slicingArguments: ["first", "last"])
  posts: [Post!]! @listSize(assumedSize: 5)
  score: Expensive
  heavy: Int @cost(weight: "7")
  profile: Profile @cacheControl(inheritMaxAge: true)
}
type Profile { bio: String }
type Post { id: ID! title: String author: User }
type UserEdge { node: User cursor: String }
type UserConnection { edges: [UserEdge!]! total: Int }
input Filter { q: String @cost(weight: "4") }
union SearchResult = User | Post

type Query {
  user(id: ID!): User
  users(first: Int = 20, filter: Filter, expensiveArg: Int @cost(weight: "2")): [User!]! @listSize(slicingArguments: ["first"])
  connection(first: Int, after: String): UserConnection @listSize(slicingArguments: ["first"], sizedFields: ["edges"])
  tags: [String!]!
  search: [SearchResult!]!
  ping: String @cacheControl(maxAge: 30)
  me: User @cacheControl(maxAge: 10, scope: PRIVATE)
}
`

func costEngine(t testing.TB) *Engine {
	t.Helper()
	nothing := resolved(nil)
	e, err := New(Config{
		Schema: mustSchema(t, costSDL),
		Resolvers: map[string]map[string]Field{"Query": {
			"user": nothing, "users": nothing, "connection": nothing, "tags": nothing,
			"search": nothing, "ping": nothing, "me": nothing,
		}},
		Scalars:       map[string]Scalar{"Expensive": {}},
		Introspection: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCost(t *testing.T) {
	e := costEngine(t)
	types := len(e.schema.Types)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{name: "composite field weighs 1, scalars 0", query: `{ user(id: 1) { id name } }`, want: 1},
		{name: "typename is free", query: `{ __typename user(id: 1) { __typename } }`, want: 1},
		{name: "slicing argument default", query: `{ users { id } }`, want: 20},
		{name: "slicing argument literal", query: `{ users(first: 3) { id } }`, want: 3},
		{name: "slicing literal beyond Int: the field will fail, not the cost", query: `{ users(first: 3000000000) { id } }`, want: 20},
		{name: "largest of several slicing arguments", query: `{ users(first: 3) { friends(first: 2, last: 5) { id } } }`, want: 3 * (1 + 5)},
		{name: "no slicing argument, no default: DefaultListSize", query: `{ users(first: 2) { friends { id } } }`, want: 2 * (1 + 10)},
		{name: "assumedSize", query: `{ user(id: 1) { posts { id } } }`, want: 1 + 5},
		{name: "field and scalar type weights", query: `{ user(id: 1) { score heavy } }`, want: 1 + 3 + 7},
		{name: "list of scalars", query: `{ tags }`, want: 0},
		{name: "argument and input field weights", query: `{ users(first: 1, expensiveArg: 1, filter: {q: "x"}) { id } }`, want: 2 + 4 + 1},
		{name: "sizedFields size the connection's edges", query: `{ connection(first: 4) { total edges { node { id } } } }`, want: 1 + 4*(1+1)},
		{name: "fragment counted once per spread", query: `{ user(id: 1) { ...F } u2: user(id: 2) { ...F } } fragment F on User { posts { id } }`, want: 2 * (1 + 5)},
		{name: "fragments on abstract types are summed", query: `{ search { ... on User { posts { id } } ... on Post { author { id } } } }`, want: 10 * (1 + 5 + 1)},
		{name: "literal skip is honoured", query: `{ user(id: 1) { posts @skip(if: true) { id } friends @include(if: false) { id } } }`, want: 1},
		{name: "variable skip counts", query: `query ($s: Boolean!) { user(id: 1) { posts @skip(if: $s) { id } } }`, vars: map[string]any{"s": true}, want: 6},
		{name: "slicing argument from a variable", query: `query ($n: Int) { users(first: $n) { id } }`, vars: map[string]any{"n": 7}, want: 7},
		{name: "absent variable: argument default", query: `query ($n: Int) { users(first: $n) { id } }`, want: 20},
		{name: "null variable: argument default", query: `query ($n: Int) { users(first: $n) { id } }`, vars: map[string]any{"n": nil}, want: 20},
		{name: "variable default", query: `query ($n: Int = 4) { users(first: $n) { friends(first: $n) { id } } }`, want: 4 * (1 + 4)},
		{name: "variable inside a shared fragment", query: `query ($n: Int) { a: users(first: 2) { ...U } b: users(first: 1) { ...U } } fragment U on User { friends(first: $n) { id } }`,
			vars: map[string]any{"n": 3}, want: 2*(1+3) + 1*(1+3)},
		{name: "introspection types list sized by the schema", query: `{ __schema { types { name } } }`, want: 1 + types},
		{name: "mutation-free schema", query: `{ ping }`, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op, err := e.Prepare(context.Background(), Request{Query: tc.query, Variables: tc.vars})
			if err != nil {
				t.Fatal(err)
			}
			if op.Cost != tc.want {
				t.Errorf("Cost = %d, want %d", op.Cost, tc.want)
			}
			if got := e.Cost(op); got != op.Cost {
				t.Errorf("Engine.Cost = %d, want %d", got, op.Cost)
			}
		})
	}
}

func TestCostFromVariablesOnCachedDocument(t *testing.T) {
	e := costEngine(t)
	q := `query ($n: Int) { users(first: $n) { friends(first: $n) { id } } }`
	small, err := e.Prepare(context.Background(), Request{Query: q, Variables: map[string]any{"n": 10}})
	if err != nil {
		t.Fatal(err)
	}
	if small.Cost != 10*11 {
		t.Errorf("Cost = %d, want 110", small.Cost)
	}
	_, err = e.Prepare(context.Background(), Request{Query: q, Variables: map[string]any{"n": 1000}})
	errs := AsErrors(err)
	if len(errs) != 1 || errs[0].Code() != CodeTooComplex || errs[0].Extensions["cost"] != 1000*1001 || errs[0].Extensions["maxCost"] != 5000 {
		t.Fatalf("got %v, want %s with cost 1001000", err, CodeTooComplex)
	}
}

func TestStandardIntrospectionFitsDefaults(t *testing.T) {
	e := newLibrary(t, nil, nil)
	op, err := e.Prepare(context.Background(), Request{Query: standardIntrospectionQuery})
	if err != nil {
		t.Fatal(err)
	}
	if op.Depth != 12 || op.Cost <= 0 || op.Cost > DefaultMaxCost {
		t.Errorf("Depth = %d, Cost = %d; want 12 and a cost within the default", op.Depth, op.Cost)
	}
}

func TestCostDirectiveMustBeANumber(t *testing.T) {
	s := mustSchema(t, `directive @cost(weight: String!) on FIELD_DEFINITION type Query { a: Int @cost(weight: "lots") }`)
	_, err := New(Config{Schema: s, Resolvers: map[string]map[string]Field{"Query": {"a": resolved(1)}}})
	if err == nil {
		t.Fatal("New accepted a non-numeric weight")
	}
}

func TestCacheHint(t *testing.T) {
	e := costEngine(t)
	tests := []struct {
		name    string
		query   string
		maxAge  time.Duration
		private bool
		types   []string
	}{
		{name: "type hint, scalars inherit", query: `{ user(id: 1) { id name } }`, maxAge: 60 * time.Second, types: []string{"User"}},
		{name: "private field", query: `{ user(id: 1) { email } }`, maxAge: 60 * time.Second, private: true, types: []string{"User"}},
		{name: "composite without hint is 0", query: `{ user(id: 1) { posts { id } } }`, types: []string{"Post", "User"}},
		{name: "inheritMaxAge", query: `{ user(id: 1) { profile { bio } } }`, maxAge: 60 * time.Second, types: []string{"Profile", "User"}},
		{name: "field hint", query: `{ ping }`, maxAge: 30 * time.Second},
		{name: "minimum over fields", query: `{ ping user(id: 1) { id } }`, maxAge: 30 * time.Second, types: []string{"User"}},
		{name: "field hint overrides type hint", query: `{ me { id } }`, maxAge: 10 * time.Second, private: true, types: []string{"User"}},
		{name: "root scalar without hint is 0", query: `{ tags ping }`},
		{name: "union lists all possible types", query: `{ search { __typename } }`, types: []string{"Post", "User"}},
		{name: "through fragments", query: `{ ...Q } fragment Q on Query { user(id: 1) { ...U } } fragment U on User { name }`, maxAge: 60 * time.Second, types: []string{"User"}},
		{name: "introspection is not tagged", query: `{ __schema { queryType { name } } }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op, err := e.Prepare(context.Background(), Request{Query: tc.query})
			if err != nil {
				t.Fatal(err)
			}
			h := op.CacheHint
			if h.MaxAge != tc.maxAge || h.Private != tc.private || !slices.Equal(h.Types, tc.types) {
				t.Errorf("CacheHint = %+v, want {MaxAge:%v Private:%v Types:%v}", h, tc.maxAge, tc.private, tc.types)
			}
		})
	}
}
