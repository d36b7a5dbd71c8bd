package graphql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Error codes emitted by the engine in Error.Extensions["code"]. They follow
// the names common GraphQL servers use so that clients can branch on them.
const (
	// CodeParseFailed marks a query text that is not syntactically valid GraphQL.
	CodeParseFailed = "GRAPHQL_PARSE_FAILED"
	// CodeValidationFailed marks a document that does not validate against the
	// schema, an operation that cannot be selected, or disabled introspection.
	CodeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	// CodeBadUserInput marks variable values that cannot be coerced.
	CodeBadUserInput = "BAD_USER_INPUT"
	// CodeInternal marks a resolver panic; the message is deliberately generic.
	CodeInternal = "INTERNAL_SERVER_ERROR"
)

// Location is a line and column (both 1-based) in the query text.
type Location struct {
	Line, Column int
}

// Path is a response path: string elements name fields (by response key) and
// int elements index list items.
type Path []any

// String renders the path as "a.b[2].c", the form used in variable error messages.
func (p Path) String() string {
	var b strings.Builder
	for i, el := range p {
		switch el := el.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", el)
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, el)
		}
	}
	return b.String()
}

// Error is a GraphQL error as described in §7.1.2. Err is the underlying cause
// (for example a resolver's error) and is never serialized, so that the
// transport layer can map causes to codes and public messages without
// leaking internals.
type Error struct {
	Message    string
	Locations  []Location
	Path       Path
	Extensions map[string]any
	Err        error
}

// Error returns the message, prefixed with the path when there is one.
func (e *Error) Error() string {
	if len(e.Path) > 0 {
		return "graphql: " + e.Path.String() + ": " + e.Message
	}
	return "graphql: " + e.Message
}

// Unwrap returns the underlying cause so that errors.Is and errors.As see it.
func (e *Error) Unwrap() error { return e.Err }

// Code returns Extensions["code"] when it is a string, or "".
func (e *Error) Code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// Errors is a list of errors. Prepare returns it when it finds more than one
// problem; it unwraps to its elements so errors.As finds the first *Error.
type Errors []*Error

// Error joins the messages of all errors.
func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the elements, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// AsErrors flattens an error returned by Prepare into its GraphQL errors. An
// error that is neither Errors nor *Error becomes one *Error with that cause.
func AsErrors(err error) []*Error {
	if err == nil {
		return nil
	}
	var list Errors
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return []*Error{one}
	}
	return []*Error{{Message: err.Error(), Err: err}}
}

// PanicError is the cause (Error.Err) of the error recorded when a resolver
// panics. It keeps the panic value and the stack for logs; neither is sent
// to clients.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic value.
func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// newCodedError builds an error with a code and optional locations.
func newCodedError(code, msg string, locs ...Location) *Error {
	return &Error{Message: msg, Locations: locs, Extensions: map[string]any{"code": code}}
}

// fromGQLError converts a gqlparser error, keeping its message and locations.
func fromGQLError(code string, ge *gqlerror.Error) *Error {
	e := newCodedError(code, ge.Message)
	for _, l := range ge.Locations {
		e.Locations = append(e.Locations, Location{Line: l.Line, Column: l.Column})
	}
	e.Err = ge
	return e
}

// maxRequestErrors bounds the errors one request's document or variables may produce, as
// graphql-js bounds validation (maxErrors): a 20 KB document of 3,000 unknown arguments would
// otherwise be answered with half a megabyte.
const maxRequestErrors = 100

// errorList returns nil, the single error, or Errors: the shape Prepare promises. Past
// maxRequestErrors, the rest are replaced by one error saying so.
func errorList(errs []*Error) error {
	if len(errs) > maxRequestErrors {
		more := len(errs) - (maxRequestErrors - 1)
		code, _ := errs[0].Extensions["code"].(string)
		errs = append(errs[:maxRequestErrors-1:maxRequestErrors-1],
			newCodedError(code, fmt.Sprintf("Too many errors: %d more not shown.", more)))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	default:
		return Errors(errs)
	}
}
