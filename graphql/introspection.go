package graphql

import (
	"context"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Introspection (§4) is answered by engine-owned resolvers over the
// *ast.Schema, bound to the __Schema, __Type, __Field, __InputValue,
// __EnumValue and __Directive types that gqlparser's prelude declares. The
// values flowing between them are the gqlparser definitions themselves,
// plus introType for the list and non-null wrappers that have no
// definition of their own.

// introType is a __Type: a named type, or the outermost wrapper of t.
type introType struct {
	def *ast.Definition // named type, when t is nil
	t   *ast.Type       // a list or non-null type
}

// typeRef returns the __Type for t.
func (e *Engine) typeRef(t *ast.Type) any {
	if t.NonNull || t.Elem != nil {
		return &introType{t: t}
	}
	return e.namedType(t.NamedType)
}

// namedType returns the __Type of a named type, or nil when unknown.
func (e *Engine) namedType(name string) any {
	def := e.schema.Types[name]
	if def == nil {
		return nil
	}
	return &introType{def: def}
}

// introInput is an __InputValue: an argument or an input object field.
type introInput struct {
	name, description string
	typ               *ast.Type
	defaultValue      *ast.Value
	directives        ast.DirectiveList
}

// optional turns an empty string into null.
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// deprecation returns whether dirs mark an element deprecated and why.
func deprecation(dirs ast.DirectiveList) (bool, any) {
	d := dirs.ForName("deprecated")
	if d == nil {
		return false, nil
	}
	if arg := d.Arguments.ForName("reason"); arg != nil && arg.Value != nil && arg.Value.Kind != ast.NullValue {
		return true, arg.Value.Raw
	}
	return true, "No longer supported"
}

// includeDeprecated reads the includeDeprecated argument (default false).
func includeDeprecated(p ResolveParams) bool {
	b, _ := p.Args["includeDeprecated"].(bool)
	return b
}

func argInputs(args ast.ArgumentDefinitionList, withDeprecated bool) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
		if dep, _ := deprecation(a.Directives); dep && !withDeprecated {
			continue
		}
		out = append(out, &introInput{name: a.Name, description: a.Description, typ: a.Type, defaultValue: a.DefaultValue, directives: a.Directives})
	}
	return out
}

// bindIntrospection binds the introspection resolvers. They bypass
// Middleware, which guards application fields.
func (e *Engine) bindIntrospection() {
	q := e.schema.Query.Name
	e.bind(q, "__schema", func(context.Context, ResolveParams) (any, error) { return e, nil })
	e.bind(q, "__type", func(_ context.Context, p ResolveParams) (any, error) {
		name, _ := p.Args["name"].(string)
		return e.namedType(name), nil
	})

	e.bind("__Schema", "description", func(context.Context, ResolveParams) (any, error) {
		return optional(e.schema.Description), nil
	})
	e.bind("__Schema", "types", func(context.Context, ResolveParams) (any, error) {
		out := make([]any, len(e.introTypes))
		for i, d := range e.introTypes {
			out[i] = &introType{def: d}
		}
		return out, nil
	})
	rootType := func(d *ast.Definition) any {
		if d == nil {
			return nil
		}
		return &introType{def: d}
	}
	e.bind("__Schema", "queryType", func(context.Context, ResolveParams) (any, error) { return rootType(e.schema.Query), nil })
	e.bind("__Schema", "mutationType", func(context.Context, ResolveParams) (any, error) { return rootType(e.schema.Mutation), nil })
	e.bind("__Schema", "subscriptionType", func(context.Context, ResolveParams) (any, error) {
		return rootType(e.schema.Subscription), nil
	})
	e.bind("__Schema", "directives", func(context.Context, ResolveParams) (any, error) {
		out := make([]any, len(e.introDirectives))
		for i, d := range e.introDirectives {
			out[i] = d
		}
		return out, nil
	})

	e.bindType()
	e.bindMembers()
}

// bindType binds the fields of __Type.
func (e *Engine) bindType() {
	typ := func(fn func(t *introType, p ResolveParams) any) ResolveFunc {
		return func(_ context.Context, p ResolveParams) (any, error) {
			t, _ := p.Source.(*introType)
			if t == nil {
				return nil, nil
			}
			return fn(t, p), nil
		}
	}
	e.bind("__Type", "kind", typ(func(t *introType, _ ResolveParams) any {
		switch {
		case t.def != nil:
			return string(t.def.Kind)
		case t.t.NonNull:
			return "NON_NULL"
		default:
			return "LIST"
		}
	}))
	e.bind("__Type", "name", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil {
			return nil
		}
		return t.def.Name
	}))
	e.bind("__Type", "description", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil {
			return nil
		}
		return optional(t.def.Description)
	}))
	e.bind("__Type", "specifiedByURL", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil || t.def.Kind != ast.Scalar {
			return nil
		}
		if d := t.def.Directives.ForName("specifiedBy"); d != nil {
			if arg := d.Arguments.ForName("url"); arg != nil && arg.Value != nil {
				return arg.Value.Raw
			}
		}
		return nil
	}))
	e.bind("__Type", "fields", typ(func(t *introType, p ResolveParams) any {
		if t.def == nil || (t.def.Kind != ast.Object && t.def.Kind != ast.Interface) {
			return nil
		}
		withDeprecated := includeDeprecated(p)
		out := make([]any, 0, len(t.def.Fields))
		for _, f := range t.def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if dep, _ := deprecation(f.Directives); dep && !withDeprecated {
				continue
			}
			out = append(out, f)
		}
		return out
	}))
	e.bind("__Type", "interfaces", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil || (t.def.Kind != ast.Object && t.def.Kind != ast.Interface) {
			return nil
		}
		out := make([]any, 0, len(t.def.Interfaces))
		for _, name := range t.def.Interfaces {
			if it := e.namedType(name); it != nil {
				out = append(out, it)
			}
		}
		return out
	}))
	e.bind("__Type", "possibleTypes", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil || !t.def.IsAbstractType() {
			return nil
		}
		var out []any
		if t.def.Kind == ast.Union {
			for _, name := range t.def.Types {
				if it := e.namedType(name); it != nil {
					out = append(out, it)
				}
			}
		} else {
			for _, d := range e.schema.PossibleTypes[t.def.Name] {
				out = append(out, &introType{def: d})
			}
		}
		if out == nil {
			out = []any{}
		}
		return out
	}))
	e.bind("__Type", "enumValues", typ(func(t *introType, p ResolveParams) any {
		if t.def == nil || t.def.Kind != ast.Enum {
			return nil
		}
		withDeprecated := includeDeprecated(p)
		out := make([]any, 0, len(t.def.EnumValues))
		for _, v := range t.def.EnumValues {
			if dep, _ := deprecation(v.Directives); dep && !withDeprecated {
				continue
			}
			out = append(out, v)
		}
		return out
	}))
	e.bind("__Type", "inputFields", typ(func(t *introType, p ResolveParams) any {
		if t.def == nil || t.def.Kind != ast.InputObject {
			return nil
		}
		withDeprecated := includeDeprecated(p)
		out := make([]any, 0, len(t.def.Fields))
		for _, f := range t.def.Fields {
			if dep, _ := deprecation(f.Directives); dep && !withDeprecated {
				continue
			}
			out = append(out, &introInput{name: f.Name, description: f.Description, typ: f.Type, defaultValue: f.DefaultValue, directives: f.Directives})
		}
		return out
	}))
	e.bind("__Type", "ofType", typ(func(t *introType, _ ResolveParams) any {
		switch {
		case t.def != nil:
			return nil
		case t.t.NonNull:
			inner := *t.t
			inner.NonNull = false
			return e.typeRef(&inner)
		default:
			return e.typeRef(t.t.Elem)
		}
	}))
	e.bind("__Type", "isOneOf", typ(func(t *introType, _ ResolveParams) any {
		if t.def == nil || t.def.Kind != ast.InputObject {
			return nil
		}
		return t.def.Directives.ForName("oneOf") != nil
	}))
}

// bindMembers binds __Field, __InputValue, __EnumValue and __Directive.
func (e *Engine) bindMembers() {
	field := func(fn func(f *ast.FieldDefinition, p ResolveParams) any) ResolveFunc {
		return func(_ context.Context, p ResolveParams) (any, error) {
			f, _ := p.Source.(*ast.FieldDefinition)
			if f == nil {
				return nil, nil
			}
			return fn(f, p), nil
		}
	}
	e.bind("__Field", "name", field(func(f *ast.FieldDefinition, _ ResolveParams) any { return f.Name }))
	e.bind("__Field", "description", field(func(f *ast.FieldDefinition, _ ResolveParams) any { return optional(f.Description) }))
	e.bind("__Field", "args", field(func(f *ast.FieldDefinition, p ResolveParams) any {
		return argInputs(f.Arguments, includeDeprecated(p))
	}))
	e.bind("__Field", "type", field(func(f *ast.FieldDefinition, _ ResolveParams) any { return e.typeRef(f.Type) }))
	e.bind("__Field", "isDeprecated", field(func(f *ast.FieldDefinition, _ ResolveParams) any {
		dep, _ := deprecation(f.Directives)
		return dep
	}))
	e.bind("__Field", "deprecationReason", field(func(f *ast.FieldDefinition, _ ResolveParams) any {
		_, reason := deprecation(f.Directives)
		return reason
	}))

	input := func(fn func(in *introInput) any) ResolveFunc {
		return func(_ context.Context, p ResolveParams) (any, error) {
			in, _ := p.Source.(*introInput)
			if in == nil {
				return nil, nil
			}
			return fn(in), nil
		}
	}
	e.bind("__InputValue", "name", input(func(in *introInput) any { return in.name }))
	e.bind("__InputValue", "description", input(func(in *introInput) any { return optional(in.description) }))
	e.bind("__InputValue", "type", input(func(in *introInput) any { return e.typeRef(in.typ) }))
	e.bind("__InputValue", "defaultValue", input(func(in *introInput) any {
		if in.defaultValue == nil {
			return nil
		}
		return printLiteral(in.defaultValue)
	}))
	e.bind("__InputValue", "isDeprecated", input(func(in *introInput) any {
		dep, _ := deprecation(in.directives)
		return dep
	}))
	e.bind("__InputValue", "deprecationReason", input(func(in *introInput) any {
		_, reason := deprecation(in.directives)
		return reason
	}))

	enumValue := func(fn func(v *ast.EnumValueDefinition) any) ResolveFunc {
		return func(_ context.Context, p ResolveParams) (any, error) {
			v, _ := p.Source.(*ast.EnumValueDefinition)
			if v == nil {
				return nil, nil
			}
			return fn(v), nil
		}
	}
	e.bind("__EnumValue", "name", enumValue(func(v *ast.EnumValueDefinition) any { return v.Name }))
	e.bind("__EnumValue", "description", enumValue(func(v *ast.EnumValueDefinition) any { return optional(v.Description) }))
	e.bind("__EnumValue", "isDeprecated", enumValue(func(v *ast.EnumValueDefinition) any {
		dep, _ := deprecation(v.Directives)
		return dep
	}))
	e.bind("__EnumValue", "deprecationReason", enumValue(func(v *ast.EnumValueDefinition) any {
		_, reason := deprecation(v.Directives)
		return reason
	}))

	directive := func(fn func(d *ast.DirectiveDefinition, p ResolveParams) any) ResolveFunc {
		return func(_ context.Context, p ResolveParams) (any, error) {
			d, _ := p.Source.(*ast.DirectiveDefinition)
			if d == nil {
				return nil, nil
			}
			return fn(d, p), nil
		}
	}
	e.bind("__Directive", "name", directive(func(d *ast.DirectiveDefinition, _ ResolveParams) any { return d.Name }))
	e.bind("__Directive", "description", directive(func(d *ast.DirectiveDefinition, _ ResolveParams) any {
		return optional(d.Description)
	}))
	e.bind("__Directive", "isRepeatable", directive(func(d *ast.DirectiveDefinition, _ ResolveParams) any { return d.IsRepeatable }))
	e.bind("__Directive", "locations", directive(func(d *ast.DirectiveDefinition, _ ResolveParams) any {
		out := make([]any, len(d.Locations))
		for i, l := range d.Locations {
			out[i] = string(l)
		}
		return out
	}))
	e.bind("__Directive", "args", directive(func(d *ast.DirectiveDefinition, p ResolveParams) any {
		return argInputs(d.Arguments, includeDeprecated(p))
	}))
}

// printLiteral prints a default value as GraphQL source, the form
// __InputValue.defaultValue carries (§4.5.3): strings quoted and escaped,
// lists and objects with the spacing graphql-js uses.
func printLiteral(v *ast.Value) string {
	var b strings.Builder
	writeLiteral(&b, v)
	return b.String()
}

func writeLiteral(b *strings.Builder, v *ast.Value) {
	switch v.Kind {
	case ast.ListValue:
		b.WriteByte('[')
		for i, c := range v.Children {
			if i > 0 {
				b.WriteString(", ")
			}
			writeLiteral(b, c.Value)
		}
		b.WriteByte(']')
	case ast.ObjectValue:
		b.WriteByte('{')
		for i, c := range v.Children {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.Name)
			b.WriteString(": ")
			writeLiteral(b, c.Value)
		}
		b.WriteByte('}')
	default:
		b.WriteString(v.String())
	}
}
