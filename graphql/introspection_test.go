package graphql

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// standardIntrospectionQuery is the query GraphiQL sends (graphql-js
// getIntrospectionQuery with descriptions, specifiedByURL, isRepeatable
// and input value deprecation). cmd/neko's tests send it to the real schema.
var standardIntrospectionQuery = func() string {
	b, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

type introTypeRef struct {
	Kind   string        `json:"kind"`
	Name   *string       `json:"name"`
	OfType *introTypeRef `json:"ofType"`
}

func (t *introTypeRef) String() string {
	switch t.Kind {
	case "NON_NULL":
		return t.OfType.String() + "!"
	case "LIST":
		return "[" + t.OfType.String() + "]"
	}
	return *t.Name
}

type introInputValue struct {
	Name         string       `json:"name"`
	Type         introTypeRef `json:"type"`
	DefaultValue *string      `json:"defaultValue"`
}

type introFullType struct {
	Kind           string  `json:"kind"`
	Name           string  `json:"name"`
	Description    *string `json:"description"`
	SpecifiedByURL *string `json:"specifiedByURL"`
	IsOneOf        *bool   `json:"isOneOf"`
	Fields         []struct {
		Name              string            `json:"name"`
		Args              []introInputValue `json:"args"`
		Type              introTypeRef      `json:"type"`
		IsDeprecated      bool              `json:"isDeprecated"`
		DeprecationReason *string           `json:"deprecationReason"`
	} `json:"fields"`
	InputFields []introInputValue `json:"inputFields"`
	Interfaces  []introTypeRef    `json:"interfaces"`
	EnumValues  []struct {
		Name              string  `json:"name"`
		IsDeprecated      bool    `json:"isDeprecated"`
		DeprecationReason *string `json:"deprecationReason"`
	} `json:"enumValues"`
	PossibleTypes []introTypeRef `json:"possibleTypes"`
}

func TestIntrospectionStandardQuery(t *testing.T) {
	e := newLibrary(t, nil, nil)
	resp := e.Do(context.Background(), Request{Query: standardIntrospectionQuery})
	if len(resp.Errors) > 0 {
		t.Fatalf("errors: %v", Errors(resp.Errors))
	}
	var data struct {
		Schema struct {
			QueryType        struct{ Name string }  `json:"queryType"`
			MutationType     *struct{ Name string } `json:"mutationType"`
			SubscriptionType *struct{ Name string } `json:"subscriptionType"`
			Types            []introFullType        `json:"types"`
			Directives       []struct {
				Name         string            `json:"name"`
				IsRepeatable bool              `json:"isRepeatable"`
				Locations    []string          `json:"locations"`
				Args         []introInputValue `json:"args"`
			} `json:"directives"`
		} `json:"__schema"`
	}
	if err := json.Unmarshal(resp.Data, &data); err != nil {
		t.Fatalf("decode: %v\n%s", err, resp.Data)
	}
	s := data.Schema
	if s.QueryType.Name != "Query" || s.MutationType == nil || s.MutationType.Name != "Mutation" || s.SubscriptionType != nil {
		t.Errorf("root types: query=%v mutation=%v subscription=%v", s.QueryType, s.MutationType, s.SubscriptionType)
	}
	types := map[string]introFullType{}
	for _, typ := range s.Types {
		types[typ.Name] = typ
	}
	for _, name := range []string{"Query", "Book", "Node", "SearchResult", "Genre", "EchoInput", "DateTime", "String", "Boolean", "__Schema", "__Type", "__TypeKind"} {
		if _, ok := types[name]; !ok {
			t.Errorf("type %s missing from __schema.types", name)
		}
	}

	field := func(typ, name string) (found bool, args map[string]introInputValue, ret string, deprecated bool, reason *string) {
		for _, f := range types[typ].Fields {
			if f.Name == name {
				args = map[string]introInputValue{}
				for _, a := range f.Args {
					args[a.Name] = a
				}
				return true, args, f.Type.String(), f.IsDeprecated, f.DeprecationReason
			}
		}
		return false, nil, "", false, nil
	}
	ptr := func(p *string) string {
		if p == nil {
			return "<null>"
		}
		return *p
	}

	t.Run("field types and argument defaults", func(t *testing.T) {
		ok, args, ret, _, _ := field("Query", "books")
		if !ok || ret != "[Book!]!" {
			t.Fatalf("Query.books: found=%v type=%q", ok, ret)
		}
		if got := ptr(args["limit"].DefaultValue); got != "10" {
			t.Errorf("limit default = %s, want 10", got)
		}
		if got := ptr(args["order"].DefaultValue); got != "TITLE_ASC" {
			t.Errorf("order default = %s, want TITLE_ASC", got)
		}
		if got := ptr(args["genre"].DefaultValue); got != "<null>" {
			t.Errorf("genre default = %s, want null", got)
		}
		if _, args, _, _, _ := field("Query", "stats"); ptr(args["kind"].DefaultValue) != `"all"` {
			t.Errorf("stats(kind) default = %s, want \"all\"", ptr(args["kind"].DefaultValue))
		}
		if ok, _, _, _, _ := field("Query", "__schema"); ok {
			t.Errorf("Query.__schema must not be listed among fields")
		}
	})
	t.Run("deprecation", func(t *testing.T) {
		ok, _, _, dep, reason := field("Book", "isbn")
		if !ok || !dep || ptr(reason) != "use id" {
			t.Errorf("Book.isbn: found=%v deprecated=%v reason=%s", ok, dep, ptr(reason))
		}
		var poetry bool
		for _, v := range types["Genre"].EnumValues {
			if v.Name == "POETRY" {
				poetry = v.IsDeprecated && ptr(v.DeprecationReason) == "merged into FICTION"
			}
		}
		if !poetry {
			t.Errorf("Genre.POETRY not reported deprecated: %+v", types["Genre"].EnumValues)
		}
	})
	t.Run("abstract types", func(t *testing.T) {
		var names []string
		for _, p := range types["SearchResult"].PossibleTypes {
			names = append(names, *p.Name)
		}
		if strings.Join(names, ",") != "Book,Author" {
			t.Errorf("SearchResult possibleTypes = %v", names)
		}
		if b := types["Book"]; len(b.Interfaces) != 1 || *b.Interfaces[0].Name != "Node" {
			t.Errorf("Book interfaces = %+v", b.Interfaces)
		}
		if len(types["Node"].PossibleTypes) != 2 {
			t.Errorf("Node possibleTypes = %+v", types["Node"].PossibleTypes)
		}
	})
	t.Run("input objects and scalars", func(t *testing.T) {
		in := types["EchoInput"]
		if in.Kind != "INPUT_OBJECT" || in.IsOneOf == nil || *in.IsOneOf {
			t.Errorf("EchoInput kind=%s isOneOf=%v", in.Kind, in.IsOneOf)
		}
		got := map[string]string{}
		for _, f := range in.InputFields {
			got[f.Name] = f.Type.String() + "=" + ptr(f.DefaultValue)
		}
		want := map[string]string{"text": "String!=<null>", "times": "Int=2", "upper": "Boolean=false", "tags": "[String!]=<null>", "genre": "Genre=<null>"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("EchoInput.%s = %s, want %s", k, got[k], v)
			}
		}
		if u := ptr(types["DateTime"].SpecifiedByURL); u != "https://tools.ietf.org/html/rfc3339" {
			t.Errorf("DateTime specifiedByURL = %s", u)
		}
		if d := ptr(types["Book"].Description); d != "A book in the library." {
			t.Errorf("Book description = %s", d)
		}
		if types["Book"].Fields == nil || types["Genre"].Fields != nil {
			t.Errorf("fields must be a list for objects and null for enums")
		}
	})
	t.Run("directives", func(t *testing.T) {
		var found bool
		for _, d := range s.Directives {
			if d.Name == "skip" {
				found = true
				if len(d.Args) != 1 || d.Args[0].Type.String() != "Boolean!" || strings.Join(d.Locations, ",") != "FIELD,FRAGMENT_SPREAD,INLINE_FRAGMENT" {
					t.Errorf("@skip = %+v", d)
				}
			}
			if d.Name == "deprecated" && (len(d.Args) != 1 || ptr(d.Args[0].DefaultValue) != `"No longer supported"`) {
				t.Errorf("@deprecated args = %+v", d.Args)
			}
		}
		if !found {
			t.Error("@skip missing")
		}
	})
}

func TestIntrospectionType(t *testing.T) {
	e := newLibrary(t, nil, nil)
	tests := []struct {
		name, query, want string
	}{
		{
			name:  "wrapped field type",
			query: `{ __type(name: "Query") { name kind fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }`,
		},
		{
			name:  "unknown type is null",
			query: `{ __type(name: "Nope") { name } }`,
			want:  `{"data":{"__type":null}}`,
		},
		{
			name:  "enum values without deprecated",
			query: `{ __type(name: "Genre") { enumValues { name } all: enumValues(includeDeprecated: true) { name } } }`,
			want:  `{"data":{"__type":{"enumValues":[{"name":"FICTION"},{"name":"SCIENCE"},{"name":"HISTORY"}],"all":[{"name":"FICTION"},{"name":"SCIENCE"},{"name":"HISTORY"},{"name":"POETRY"}]}}}`,
		},
		{
			name:  "typename in introspection",
			query: `{ __type(name: "Node") { __typename kind possibleTypes { name } } }`,
			want:  `{"data":{"__type":{"__typename":"__Type","kind":"INTERFACE","possibleTypes":[{"name":"Author"},{"name":"Book"}]}}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, e, Request{Query: tc.query})
			if tc.want == "" {
				if !strings.Contains(got, `{"name":"books","type":{"kind":"NON_NULL","name":null,"ofType":{"kind":"LIST","name":null,"ofType":{"kind":"NON_NULL","name":null,"ofType":{"kind":"OBJECT","name":"Book"}}}}}`) {
					t.Errorf("books type not found in %s", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestIntrospectionDisabled(t *testing.T) {
	e := newLibrary(t, nil, func(c *Config) { c.Introspection = false })
	tests := []struct {
		name, query string
		blocked     bool
	}{
		{name: "schema", query: `{ __schema { queryType { name } } }`, blocked: true},
		{name: "type", query: `{ __type(name: "Book") { name } }`, blocked: true},
		{name: "through fragment", query: `query { ...F } fragment F on Query { __schema { types { name } } }`, blocked: true},
		{name: "typename stays allowed", query: `{ __typename book(id: "b1") { __typename } }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Prepare(context.Background(), Request{Query: tc.query})
			if !tc.blocked {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			errs := AsErrors(err)
			if len(errs) != 1 || errs[0].Code() != CodeValidationFailed || !strings.Contains(errs[0].Message, "introspection is disabled") {
				t.Fatalf("got %v, want one %s error about disabled introspection", err, CodeValidationFailed)
			}
		})
	}
}

// With introspection off, validation does not suggest field names: "Did you mean" would
// enumerate the schema one typo at a time.
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	for _, introspection := range []bool{true, false} {
		e := newLibrary(t, nil, func(c *Config) { c.Introspection = introspection })
		_, err := e.Prepare(context.Background(), Request{Query: `{ boo(id: "b1") { id } }`})
		errs := AsErrors(err)
		if len(errs) != 1 || errs[0].Code() != CodeValidationFailed {
			t.Fatalf("introspection %v: %v", introspection, err)
		}
		if suggests := strings.Contains(errs[0].Message, "Did you mean"); suggests != introspection {
			t.Errorf("introspection %v: message %q", introspection, errs[0].Message)
		}
		if !strings.HasPrefix(errs[0].Message, `Cannot query field "boo" on type "Query".`) {
			t.Errorf("introspection %v: message %q", introspection, errs[0].Message)
		}
	}
}
