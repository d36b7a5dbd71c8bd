package graphql

import (
	"testing"
)

// conformanceCases is the execution conformance table: each case is one
// request against the library schema and the exact response JSON.
var conformanceCases = []struct {
	name string
	req  Request
	vars string
	want string
}{
	// Selection, aliases, fragments.
	{name: "fields in selection order with aliases", req: Request{Query: `{ b: book(id: "b1") { title id t2: title } }`}, want: `{"data":{"b":{"title":"The Hobbit","id":"b1","t2":"The Hobbit"}}}`},
	{name: "named fragment", req: Request{Query: `query { book(id: "b1") { ...BookParts } } fragment BookParts on Book { id title }`}, want: `{"data":{"book":{"id":"b1","title":"The Hobbit"}}}`},
	{name: "inline fragments on interface", req: Request{Query: `{ a: node(id: "a1") { id ... on Book { title } ... on Author { name } } b: node(id: "b1") { id ... on Book { title } ... on Author { name } } }`}, want: `{"data":{"a":{"id":"a1","name":"Tolkien"},"b":{"id":"b1","title":"The Hobbit"}}}`},
	{name: "nested fragments", req: Request{Query: `{ book(id: "b1") { ...A } } fragment A on Book { ...B author { ...C } } fragment B on Book { title } fragment C on Author { name books { ...B } }`}, want: `{"data":{"book":{"title":"The Hobbit","author":{"name":"Tolkien","books":[{"title":"The Hobbit"}]}}}}`},
	{name: "union with typename and inline fragments", req: Request{Query: `{ search(text: "x") { __typename ... on Book { title } ... on Author { name } } }`}, want: `{"data":{"search":[{"__typename":"Book","title":"Cosmos"},{"__typename":"Author","name":"Tolkien"}]}}`},
	{name: "interface fragment inside union", req: Request{Query: `{ search(text: "x") { ... on Node { id } } }`}, want: `{"data":{"search":[{"id":"b2"},{"id":"a1"}]}}`},
	{name: "same response key merges sub-selections", req: Request{Query: `{ book(id: "b1") { title author { name } author { id } } }`}, want: `{"data":{"book":{"title":"The Hobbit","author":{"name":"Tolkien","id":"a1"}}}}`},
	{name: "typename on query root", req: Request{Query: `{ __typename t: __typename }`}, want: `{"data":{"__typename":"Query","t":"Query"}}`},
	{name: "typename on mutation root", req: Request{Query: `mutation { __typename }`}, want: `{"data":{"__typename":"Mutation"}}`},
	{name: "abstract value without type name", req: Request{Query: `{ untyped { id } }`}, want: `{"data":{"untyped":null},"errors":[{"message":"Abstract type \"Node\" must resolve to an Object type at runtime for field \"Query.untyped\": the value of type map[string]interface {} neither implements GraphQLTypeName() nor has a \"__typename\" entry.","locations":[{"line":1,"column":3}],"path":["untyped"]}]}`},

	// Arguments and variables.
	{name: "variable default", req: Request{Query: `query ($limit: Int = 2) { books(limit: $limit) { id } }`}, want: `{"data":{"books":[{"id":"b1"},{"id":"b2"}]}}`},
	{name: "argument default", req: Request{Query: `{ books { id } }`}, want: `{"data":{"books":[{"id":"b1"},{"id":"b2"},{"id":"b3"}]}}`},
	{name: "enum variable", req: Request{Query: `query ($g: Genre) { books(genre: $g) { id genre } }`}, vars: `{"g":"SCIENCE"}`, want: `{"data":{"books":[{"id":"b2","genre":"SCIENCE"}]}}`},
	{name: "input object variable with defaults", req: Request{Query: `query ($in: EchoInput!) { echo(input: $in) }`}, vars: `{"in":{"text":"ab"}}`, want: `{"data":{"echo":"abab"}}`},
	{name: "input object literal", req: Request{Query: `{ echo(input: {text: "x", times: 3, upper: true}) }`}, want: `{"data":{"echo":"XXX"}}`},
	{name: "literal argument types", req: Request{Query: `{ echoArgs(i: 1, f: 2, s: "s", b: true, id: 7, g: FICTION, l: 5, j: {a: [1, "x"]}) }`}, want: `{"data":{"echoArgs":{"b":"bool:true","f":"float64:2","g":"string:FICTION","i":"int:1","id":"string:7","j":"map[string]interface {}:map[a:[1 x]]","l":"[]interface {}:[5]","s":"string:s"}}}`},
	{name: "input object explicit null present", req: Request{Query: `{ echoArgs(in: {text: "x", genre: null}) }`}, want: `{"data":{"echoArgs":{"in":"map[string]interface {}:map[genre:<nil> text:x times:2 upper:false]"}}}`},
	{name: "variable argument types", req: Request{Query: `query ($i: Int, $f: Float, $id: ID, $l: [Int], $when: DateTime) { echoArgs(i: $i, f: $f, id: $id, l: $l, when: $when) }`},
		vars: `{"i":3.0,"f":1,"id":42,"l":7,"when":"2020-01-02T03:04:05Z","unknown":true}`, want: `{"data":{"echoArgs":{"f":"float64:1","i":"int:3","id":"string:42","l":"[]interface {}:[7]","when":"time.Time:2020-01-02 03:04:05 +0000 UTC"}}}`},
	{name: "Int literal out of range is a field error", req: Request{Query: `{ books(limit: 3000000000) { id } book(id: "b1") { id } }`}, want: `{"data":null,"errors":[{"message":"Argument \"limit\" has invalid value 3000000000: Int cannot represent non 32-bit signed integer value: 3000000000","locations":[{"line":1,"column":3}],"path":["books"],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "absent nullable variable leaves argument absent", req: Request{Query: `query ($i: Int) { echoArgs(i: $i, s: "k") }`}, want: `{"data":{"echoArgs":{"s":"string:k"}}}`},
	{name: "variable coercion: wrong type", req: Request{Query: `query ($limit: Int) { books(limit: $limit) { id } }`}, vars: `{"limit":"abc"}`, want: `{"errors":[{"message":"Variable \"$limit\" got invalid value \"abc\"; Int cannot represent non-integer value: \"abc\"","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: non-integral Int", req: Request{Query: `query ($limit: Int) { books(limit: $limit) { id } }`}, vars: `{"limit":1.5}`, want: `{"errors":[{"message":"Variable \"$limit\" got invalid value 1.5; Int cannot represent non-integer value: 1.5","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: Int overflow", req: Request{Query: `query ($limit: Int) { books(limit: $limit) { id } }`}, vars: `{"limit":3000000000}`, want: `{"errors":[{"message":"Variable \"$limit\" got invalid value 3000000000; Int cannot represent non 32-bit signed integer value: 3000000000","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: missing required", req: Request{Query: `query ($id: ID!) { book(id: $id) { id } }`}, vars: `{}`, want: `{"errors":[{"message":"Variable \"$id\" of required type \"ID!\" was not provided.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: null for non-null", req: Request{Query: `query ($id: ID!) { book(id: $id) { id } }`}, vars: `{"id":null}`, want: `{"errors":[{"message":"Variable \"$id\" of non-null type \"ID!\" must not be null.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: unknown enum value", req: Request{Query: `query ($g: Genre) { books(genre: $g) { id } }`}, vars: `{"g":"ROMANCE"}`, want: `{"errors":[{"message":"Variable \"$g\" got invalid value \"ROMANCE\"; Value \"ROMANCE\" does not exist in \"Genre\" enum.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: input object unknown field", req: Request{Query: `query ($in: EchoInput!) { echo(input: $in) }`}, vars: `{"in":{"text":"a","bogus":1}}`, want: `{"errors":[{"message":"Variable \"$in\" got invalid value {\"bogus\":1,\"text\":\"a\"}; Field \"bogus\" is not defined by type \"EchoInput\".","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: input object missing field", req: Request{Query: `query ($in: EchoInput!) { echo(input: $in) }`}, vars: `{"in":{"times":1}}`, want: `{"errors":[{"message":"Variable \"$in\" got invalid value {\"times\":1}; Field \"text\" of required type \"String!\" was not provided.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: nested list item", req: Request{Query: `query ($in: EchoInput!) { echo(input: $in) }`}, vars: `{"in":{"text":"a","tags":["x",1]}}`, want: `{"errors":[{"message":"Variable \"$in\" got invalid value 1 at \"in.tags[1]\"; String cannot represent a non string value: 1","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: single value to list", req: Request{Query: `query ($l: [Int]) { echoArgs(l: $l) }`}, vars: `{"l":5}`, want: `{"data":{"echoArgs":{"l":"[]interface {}:[5]"}}}`},
	{name: "variable coercion: custom scalar", req: Request{Query: `query ($w: DateTime) { echoArgs(when: $w) }`}, vars: `{"w":5}`, want: `{"errors":[{"message":"Variable \"$w\" got invalid value 5; DateTime must be a string","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},
	{name: "variable coercion: several errors", req: Request{Query: `query ($a: Int!, $b: Boolean) { echoArgs(i: $a, b: $b) }`}, vars: `{"b":"yes"}`, want: `{"errors":[{"message":"Variable \"$a\" of required type \"Int!\" was not provided.","locations":[{"line":1,"column":8}],"extensions":{"code":"BAD_USER_INPUT"}},{"message":"Variable \"$b\" got invalid value \"yes\"; Boolean cannot represent a non boolean value: \"yes\"","locations":[{"line":1,"column":18}],"extensions":{"code":"BAD_USER_INPUT"}}]}`},

	// Operation selection.
	{name: "operation by name", req: Request{Query: `query A { __typename } query B { books(limit: 1) { id } }`, OperationName: "B"}, want: `{"data":{"books":[{"id":"b1"}]}}`},
	{name: "unknown operation name", req: Request{Query: `query A { __typename } query B { __typename }`, OperationName: "C"}, want: `{"errors":[{"message":"Unknown operation named \"C\".","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},
	{name: "several operations without name", req: Request{Query: `query A { __typename } query B { __typename }`}, want: `{"errors":[{"message":"Must provide operation name if query contains multiple operations.","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`},

	// Directives.
	{name: "skip and include literals", req: Request{Query: `{ book(id: "b1") { id title @skip(if: true) pages @include(if: false) rating @include(if: true) } }`}, want: `{"data":{"book":{"id":"b1","rating":4.5}}}`},
	{name: "skip and include variables", req: Request{Query: `query ($s: Boolean!, $i: Boolean = true) { book(id: "b1") { id @skip(if: $s) title @include(if: $i) } }`}, vars: `{"s":true}`, want: `{"data":{"book":{"title":"The Hobbit"}}}`},
	{name: "skip and include on fragments", req: Request{Query: `{ book(id: "b1") { ... on Book @skip(if: true) { title } ...F @include(if: false) id } } fragment F on Book { pages }`}, want: `{"data":{"book":{"id":"b1"}}}`},

	// Null propagation and errors.
	{name: "non-null root field makes data null", req: Request{Query: `{ book(id: "b1") { id } nonNullFails }`}, want: `{"data":null,"errors":[{"message":"Cannot return null for non-nullable field Query.nonNullFails.","locations":[{"line":1,"column":25}],"path":["nonNullFails"]}]}`},
	{name: "non-null child nulls nullable parent", req: Request{Query: `{ brokenBook { id title } book(id: "b1") { id } }`}, want: `{"data":{"brokenBook":null,"book":{"id":"b1"}},"errors":[{"message":"Cannot return null for non-nullable field Book.title.","locations":[{"line":1,"column":19}],"path":["brokenBook","title"]}]}`},
	{name: "null item in non-null list items nulls the list", req: Request{Query: `{ listWithNullItem { id } }`}, want: `{"data":{"listWithNullItem":null},"errors":[{"message":"Cannot return null for non-nullable field Query.listWithNullItem.","locations":[{"line":1,"column":3}],"path":["listWithNullItem",1]}]}`},
	{name: "null item in nullable list items", req: Request{Query: `{ listWithNullableItems { id } }`}, want: `{"data":{"listWithNullableItems":[{"id":"b1"},null]}}`},
	{name: "error deep in non-null list reaches data", req: Request{Query: `{ book(id: "b1") { id } strictList { id title } }`}, want: `{"data":null,"errors":[{"message":"Cannot return null for non-nullable field Book.title.","locations":[{"line":1,"column":41}],"path":["strictList",1,"title"]}]}`},
	{name: "resolver error keeps message and extensions", req: Request{Query: `{ failsCoded book(id: "b2") { title } }`}, want: `{"data":{"failsCoded":null,"book":{"title":"Cosmos"}},"errors":[{"message":"forbidden","locations":[{"line":1,"column":3}],"path":["failsCoded"],"extensions":{"code":"FORBIDDEN"}}]}`},
	{name: "resolver panic", req: Request{Query: `{ panics }`}, want: `{"data":{"panics":null},"errors":[{"message":"internal error","locations":[{"line":1,"column":3}],"path":["panics"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`},
	{name: "error locations on multi-line query", req: Request{Query: "query Q {\n  book(id: \"b1\") { id }\n  badEnum\n}"}, want: `{"data":{"book":{"id":"b1"},"badEnum":null},"errors":[{"message":"Enum \"Genre\" cannot represent value: \"ROMANCE\"","locations":[{"line":3,"column":3}],"path":["badEnum"]}]}`},

	// Leaf serialization.
	{name: "Int out of range", req: Request{Query: `{ badInt bigInt }`}, want: `{"data":{"badInt":null,"bigInt":2147483647},"errors":[{"message":"Int cannot represent non 32-bit signed integer value: 1099511627776","locations":[{"line":1,"column":3}],"path":["badInt"]}]}`},
	{name: "Float NaN", req: Request{Query: `{ nan }`}, want: `{"data":{"nan":null},"errors":[{"message":"Float cannot represent non numeric value: NaN","locations":[{"line":1,"column":3}],"path":["nan"]}]}`},
	{name: "string escaping", req: Request{Query: `{ escape }`}, want: `{"data":{"escape":"quote\" backslash\\ nl\n tab\t ctl\u0001 bad\ufffd uni\u2028 é"}}`},
	{name: "custom scalar and lists of scalars", req: Request{Query: `{ now book(id: "b1") { published tags rating pages isbn } }`}, want: `{"data":{"now":"2024-05-06T07:08:09Z","book":{"published":"2020-01-02T03:04:05Z","tags":["a","b"],"rating":4.5,"pages":100,"isbn":null}}}`},
	{name: "stats object by default resolution", req: Request{Query: `{ stats { count avgRating label } }`}, want: `{"data":{"stats":{"count":3,"avgRating":4.25,"label":"all"}}}`},

	// Mutations.
	{name: "mutation root fields run in order", req: Request{Query: `mutation { a: addBook(title: "X") { id title } b: addBook(title: "Y") { id } r: record(step: 3) }`}, want: `{"data":{"a":{"id":"n1","title":"X"},"b":{"id":"n2"},"r":3}}`},
}

func TestConformance(t *testing.T) {
	e := newLibrary(t, nil, nil)
	for _, tc := range conformanceCases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Variables = vars(t, tc.vars)
			got := do(t, e, req)
			if got != tc.want {
				t.Errorf("response mismatch\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}
