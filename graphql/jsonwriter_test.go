package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "hello", want: `"hello"`},
		{name: "empty", in: "", want: `""`},
		{name: "quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "short escapes", in: "\n\r\t\b\f", want: `"\n\r\t\b\f"`},
		{name: "other control characters", in: "\x00\x1f", want: `"\u0000\u001f"`},
		{name: "DEL and HTML pass through", in: "\x7f<&>", want: "\"\x7f<&>\""},
		{name: "multi-byte UTF-8", in: "é日本🙂", want: `"é日本🙂"`},
		{name: "invalid UTF-8", in: "a\xffb\xc3", want: `"a\ufffdb\ufffd"`},
		{name: "line and paragraph separators", in: "\u2028\u2029", want: `"\u2028\u2029"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendJSONString(nil, tc.in))
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Errorf("not valid JSON: %v", err)
			}
		})
	}
}

func TestJSONWriterNumbers(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{name: "integral", in: 3, want: "3"},
		{name: "fraction", in: 4.25, want: "4.25"},
		{name: "negative zero", in: math.Copysign(0, -1), want: "-0"},
		{name: "small", in: 1e-7, want: "1e-7"},
		{name: "large", in: 1e21, want: "1e+21"},
		{name: "below exponent threshold", in: 123456789012, want: "123456789012"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w JSONWriter
			if err := w.WriteFloat(tc.in); err != nil {
				t.Fatal(err)
			}
			if got := string(w.Bytes()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			std, _ := json.Marshal(tc.in)
			if string(std) != tc.want {
				t.Errorf("encoding/json writes %s", std)
			}
		})
	}
	var w JSONWriter
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := w.WriteFloat(f); err == nil {
			t.Errorf("WriteFloat(%v) succeeded", f)
		}
	}
	if len(w.Bytes()) != 0 {
		t.Errorf("failed writes left %q", w.Bytes())
	}
}

func TestJSONWriterValue(t *testing.T) {
	var w JSONWriter
	v := map[string]any{"b": []any{1, int64(2), 2.5, json.Number("7"), nil, true, "s"}, "a": map[string]any{"z": uint8(3)}, "c": struct {
		X int `json:"x"`
	}{X: 1}}
	if err := w.WriteValue(v); err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"z":3},"b":[1,2,2.5,7,null,true,"s"],"c":{"x":1}}`
	if got := string(w.Bytes()); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	w.Reset()
	if err := w.WriteValue(json.Number("1e")); err == nil {
		t.Error("invalid json.Number accepted")
	}
}

func TestResponseJSON(t *testing.T) {
	e := newLibrary(t, nil, nil)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{
			name: "data in selection order with escaping",
			req:  Request{Query: `{ z: stats { label count } a: escape b: book(id: "b2") { title rating } }`},
			want: `{"data":{"z":{"label":"all","count":3},"a":"quote\" backslash\\ nl\n tab\t ctl\u0001 bad\ufffd uni\u2028 é","b":{"title":"Cosmos","rating":4.75}}}`,
		},
		{
			name: "request error omits data",
			req:  Request{Query: `{`},
			want: `{"errors":[{"message":"Expected Name, found <EOF>","locations":[{"line":1,"column":2}],"extensions":{"code":"GRAPHQL_PARSE_FAILED"}}]}`,
		},
		{
			name: "null data keeps the data key",
			req:  Request{Query: `{ nonNullFails }`},
			want: `{"data":null,"errors":[{"message":"Cannot return null for non-nullable field Query.nonNullFails.","locations":[{"line":1,"column":3}],"path":["nonNullFails"]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.Do(context.Background(), tc.req)
			var buf bytes.Buffer
			if err := resp.WriteJSON(&buf); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("\n got: %s\nwant: %s", got, tc.want)
			}
			if !json.Valid(buf.Bytes()) {
				t.Error("invalid JSON")
			}
			// Through encoding/json, Response is its own Marshaler.
			var std bytes.Buffer
			enc := json.NewEncoder(&std)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(resp); err != nil || std.String() != tc.want+"\n" {
				t.Errorf("json encoding of Response = %s, %v", std.String(), err)
			}
		})
	}
}
