package graphql

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// This file coerces the built-in scalars (§3.5) in both directions: input
// coercion of decoded JSON variable values, and result coercion of resolved
// Go values. Resolved values take fast paths for the common Go types and
// fall back to reflection for named types (type Severity int) and pointers.

// isBuiltinScalar reports whether name is one of the specified scalars.
func isBuiltinScalar(name string) bool {
	switch name {
	case "Int", "Float", "String", "Boolean", "ID":
		return true
	}
	return false
}

// describe renders a value for an error message, as JSON when possible.
func describe(v any) string {
	var w JSONWriter
	if err := w.WriteValue(v); err != nil {
		return clip(fmt.Sprintf("%v", v))
	}
	return clip(string(w.Bytes()))
}

// maxDescribed bounds a value quoted in an error message: a client's megabyte-long variable is
// not sent back to it in full.
const maxDescribed = 200

// clip cuts s to maxDescribed bytes (on a rune boundary), marking the cut.
func clip(s string) string {
	if len(s) <= maxDescribed {
		return s
	}
	return strings.ToValidUTF8(s[:maxDescribed], "") + "…"
}

// inputInt coerces a variable value to Int: integral numbers within 32 bits.
func inputInt(v any) (any, error) {
	var f float64
	switch n := v.(type) {
	case int:
		return checkInt32(int64(n), v)
	case int64:
		return checkInt32(n, v)
	case int32:
		return int(n), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return checkInt32(i, v)
		}
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return nil, fmt.Errorf("Int cannot represent non-integer value: %s", describe(v))
		}
	case float64:
		f = n
	case float32:
		f = float64(n)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return checkInt32(rv.Int(), v)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if rv.Uint() > math.MaxInt32 {
				return nil, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %s", describe(v))
			}
			return int(rv.Uint()), nil
		}
		return nil, fmt.Errorf("Int cannot represent non-integer value: %s", describe(v))
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("Int cannot represent non-integer value: %s", describe(v))
	}
	if f > math.MaxInt32 || f < math.MinInt32 {
		return nil, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %s", describe(v))
	}
	return int(f), nil
}

func checkInt32(i int64, orig any) (any, error) {
	if i > math.MaxInt32 || i < math.MinInt32 {
		return nil, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %s", describe(orig))
	}
	return int(i), nil
}

// inputFloat coerces a variable value to Float: any finite number.
func inputFloat(v any) (any, error) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return nil, fmt.Errorf("Float cannot represent non numeric value: %s", describe(v))
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return nil, fmt.Errorf("Float cannot represent non numeric value: %s", describe(v))
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("Float cannot represent non numeric value: %s", describe(v))
	}
	return f, nil
}

// inputString coerces a variable value to String: strings only.
func inputString(v any) (any, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return nil, fmt.Errorf("String cannot represent a non string value: %s", describe(v))
}

// inputBoolean coerces a variable value to Boolean: booleans only.
func inputBoolean(v any) (any, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return nil, fmt.Errorf("Boolean cannot represent a non boolean value: %s", describe(v))
}

// inputID coerces a variable value to ID: a string, or an integer which
// becomes its decimal string.
func inputID(v any) (any, error) {
	switch n := v.(type) {
	case string:
		return n, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return strconv.FormatInt(int64(n), 10), nil
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return strconv.FormatInt(rv.Int(), 10), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return strconv.FormatUint(rv.Uint(), 10), nil
		}
	}
	return nil, fmt.Errorf("ID cannot represent value: %s", describe(v))
}

// inputBuiltin dispatches input coercion of a built-in scalar.
func inputBuiltin(name string, v any) (any, error) {
	switch name {
	case "Int":
		return inputInt(v)
	case "Float":
		return inputFloat(v)
	case "String":
		return inputString(v)
	case "Boolean":
		return inputBoolean(v)
	default:
		return inputID(v)
	}
}

// leaf is a completed scalar or enum value, ready to be written as JSON.
// Completing into this form up front means result coercion errors are
// known before any JSON is written, as null propagation requires.
type leaf struct {
	kind valueKind
	n    uint64
	s    string
}

// deref follows pointers; a nil pointer yields (nil, true).
func deref(v any) (any, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, true
		}
		rv = rv.Elem()
	}
	return rv.Interface(), false
}

// outputInt coerces a resolved value to Int.
func outputInt(v any) (leaf, bool, error) {
	var i int64
	switch n := v.(type) {
	case int:
		i = int64(n)
	case int32:
		i = int64(n)
	case int64:
		i = n
	case *int:
		if n == nil {
			return leaf{}, true, nil
		}
		i = int64(*n)
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return leaf{}, false, fmt.Errorf("Int cannot represent non-integer value: %v", n)
		}
		if n > math.MaxInt32 || n < math.MinInt32 {
			return leaf{}, false, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %v", n)
		}
		i = int64(n)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Pointer:
			d, isNil := deref(v)
			if isNil {
				return leaf{}, true, nil
			}
			return outputInt(d)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			i = rv.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if rv.Uint() > math.MaxInt32 {
				return leaf{}, false, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %v", v)
			}
			i = int64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			return outputInt(rv.Float())
		default:
			return leaf{}, false, fmt.Errorf("Int cannot represent non-integer value: %v", v)
		}
	}
	if i > math.MaxInt32 || i < math.MinInt32 {
		return leaf{}, false, fmt.Errorf("Int cannot represent non 32-bit signed integer value: %d", i)
	}
	return leaf{kind: kindInt, n: uint64(i)}, false, nil
}

// outputFloat coerces a resolved value to Float: any finite number.
func outputFloat(v any) (leaf, bool, error) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case *float64:
		if n == nil {
			return leaf{}, true, nil
		}
		f = *n
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Pointer:
			d, isNil := deref(v)
			if isNil {
				return leaf{}, true, nil
			}
			return outputFloat(d)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			f = float64(rv.Uint())
		case reflect.Float32, reflect.Float64:
			f = rv.Float()
		default:
			return leaf{}, false, fmt.Errorf("Float cannot represent non numeric value: %v", v)
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return leaf{}, false, fmt.Errorf("Float cannot represent non numeric value: %v", f)
	}
	return leaf{kind: kindFloat, n: math.Float64bits(f)}, false, nil
}

// outputString coerces a resolved value to String: strings, *string,
// []byte and named string types.
func outputString(v any) (leaf, bool, error) {
	switch s := v.(type) {
	case string:
		return leaf{kind: kindString, s: s}, false, nil
	case *string:
		if s == nil {
			return leaf{}, true, nil
		}
		return leaf{kind: kindString, s: *s}, false, nil
	case []byte:
		return leaf{kind: kindString, s: string(s)}, false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		d, isNil := deref(v)
		if isNil {
			return leaf{}, true, nil
		}
		return outputString(d)
	case reflect.String:
		return leaf{kind: kindString, s: rv.String()}, false, nil
	}
	return leaf{}, false, fmt.Errorf("String cannot represent value: %v", v)
}

// outputBoolean coerces a resolved value to Boolean.
func outputBoolean(v any) (leaf, bool, error) {
	switch b := v.(type) {
	case bool:
		return boolLeaf(b), false, nil
	case *bool:
		if b == nil {
			return leaf{}, true, nil
		}
		return boolLeaf(*b), false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		d, isNil := deref(v)
		if isNil {
			return leaf{}, true, nil
		}
		return outputBoolean(d)
	case reflect.Bool:
		return boolLeaf(rv.Bool()), false, nil
	}
	return leaf{}, false, fmt.Errorf("Boolean cannot represent a non boolean value: %v", v)
}

func boolLeaf(b bool) leaf {
	if b {
		return leaf{kind: kindBool, n: 1}
	}
	return leaf{kind: kindBool}
}

// outputID coerces a resolved value to ID: strings as they are, integers as
// their decimal string.
func outputID(v any) (leaf, bool, error) {
	switch n := v.(type) {
	case string:
		return leaf{kind: kindString, s: n}, false, nil
	case int:
		return leaf{kind: kindString, s: strconv.Itoa(n)}, false, nil
	case int64:
		return leaf{kind: kindString, s: strconv.FormatInt(n, 10)}, false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		d, isNil := deref(v)
		if isNil {
			return leaf{}, true, nil
		}
		return outputID(d)
	case reflect.String:
		return leaf{kind: kindString, s: rv.String()}, false, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return leaf{kind: kindString, s: strconv.FormatInt(rv.Int(), 10)}, false, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return leaf{kind: kindString, s: strconv.FormatUint(rv.Uint(), 10)}, false, nil
	}
	return leaf{}, false, fmt.Errorf("ID cannot represent value: %v", v)
}
