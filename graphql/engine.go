package graphql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// ResolveFunc resolves one field of one object. Returning an error makes the
// field null and records a field error; returning a *Error controls the
// message and extensions that clients see.
type ResolveFunc func(ctx context.Context, p ResolveParams) (any, error)

// ResolveParams is what a resolver sees.
type ResolveParams struct {
	// Source is the parent object's value: Config.RootValue for root fields.
	Source any
	// Args holds the coerced arguments with defaults applied: Int as int,
	// Float as float64, String and ID as string, Boolean as bool, enums as
	// the value name, input objects as map[string]any, lists as []any and
	// custom scalars as their ParseValue/ParseLiteral result. Arguments that
	// were neither provided nor defaulted are absent. The map is computed once
	// per request and shared by every call of the same field (for example
	// across list items), so resolvers must not modify it.
	Args map[string]any
	Info FieldInfo
}

// FieldInfo describes the field being resolved.
type FieldInfo struct {
	ParentType string               // object type name, e.g. "Query"
	FieldName  string               // schema field name (not the alias)
	Definition *ast.FieldDefinition // schema definition, with its directives
	Field      *ast.Field           // the selected field in the document
	Path       Path                 // response path to this field
	Operation  *ast.OperationDefinition
}

// Field binds a resolver to one schema field.
type Field struct {
	Resolve ResolveFunc
	// Blocking marks a resolver that may wait on I/O (a database, a
	// dataloader thunk). The engine runs blocking resolvers of sibling fields
	// and of list items on their own goroutines, bounded per request by
	// Config.MaxConcurrency. When the bound is reached the resolver runs
	// inline on the caller's goroutine instead of waiting for a slot, which
	// could deadlock nested fields. Running all items of a list at once is
	// what lets a per-request dataloader batch their keys into one query.
	Blocking bool
}

// Middleware wraps every call of a resolver bound in Config.Resolvers (not the
// built-in introspection resolvers, nor default field resolution). It is the
// place to enforce directives read from p.Info.Definition.Directives or to
// trace. It must call next to resolve the field.
type Middleware func(ctx context.Context, p ResolveParams, next ResolveFunc) (any, error)

// Scalar tells the engine how to serialize and parse a custom scalar.
type Scalar struct {
	// Serialize writes exactly one JSON value for a resolved, non-nil value.
	// An error becomes a field error and the field null. When nil, the engine
	// uses JSONWriter.WriteValue.
	Serialize func(w *JSONWriter, v any) error
	// ParseValue coerces a variable value given as decoded JSON: nil, bool,
	// float64 or json.Number, string, []any or map[string]any. When nil, the
	// value is passed through unchanged.
	ParseValue func(v any) (any, error)
	// ParseLiteral coerces a literal written in the document; vars holds the
	// operation's coerced variables for literals that contain variables. When
	// nil, the literal is converted to decoded JSON (numbers as json.Number)
	// and given to ParseValue.
	ParseLiteral func(v *ast.Value, vars map[string]any) (any, error)
}

// TypeNamer is implemented by resolved values that stand for an interface or
// union type: it returns the name of the concrete object type. Values of type
// map[string]any may instead carry the name under the "__typename" key.
type TypeNamer interface {
	GraphQLTypeName() string
}

// Config configures an Engine. It is read once by New.
type Config struct {
	// Schema is the schema loaded by the caller with gqlparser.LoadSchema.
	Schema *ast.Schema
	// Resolvers binds type name -> field name -> resolver. Every field of the
	// query and mutation types must be bound; other fields without a binding
	// use default resolution: the entry named after the field when the parent
	// value is a map[string]any, null otherwise.
	Resolvers map[string]map[string]Field
	// Scalars holds a codec for every custom scalar of the schema. The
	// built-in ID, String, Int, Float and Boolean are handled by the engine.
	Scalars map[string]Scalar
	// Middleware, when non-nil, wraps every bound resolver call.
	Middleware Middleware
	// Introspection allows __schema and __type. When false, documents that
	// select them fail validation.
	Introspection bool
	// DocumentCacheSize bounds the number of parsed and validated documents
	// kept; zero means 1000.
	DocumentCacheSize int
	// MaxConcurrency bounds the extra goroutines one request may use; zero
	// means 64.
	MaxConcurrency int
	// RootValue is the Source of root fields.
	RootValue any

	// Limits against hostile requests, checked by Prepare before any
	// resolver runs. For each, zero means the documented default and a
	// negative value disables the check. Violations are request errors
	// with code CodeTooComplex or CodeTooDeep (BAD_USER_INPUT for
	// MaxListInput) whose extensions name the measured value and the limit.

	// MaxDocumentBytes bounds the query text, checked before it is hashed
	// or parsed; default 64 KiB. Extensions: bytes, maxBytes.
	MaxDocumentBytes int
	// MaxTokens bounds the lexical tokens the parser reads; default 10000.
	// Extensions: tokens, maxTokens.
	MaxTokens int
	// MaxDepth bounds the nesting of fields, fragments expanded: root
	// fields are at depth 0, their sub-fields at 1, and __typename does not
	// count; default 12 (the standard introspection query is 12 deep).
	// Extensions: depth, maxDepth.
	MaxDepth int
	// MaxAliases bounds the fields of an operation (or fragment) whose
	// alias differs from their name, fragments expanded; default 30.
	// Extensions: aliases, maxAliases.
	MaxAliases int
	// MaxRootFields bounds the root field selections of an operation;
	// default 20. Extensions: rootFields, maxRootFields.
	MaxRootFields int
	// MaxFieldsPerOperation bounds the field selections of an operation (or
	// fragment) with every fragment counted once per spread; default 1000.
	// Counting is memoized per fragment, so fragment fan-out bombs are
	// measured without being expanded. Extensions: fields, maxFields.
	MaxFieldsPerOperation int
	// MaxCost bounds the static cost of an operation (see Operation.Cost
	// and the @cost and @listSize directives); default 5000. Extensions:
	// cost, maxCost.
	MaxCost int
	// DefaultListSize is the size assumed for a list field without
	// @listSize information; zero means 10. It must not be negative.
	DefaultListSize int
	// MaxListInput bounds the items of each list in the variables; default
	// 1000. All lists of one request's variables together may hold ten
	// times as many items. Violations are CodeBadUserInput errors.
	MaxListInput int
}

// binding is a resolved Field plus whether middleware applies to it.
type binding struct {
	resolve  ResolveFunc
	blocking bool
	user     bool // bound by the application: Middleware wraps it
}

// Engine executes GraphQL requests against one schema. It is safe for
// concurrent use; its only mutable state is the document cache.
type Engine struct {
	schema        *ast.Schema
	bindings      map[string]map[string]*binding
	scalars       map[string]Scalar
	middleware    Middleware
	introspection bool
	concurrency   int
	rootValue     any
	rules         *rules.Rules

	// enums maps an enum type to its set of value names.
	enums map[string]map[string]struct{}
	// possible maps an abstract type to the set of its object types.
	possible map[string]map[string]struct{}
	limits   limits
	// introSizes sizes the introspection lists for cost analysis.
	introSizes map[string]float64

	// introTypes and introDirectives are the sorted lists __schema returns.
	introTypes      []*ast.Definition
	introDirectives []*ast.DirectiveDefinition

	docs *docCache
}

// New checks cfg and builds an Engine. It fails when the schema is missing,
// when a query or mutation field has no resolver, when a binding names an
// unknown type or field or has a nil Resolve, or when a custom scalar has no
// codec or a codec names no custom scalar.
func New(cfg Config) (*Engine, error) {
	s := cfg.Schema
	if s == nil || s.Query == nil {
		return nil, errors.New("graphql: Config.Schema must be a loaded schema with a query type")
	}
	e := &Engine{
		schema:        s,
		bindings:      make(map[string]map[string]*binding),
		scalars:       make(map[string]Scalar, len(cfg.Scalars)),
		middleware:    cfg.Middleware,
		introspection: cfg.Introspection,
		concurrency:   cfg.MaxConcurrency,
		rootValue:     cfg.RootValue,
		rules:         rules.NewDefaultRules(),
		enums:         make(map[string]map[string]struct{}),
		possible:      make(map[string]map[string]struct{}),
	}
	if e.concurrency <= 0 {
		e.concurrency = 64
	}
	var problems []string
	lim, err := resolveLimits(cfg)
	if err != nil {
		problems = append(problems, err.Error())
	}
	e.limits = lim
	e.introSizes = introspectionSizes(s)
	problems = append(problems, checkCostDirectives(s)...)
	size := cfg.DocumentCacheSize
	if size <= 0 {
		size = 1000
	}
	e.docs = newDocCache(size)

	for typeName, fields := range cfg.Resolvers {
		def := s.Types[typeName]
		if def == nil || def.Kind != ast.Object {
			problems = append(problems, fmt.Sprintf("resolvers bound to %q, which is not an object type of the schema", typeName))
			continue
		}
		m := make(map[string]*binding, len(fields))
		for fieldName, f := range fields {
			switch {
			case def.Fields.ForName(fieldName) == nil:
				problems = append(problems, fmt.Sprintf("resolver bound to unknown field %s.%s", typeName, fieldName))
			case f.Resolve == nil:
				problems = append(problems, fmt.Sprintf("resolver for %s.%s has a nil Resolve", typeName, fieldName))
			default:
				m[fieldName] = &binding{resolve: f.Resolve, blocking: f.Blocking, user: true}
			}
		}
		e.bindings[typeName] = m
	}
	for _, root := range []*ast.Definition{s.Query, s.Mutation} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if e.bindings[root.Name][f.Name] == nil {
				problems = append(problems, fmt.Sprintf("root field %s.%s has no resolver", root.Name, f.Name))
			}
		}
	}

	for name, sc := range cfg.Scalars {
		def := s.Types[name]
		if def == nil || def.Kind != ast.Scalar || isBuiltinScalar(name) {
			problems = append(problems, fmt.Sprintf("scalar codec for %q, which is not a custom scalar of the schema", name))
			continue
		}
		e.scalars[name] = sc
	}
	for name, def := range s.Types {
		switch def.Kind {
		case ast.Scalar:
			if _, ok := e.scalars[name]; !ok && !isBuiltinScalar(name) {
				problems = append(problems, fmt.Sprintf("custom scalar %q has no codec in Config.Scalars", name))
			}
		case ast.Enum:
			set := make(map[string]struct{}, len(def.EnumValues))
			for _, v := range def.EnumValues {
				set[v.Name] = struct{}{}
			}
			e.enums[name] = set
		case ast.Interface, ast.Union:
			set := make(map[string]struct{})
			for _, p := range s.PossibleTypes[name] {
				set[p.Name] = struct{}{}
			}
			e.possible[name] = set
		}
		e.introTypes = append(e.introTypes, def)
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, errors.New("graphql: invalid config: " + strings.Join(problems, "; "))
	}
	slices.SortFunc(e.introTypes, func(a, b *ast.Definition) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range s.Directives {
		e.introDirectives = append(e.introDirectives, d)
	}
	slices.SortFunc(e.introDirectives, func(a, b *ast.DirectiveDefinition) int { return strings.Compare(a.Name, b.Name) })
	e.bindIntrospection()
	return e, nil
}

// Do prepares and executes req. Preparation failures are returned as a
// Response without data, as the specification asks for request errors.
func (e *Engine) Do(ctx context.Context, req Request) *Response {
	op, err := e.Prepare(ctx, req)
	if err != nil {
		return &Response{Errors: AsErrors(err)}
	}
	return e.Execute(ctx, op)
}

// bind adds an engine-owned binding, without middleware.
func (e *Engine) bind(typeName, fieldName string, fn ResolveFunc) {
	m := e.bindings[typeName]
	if m == nil {
		m = make(map[string]*binding)
		e.bindings[typeName] = m
	}
	m[fieldName] = &binding{resolve: fn}
}
