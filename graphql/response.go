package graphql

import (
	"io"
)

// Response is the result of executing an operation (§7.1).
type Response struct {
	// Data is the JSON of the "data" entry, object fields in selection
	// order. It is nil when execution did not start (a request error), in
	// which case "data" is omitted, and the bytes null when execution
	// started but a null propagated to the root.
	Data []byte
	// Errors are the request or field errors, ordered by location and path.
	Errors []*Error
}

// AppendJSON appends the response, {"data":...,"errors":[...]}, to dst.
// "errors" is omitted when empty and "data" when execution did not start.
func (r *Response) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if r.Data != nil {
		dst = append(dst, `"data":`...)
		dst = append(dst, r.Data...)
	}
	if len(r.Errors) > 0 {
		if r.Data != nil {
			dst = append(dst, ',')
		}
		dst = append(dst, `"errors":[`...)
		for i, e := range r.Errors {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// MarshalJSON returns AppendJSON(nil); it never fails.
func (r *Response) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(nil), nil
}

// WriteJSON writes the response JSON to w.
func (r *Response) WriteJSON(w io.Writer) error {
	_, err := w.Write(r.AppendJSON(make([]byte, 0, len(r.Data)+64)))
	return err
}

// MarshalJSON encodes the error as the specification describes (§7.1.2):
// message, then locations, path and extensions when present. Err is never
// encoded.
func (e *Error) MarshalJSON() ([]byte, error) {
	return e.appendJSON(nil), nil
}

func (e *Error) appendJSON(b []byte) []byte {
	b = append(b, `{"message":`...)
	b = appendJSONString(b, e.Message)
	if len(e.Locations) > 0 {
		b = append(b, `,"locations":[`...)
		for i, l := range e.Locations {
			if i > 0 {
				b = append(b, ',')
			}
			w := JSONWriter{buf: append(b, `{"line":`...)}
			w.WriteInt(int64(l.Line))
			w.buf = append(w.buf, `,"column":`...)
			w.WriteInt(int64(l.Column))
			b = append(w.buf, '}')
		}
		b = append(b, ']')
	}
	if len(e.Path) > 0 {
		w := JSONWriter{buf: append(b, `,"path":`...)}
		if err := w.WriteValue([]any(e.Path)); err != nil {
			w.buf = append(w.buf[:len(b)+len(`,"path":`)], "null"...)
		}
		b = w.buf
	}
	if len(e.Extensions) > 0 {
		start := len(b)
		w := JSONWriter{buf: append(b, `,"extensions":`...)}
		if err := w.WriteValue(e.Extensions); err != nil {
			w.buf = w.buf[:start]
		}
		b = w.buf
	}
	return append(b, '}')
}
