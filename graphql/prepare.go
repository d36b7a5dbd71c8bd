package graphql

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// Request is one GraphQL request as received over HTTP, already decoded from
// JSON by the caller (with or without json.Decoder.UseNumber). The engine
// does not interpret Extensions; they are carried for the transport layer
// (persisted queries, tracing flags).
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

	// Cost is the operation's static cost with its variables (see the
	// @cost and @listSize directives), checked against Config.MaxCost.
	Cost int
	// Depth is the nesting of the operation's fields, fragments expanded:
	// root fields are at 0 and __typename does not count.
	Depth int
	// CacheHint is the operation's cache policy from @cacheControl.
	CacheHint CacheHint

	costPlan *costPlan
}

// Prepare parses and validates the query through the bounded document cache,
// selects the operation named by req.OperationName, coerces the variables
// and prices the operation. Failures are *Error values, or Errors when
// there are several, with codes CodeParseFailed (syntax), CodeValidationFailed
// (validation, disabled introspection, unknown operationName, several
// operations without operationName, no operation), CodeBadUserInput
// (variable coercion), CodeTooComplex or CodeTooDeep (the limits of Config).
//
// Hostile input meets the cheap checks first: the size of the text (before
// hashing), the parser's token limit, then one linear walk of the AST that
// bounds depth, aliases, root fields and fields with fragments expanded,
// and only then validation, whose overlapping-fields rule is quadratic.
// A cached document has passed all of these; a cache hit costs the hash,
// the variable coercion and the evaluation of the operation's cost plan,
// which is proportional to the number of lists sized by variables.
func (e *Engine) Prepare(ctx context.Context, req Request) (*Operation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l := e.limits.bytes; l > 0 && len(req.Query) > l {
		return nil, limitError(CodeTooComplex, fmt.Sprintf("The document is %d bytes long, more than the maximum of %d.", len(req.Query), l),
			"bytes", len(req.Query), "maxBytes", l)
	}
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
	info := d.ops[op]
	cost := info.cost.eval(vars)
	if l := e.limits.cost; l > 0 && cost > l {
		return nil, limitError(CodeTooComplex, fmt.Sprintf("The operation costs %d, more than the maximum of %d.", cost, l),
			"cost", cost, "maxCost", l)
	}
	return &Operation{
		Document:   d.doc,
		Definition: op,
		Kind:       op.Operation,
		Name:       op.Name,
		Variables:  vars,
		Hash:       hash,
		Cost:       cost,
		Depth:      info.depth,
		CacheHint:  info.hint,
		costPlan:   info.cost,
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
	if err := checkUTF8(query); err != nil {
		return nil, err
	}
	doc, perr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, e.limits.tokens)
	if perr != nil {
		var ge *gqlerror.Error
		isGQL := errors.As(perr, &ge)
		if isGQL && e.limits.tokens > 0 && strings.HasPrefix(ge.Message, tokenLimitPrefix) {
			n := max(countTokens(query), e.limits.tokens+1)
			return nil, limitError(CodeTooComplex, fmt.Sprintf("The document has %d tokens, more than the maximum of %d.", n, e.limits.tokens),
				"tokens", n, "maxTokens", e.limits.tokens)
		}
		if isGQL {
			return nil, fromGQLError(CodeParseFailed, ge)
		}
		return nil, &Error{Message: perr.Error(), Extensions: map[string]any{"code": CodeParseFailed}, Err: perr}
	}
	depths, lerr := e.limits.checkDocument(doc)
	if lerr != nil {
		return nil, lerr
	}
	if list := validator.ValidateWithRules(e.schema, doc, e.rules); len(list) > 0 {
		errs := make([]*Error, len(list))
		for i, ge := range list {
			errs[i] = fromGQLError(CodeValidationFailed, ge)
			if !e.introspection {
				errs[i].Message = withoutSuggestions(errs[i].Message)
			}
		}
		return nil, errorList(errs)
	}
	d := &document{
		doc:    doc,
		byName: make(map[string]*ast.OperationDefinition, len(doc.Operations)),
		ops:    make(map[*ast.OperationDefinition]*operationInfo, len(doc.Operations)),
	}
	costs := e.newCostBuilder(doc)
	for _, op := range doc.Operations {
		if op.Name != "" {
			d.byName[op.Name] = op
		}
		if selectsIntrospection(doc, op.SelectionSet) {
			d.introspects = true
		}
		d.ops[op] = &operationInfo{depth: depths[op], cost: costs.plan(op), hint: e.cacheHint(doc, op)}
	}
	return e.docs.add(hash, d), nil
}

// checkUTF8 rejects a text that is not UTF-8 (GraphQL documents are
// Unicode text; the lexer would pass invalid bytes in strings and comments
// through to resolvers), locating the first invalid byte.
func checkUTF8(query string) *Error {
	if utf8.ValidString(query) {
		return nil
	}
	line, col := 1, 1
	for i, r := range query {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(query[i:]); size == 1 {
				break
			}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return newCodedError(CodeParseFailed, "The document is not valid UTF-8.", Location{Line: line, Column: col})
}

// tokenLimitPrefix starts the parser's error for a document over its token
// limit; gqlparser has no typed error for it.
const tokenLimitPrefix = "exceeded token limit"

// countTokens counts the tokens of a document that the parser refused for
// having too many, to report the number. It is linear in the text, which
// MaxDocumentBytes bounds, and stops at the first lexical error.
func countTokens(query string) int {
	lx := lexer.New(&ast.Source{Input: query})
	n := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return n
		}
		if tok.Kind != lexer.Comment {
			n++
		}
	}
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

// suggestion is the "Did you mean ...?" that validation appends to an unknown name.
var suggestion = regexp.MustCompile(` Did you mean [^?]*\?$`)

// withoutSuggestions removes validation's suggestions from msg. With introspection off, they
// would name the schema's fields one typo at a time ({ apiKey } suggests apiKeys), the very
// enumeration turning introspection off is meant to stop (Apollo Server hides them likewise).
func withoutSuggestions(msg string) string {
	return suggestion.ReplaceAllString(msg, "")
}
