package graphql

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// JSONWriter appends JSON to a byte slice. The engine hands one to
// Scalar.Serialize, which must write exactly one JSON value; the engine also
// uses it to write responses. Appending to a slice, rather than going through
// encoding/json, keeps the response path free of reflection and of an
// intermediate map tree. The zero value is ready to use.
type JSONWriter struct {
	buf []byte
}

// Bytes returns the JSON written so far. The slice aliases the writer's buffer.
func (w *JSONWriter) Bytes() []byte { return w.buf }

// Reset discards what was written, keeping the buffer for reuse.
func (w *JSONWriter) Reset() { w.buf = w.buf[:0] }

// WriteNull writes null.
func (w *JSONWriter) WriteNull() { w.buf = append(w.buf, "null"...) }

// WriteBool writes true or false.
func (w *JSONWriter) WriteBool(b bool) { w.buf = strconv.AppendBool(w.buf, b) }

// WriteInt writes a signed integer.
func (w *JSONWriter) WriteInt(i int64) { w.buf = strconv.AppendInt(w.buf, i, 10) }

// WriteUint writes an unsigned integer.
func (w *JSONWriter) WriteUint(u uint64) { w.buf = strconv.AppendUint(w.buf, u, 10) }

// WriteFloat writes a number the way encoding/json does, and fails without
// writing anything for NaN and infinities.
func (w *JSONWriter) WriteFloat(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("JSON cannot represent the number %v", f)
	}
	w.buf = appendFloat(w.buf, f)
	return nil
}

// WriteString writes s as a JSON string literal: quotes, backslashes and
// control characters are escaped and invalid UTF-8 becomes U+FFFD.
func (w *JSONWriter) WriteString(s string) { w.buf = appendJSONString(w.buf, s) }

// WriteRaw appends b unchanged; the caller guarantees it is one valid JSON value.
func (w *JSONWriter) WriteRaw(b []byte) { w.buf = append(w.buf, b...) }

// WriteValue writes an arbitrary value: nil, booleans, all Go integer and
// float kinds, strings, json.Number, json.RawMessage, []any and
// map[string]any (keys sorted, as encoding/json does) are written directly;
// anything else is marshalled with encoding/json. It is what the engine uses
// for error extensions and for custom scalars without a Serialize function.
func (w *JSONWriter) WriteValue(v any) error {
	switch v := v.(type) {
	case nil:
		w.WriteNull()
	case bool:
		w.WriteBool(v)
	case string:
		w.WriteString(v)
	case int:
		w.WriteInt(int64(v))
	case int32:
		w.WriteInt(int64(v))
	case int64:
		w.WriteInt(v)
	case float64:
		return w.WriteFloat(v)
	case json.Number:
		if !isJSONNumber(string(v)) {
			return fmt.Errorf("invalid number literal %q", string(v))
		}
		w.buf = append(w.buf, v...)
	case json.RawMessage:
		if !json.Valid(v) {
			return errors.New("invalid raw JSON value")
		}
		w.buf = append(w.buf, v...)
	case []any:
		w.buf = append(w.buf, '[')
		for i, el := range v {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			if err := w.WriteValue(el); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w.buf = append(w.buf, '{')
		for i, k := range keys {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.WriteString(k)
			w.buf = append(w.buf, ':')
			if err := w.WriteValue(v[k]); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, '}')
	default:
		return w.writeReflect(v)
	}
	return nil
}

// writeReflect handles the remaining numeric kinds without encoding/json and
// falls back to it for everything else.
func (w *JSONWriter) writeReflect(v any) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.WriteInt(rv.Int())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.WriteUint(rv.Uint())
		return nil
	case reflect.Float32, reflect.Float64:
		return w.WriteFloat(rv.Float())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.buf = append(w.buf, b...)
	return nil
}

// appendFloat formats like encoding/json: shortest representation, exponent
// notation only for very small or very large magnitudes.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Turn e-09 into e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. It is JSON escaping, not Go
// quoting: only '"', '\\' and control characters are escaped, invalid UTF-8
// is replaced by U+FFFD, and U+2028/U+2029 are escaped so the output is also
// safe to embed in JavaScript.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// isJSONNumber reports whether s is a valid JSON number literal.
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
