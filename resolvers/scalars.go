package resolvers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/graphql"
)

// dateTimeScalar serializes time values as ISO-8601 UTC with milliseconds (what the original's
// graphql-iso-date produced) and parses RFC 3339 input.
func dateTimeScalar() graphql.Scalar {
	parse := func(s string) (any, error) {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("DateTime must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z: %q", s)
		}
		return t.UTC(), nil
	}
	return graphql.Scalar{
		Serialize: func(w *graphql.JSONWriter, v any) error {
			switch t := v.(type) {
			case time.Time:
				w.WriteString(isoString(t))
			case *time.Time:
				if t == nil {
					w.WriteNull()
					return nil
				}
				w.WriteString(isoString(*t))
			default:
				return fmt.Errorf("DateTime cannot represent %T", v)
			}
			return nil
		},
		ParseValue: func(v any) (any, error) {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("DateTime must be a string, got %T", v)
			}
			return parse(s)
		},
		ParseLiteral: func(v *ast.Value, _ map[string]any) (any, error) {
			if v.Kind != ast.StringValue {
				return nil, errors.New("DateTime must be a string")
			}
			return parse(v.Raw)
		},
	}
}

// maxJSONDepth bounds nesting of JSON scalar input.
const maxJSONDepth = 32

// jsonScalar passes arbitrary JSON through. Input is checked the way the original's sanitizer
// intended: object keys that start with "$" or contain "." are rejected, because such keys are
// MongoDB operators or paths and have no business in data a client sends.
func jsonScalar() graphql.Scalar {
	return graphql.Scalar{
		Serialize: func(w *graphql.JSONWriter, v any) error { return w.WriteValue(v) },
		ParseValue: func(v any) (any, error) {
			if err := checkJSONInput(v, 0); err != nil {
				return nil, err
			}
			return v, nil
		},
		ParseLiteral: func(v *ast.Value, vars map[string]any) (any, error) {
			out, err := literalValue(v, vars, 0)
			if err != nil {
				return nil, err
			}
			return out, checkJSONInput(out, 0)
		},
	}
}

func checkJSONInput(v any, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("JSON input nests deeper than %d levels", maxJSONDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, el := range x {
			if strings.HasPrefix(k, "$") || strings.Contains(k, ".") {
				return fmt.Errorf("JSON object key %q is not allowed: keys may not start with '$' or contain '.'", k)
			}
			if err := checkJSONInput(el, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, el := range x {
			if err := checkJSONInput(el, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// literalValue converts an inline GraphQL literal to the Go value JSON decoding would produce.
func literalValue(v *ast.Value, vars map[string]any, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON input nests deeper than %d levels", maxJSONDepth)
	}
	switch v.Kind {
	case ast.Variable:
		return vars[v.Raw], nil
	case ast.NullValue:
		return nil, nil
	case ast.IntValue:
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		if err != nil {
			return strconv.ParseFloat(v.Raw, 64)
		}
		return n, nil
	case ast.FloatValue:
		return strconv.ParseFloat(v.Raw, 64)
	case ast.BooleanValue:
		return v.Raw == "true", nil
	case ast.StringValue, ast.BlockValue, ast.EnumValue:
		return v.Raw, nil
	case ast.ListValue:
		out := make([]any, 0, len(v.Children))
		for _, c := range v.Children {
			el, err := literalValue(c.Value, vars, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, el)
		}
		return out, nil
	case ast.ObjectValue:
		out := make(map[string]any, len(v.Children))
		for _, c := range v.Children {
			el, err := literalValue(c.Value, vars, depth+1)
			if err != nil {
				return nil, err
			}
			out[c.Name] = el
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported literal kind %d", v.Kind)
}
