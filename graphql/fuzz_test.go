package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const fuzzSDL = `
interface Node { id: ID! }
type Item implements Node {
  id: ID!
  name: String
  tags: [String!]
  children(first: Int = 3): [Item!]!
  parent: Item
  owner: Person
}
type Person implements Node { id: ID! name: String! items(first: Int): [Item] }
union Any = Item | Person
enum Kind { A B }
input Filter { kind: Kind, ids: [ID!], first: Int = 2 }
type Query {
  items(first: Int = 5, filter: Filter): [Item!]!
  node(id: ID!): Node
  search(q: String): [Any]
  echo(s: String, n: Int, f: Float, b: Boolean, k: Kind, l: [Int]): String
}
type Mutation { touch(id: ID!): Item }
`

// fuzzEngine serves fuzzSDL with bounded, well-behaved resolvers; children
// and owners are thunks, so the fuzzer exercises level-by-level forcing.
func fuzzEngine(t testing.TB) *Engine {
	t.Helper()
	count := func(p ResolveParams, def, most int) int {
		n, ok := p.Args["first"].(int)
		if !ok {
			n = def
		}
		return max(0, min(n, most))
	}
	item := func(id string) map[string]any {
		return map[string]any{"__typename": "Item", "id": id, "name": "item " + id, "tags": []string{"x", id}}
	}
	items := func(prefix string, n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = item(fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	person := func(id string) map[string]any {
		return map[string]any{"__typename": "Person", "id": id, "name": "person " + id}
	}
	e, err := New(Config{
		Schema:         mustSchema(t, fuzzSDL),
		MaxConcurrency: 4,
		Introspection:  true,
		Resolvers: map[string]map[string]Field{
			"Query": {
				"items": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return items("i", count(p, 5, 20)), nil }},
				"node": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
					id, _ := p.Args["id"].(string)
					if strings.HasPrefix(id, "p") {
						return person(id), nil
					}
					return item(id), nil
				}},
				"search": {Blocking: true, Resolve: func(context.Context, ResolveParams) (any, error) {
					return []any{item("s1"), person("p1"), nil}, nil
				}},
				"echo": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return fmt.Sprint(p.Args), nil }},
			},
			"Mutation": {"touch": {Resolve: func(_ context.Context, p ResolveParams) (any, error) { return item(fmt.Sprint(p.Args["id"])), nil }}},
			"Item": {
				"children": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
					id := p.Source.(map[string]any)["id"].(string)
					n := count(p, 3, 5)
					return Thunk(func() (any, error) { return items(id+".", n), nil }), nil
				}},
				"parent": {Resolve: func(context.Context, ResolveParams) (any, error) { return nil, fmt.Errorf("no parent") }},
				"owner": {Resolve: func(_ context.Context, p ResolveParams) (any, error) {
					id := p.Source.(map[string]any)["id"].(string)
					return Thunk(func() (any, error) { return person("p-" + id), nil }), nil
				}},
			},
			"Person": {"items": {Blocking: true, Resolve: func(_ context.Context, p ResolveParams) (any, error) {
				return items("pi", count(p, 2, 5)), nil
			}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fuzzSeeds are also committed under testdata/fuzz/FuzzPrepareExecute.
var fuzzSeeds = [][2]string{
	{`{ items { id name tags children { id owner { name } } } }`, ``},
	{`query Q($n: Int, $f: Filter) { items(first: $n, filter: $f) { ...I } } fragment I on Item { id children(first: $n) { id } }`, `{"n": 4, "f": {"kind": "A", "ids": ["1"]}}`},
	{`{ node(id: "p1") { id ... on Person { name items { id } } ... on Item { name } } }`, ``},
	{`{ search { __typename ... on Item { id } ... on Person { name } } }`, ``},
	{`query ($l: [Int], $k: Kind) { echo(s: "x", n: 1, f: 1.5, b: true, k: $k, l: $l) }`, `{"l": [1, 2, 3], "k": "B"}`},
	{`mutation { a: touch(id: "1") { id } b: touch(id: "2") { parent { id } } }`, ``},
	{`{ __schema { types { name fields { name type { name ofType { name } } } } } }`, ``},
	{`{ items { children { children { children { id } } } } }`, ``},
	{`{ items { ...A } } fragment A on Item { ...B } fragment B on Item { ...A }`, ``},
	{`{ items { id @skip(if: true) @skip(if: false) } }`, ``},
	{`{ a0: items { id } a1: items { id } a2: items { id } a3: items { id } }`, ``},
	{"{ it\xffems { id } }", ``},
	{`query ($n: Int!) { items(first: $n) { id } }`, `{"n": "many"}`},
	{`query ($l: [Int]) { echo(l: $l) }`, `{"l": [[1], [2]]}`},
	{`{ node(id: 1) { id } }`, `not json`},
	{`subscription { items { id } }`, ``},
}

func FuzzPrepareExecute(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	e := fuzzEngine(f)
	f.Fuzz(func(t *testing.T, query, variables string) {
		var vars map[string]any
		if variables != "" {
			dec := json.NewDecoder(strings.NewReader(variables))
			dec.UseNumber()
			if dec.Decode(&vars) != nil {
				vars = nil
			}
		}
		ctx := context.Background()
		op, err := e.Prepare(ctx, Request{Query: query, Variables: vars})
		if err != nil {
			errs := AsErrors(err)
			if len(errs) == 0 {
				t.Fatalf("Prepare error %v flattens to no errors", err)
			}
			for _, ge := range errs {
				if ge.Code() == "" {
					t.Fatalf("Prepare error without a code: %v", ge)
				}
			}
			if out := (&Response{Errors: errs}).AppendJSON(nil); !json.Valid(out) {
				t.Fatalf("invalid error JSON: %s", out)
			}
			return
		}
		if op.Cost < 0 || op.Depth < 0 {
			t.Fatalf("Cost %d, Depth %d", op.Cost, op.Depth)
		}
		resp := e.Execute(ctx, op)
		if out := resp.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid response JSON: %s", out)
		}
	})
}
