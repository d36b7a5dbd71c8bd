package graphql

import (
	"context"
	"crypto/sha256"
	"errors"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Request is one GraphQL request as received over HTTP, already decoded from
// JSON by the caller (with or without json.Decoder.UseNumber).
type Request struct {
	Query         string
	OperationName string
	Variables     map[string]any
	Extensions    map[string]any
}

// Operation is a prepared, executable operation: the validated document, the
// chosen operation and the coerced variables. Document and Definition are
// shared with the document cache and other requests and must not be modified.
type Operation struct {
	Document   *ast.QueryDocument
	Definition *ast.OperationDefinition
	Kind       ast.Operation // ast.Query, ast.Mutation or ast.Subscription
	Name       string
	Variables  map[string]any // coerced
	Hash       [32]byte       // SHA-256 of the query text, the document cache key
}

// Prepare parses and validates the query through the bounded document cache,
// selects the operation named by req.OperationName and coerces the
// variables. Failures are *Error values, or Errors when there are several,
// with codes CodeParseFailed (syntax), CodeValidationFailed (validation,
// disabled introspection, unknown operationName, several operations without
// operationName, no operation) or CodeBadUserInput (variable coercion).
func (e *Engine) Prepare(ctx context.Context, req Request) (*Operation, error) {
	hash := hashQuery(req.Query)
	d, err := e.document(hash, req.Query)
	if err != nil {
		return nil, err
	}
	if d.introspects && !e.introspection {
		return nil, newCodedError(CodeValidationFailed, "GraphQL introspection is disabled on this server.")
	}
	op, err := selectOperation(d, req.OperationName)
	if err != nil {
		return nil, err
	}
	vars, err := e.coerceVariables(op, req.Variables)
	if err != nil {
		return nil, err
	}
	return &Operation{
		Document:   d.doc,
		Definition: op,
		Kind:       op.Operation,
		Name:       op.Name,
		Variables:  vars,
		Hash:       hash,
	}, nil
}

// hashQuery hashes the text through a fixed buffer, which avoids copying a
// large query into a byte slice just to hash it.
func hashQuery(q string) [32]byte {
	h := sha256.New()
	var buf [1024]byte
	for len(q) > 0 {
		n := copy(buf[:], q)
		h.Write(buf[:n])
		q = q[n:]
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// document returns the cached document for the text or parses, validates
// and caches it. Invalid documents are not cached: their errors are
// cheap to reproduce and caching them would let bad traffic evict good
// documents.
func (e *Engine) document(hash [32]byte, query string) (*document, error) {
	if d, ok := e.docs.get(hash); ok {
		return d, nil
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: query})
	if perr != nil {
		var ge *gqlerror.Error
		if errors.As(perr, &ge) {
			return nil, fromGQLError(CodeParseFailed, ge)
		}
		return nil, &Error{Message: perr.Error(), Extensions: map[string]any{"code": CodeParseFailed}, Err: perr}
	}
	if list := validator.ValidateWithRules(e.schema, doc, e.rules); len(list) > 0 {
		errs := make([]*Error, len(list))
		for i, ge := range list {
			errs[i] = fromGQLError(CodeValidationFailed, ge)
		}
		return nil, errorList(errs)
	}
	d := &document{doc: doc, byName: make(map[string]*ast.OperationDefinition, len(doc.Operations))}
	for _, op := range doc.Operations {
		if op.Name != "" {
			d.byName[op.Name] = op
		}
		if selectsIntrospection(doc, op.SelectionSet) {
			d.introspects = true
		}
	}
	return e.docs.add(hash, d), nil
}

// selectsIntrospection reports whether the root selection set, through its
// fragments, selects __schema or __type. Only the query root has those
// fields, so nested selection sets need no look.
func selectsIntrospection(doc *ast.QueryDocument, set ast.SelectionSet) bool {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	walk = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.Name == "__schema" || sel.Name == "__type" {
					return true
				}
			case *ast.InlineFragment:
				if walk(sel.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if seen[sel.Name] {
					continue
				}
				seen[sel.Name] = true
				if f := doc.Fragments.ForName(sel.Name); f != nil && walk(f.SelectionSet) {
					return true
				}
			}
		}
		return false
	}
	return walk(set)
}

// selectOperation implements GetOperation (§6.1).
func selectOperation(d *document, name string) (*ast.OperationDefinition, error) {
	if name != "" {
		if op := d.byName[name]; op != nil {
			return op, nil
		}
		return nil, newCodedError(CodeValidationFailed, `Unknown operation named "`+name+`".`)
	}
	switch len(d.doc.Operations) {
	case 0:
		return nil, newCodedError(CodeValidationFailed, "Must provide an operation.")
	case 1:
		return d.doc.Operations[0], nil
	default:
		return nil, newCodedError(CodeValidationFailed, "Must provide operation name if query contains multiple operations.")
	}
}
