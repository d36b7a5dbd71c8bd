package graphql

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Static cost analysis follows the GraphQL Cost Directive Specification
// (IBM, https://ibm.github.io/graphql-specs/cost-spec.html). The
// application declares the directives in its SDL:
//
//	directive @cost(weight: String!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
//	directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
//
// and the engine prices each selected field as
//
//	cost(field) = arguments + size × (weight + cost(sub-selection))
//
// where weight is the field's @cost, else its type's @cost, else 1 for
// object, interface and union types and 0 for scalars and enums;
// arguments is the sum of the @cost weights of the arguments written in
// the document (and of input fields written in object literals); and size
// is 1 for a field that is not a list. For a list, size is the largest
// slicing argument given (a literal or a variable's coerced value); with
// none given, the largest default of the slicing arguments, else
// @listSize(assumedSize:), else Config.DefaultListSize. A field with
// @listSize(sizedFields:) applies its size to those child fields instead
// (a connection's edges). Where the specification leaves room:
//
//   - Selections are counted as written, not merged: a field selected twice
//     under one response key costs twice, and a named fragment costs once
//     per spread.
//   - Fragments on abstract types are summed, not maxed over the possible
//     types: the cost is an upper bound, and it does not depend on data.
//   - @skip and @include with literal arguments are honoured; with variables
//     the field is counted (an upper bound that the cached plan can keep).
//   - requireOneSlicingArgument is not enforced.
//   - Introspection fields are priced like any other (__schema and __type
//     are composite fields), but introspection lists are sized from the
//     schema itself: __Schema.types by the number of types, __Type.fields
//     by the average number of fields per type, and so on, so that the
//     standard introspection query is priced at about the work it causes.
//     __Type.ofType weighs nothing: following a wrapped type is a pointer,
//     and null beyond the few levels a schema nests (clients ask for seven).
//
// Cost depends on the variables only through slicing arguments, so the
// document cache keeps a costPlan per operation in which every part that
// does not depend on a variable is folded into a constant; Prepare
// re-evaluates the plan with each request's variables in time
// proportional to the number of variable-sized lists.

// costPlan is the cost of one operation as a function of its variables.
type costPlan struct {
	root *costExpr
	// memos counts the fragment expressions that are shared between spreads
	// and evaluated once per evaluation.
	memos int
}

// costExpr is the cost of a selection set: a constant plus the terms that
// depend on variables.
type costExpr struct {
	constant float64
	terms    []costTerm
	memo     int // index into the evaluation memo, or -1
}

// costTerm is one field (or one fragment spread, with weight 0 and size 1)
// whose cost depends on variables: args + size × (weight + child).
type costTerm struct {
	args, weight float64
	size         sizeExpr
	child        *costExpr // nil for a leaf
}

// sizeExpr is a list size: the largest of the literal slicing arguments
// and of the variables that are set, or fallback when there is neither.
type sizeExpr struct {
	literal  float64 // -1 when no literal slicing argument is written
	vars     []string
	fallback float64
}

// static reports whether the size is known without variables, and the size.
func (s sizeExpr) static() (float64, bool) {
	if len(s.vars) > 0 {
		return 0, false
	}
	if s.literal >= 0 {
		return s.literal, true
	}
	return s.fallback, true
}

func (s sizeExpr) eval(vars map[string]any) float64 {
	n := s.literal
	for _, name := range s.vars {
		if v, ok := toSize(vars[name]); ok {
			n = max(n, v)
		}
	}
	if n < 0 {
		return s.fallback
	}
	return n
}

// toSize reads a coerced Int variable; null and absent are not sizes.
func toSize(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return max(float64(v), 0), true
	case int64:
		return max(float64(v), 0), true
	case float64:
		return max(v, 0), true
	}
	return 0, false
}

var staticOne = sizeExpr{literal: 1, fallback: 1}

// eval evaluates the plan with coerced variables.
func (p *costPlan) eval(vars map[string]any) int {
	var memo []float64
	if p.memos > 0 {
		memo = make([]float64, p.memos)
		for i := range memo {
			memo[i] = math.NaN()
		}
	}
	return costInt(p.root.eval(vars, memo))
}

func (x *costExpr) eval(vars map[string]any, memo []float64) float64 {
	if x.memo >= 0 && !math.IsNaN(memo[x.memo]) {
		return memo[x.memo]
	}
	total := x.constant
	for i := range x.terms {
		t := &x.terms[i]
		child := 0.0
		if t.child != nil {
			child = t.child.eval(vars, memo)
		}
		total += t.args + t.size.eval(vars)*(t.weight+child)
	}
	if x.memo >= 0 {
		memo[x.memo] = total
	}
	return total
}

// costInt rounds a cost up to an int, saturating far below overflow.
func costInt(f float64) int {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= 1<<53:
		return 1 << 53
	}
	return int(math.Ceil(f))
}

// Cost evaluates the static cost of op with its variables, as Prepare did
// when it set op.Cost. It is the same number; the method exists for
// callers that want to re-price an operation, and for benchmarks.
func (e *Engine) Cost(op *Operation) int {
	if op == nil || op.costPlan == nil {
		return 0
	}
	return op.costPlan.eval(op.Variables)
}

// costBuilder builds the cost plans of the operations of one validated
// document; fragment expressions are shared between them.
type costBuilder struct {
	e   *Engine
	doc *ast.QueryDocument
	// frags memoizes fragment expressions built outside a sized context.
	frags map[string]*costExpr
	memos int // memo slots handed out so far
}

func (e *Engine) newCostBuilder(doc *ast.QueryDocument) *costBuilder {
	return &costBuilder{e: e, doc: doc, frags: make(map[string]*costExpr)}
}

// plan builds the cost plan of op.
func (b *costBuilder) plan(op *ast.OperationDefinition) *costPlan {
	root := b.e.rootType(op.Operation)
	if root == nil {
		return &costPlan{root: &costExpr{memo: -1}}
	}
	x := b.set(op.SelectionSet, root, nil)
	// Slots are numbered across the document: size the memo for all.
	return &costPlan{root: x, memos: b.memos}
}

// rootType returns the root type of an operation kind, or nil.
func (e *Engine) rootType(kind ast.Operation) *ast.Definition {
	switch kind {
	case ast.Query:
		return e.schema.Query
	case ast.Mutation:
		return e.schema.Mutation
	case ast.Subscription:
		return e.schema.Subscription
	}
	return nil
}

// set builds the expression of a selection set on parent. sized maps child
// field names to the size a parent's @listSize(sizedFields:) gives them.
func (b *costBuilder) set(set ast.SelectionSet, parent *ast.Definition, sized map[string]sizeExpr) *costExpr {
	x := &costExpr{memo: -1}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !staticallyIncluded(sel.Directives) {
				continue
			}
			b.field(x, sel, parent, sized)
		case *ast.InlineFragment:
			if !staticallyIncluded(sel.Directives) {
				continue
			}
			typ := parent
			if sel.TypeCondition != "" {
				typ = b.e.schema.Types[sel.TypeCondition]
			}
			if typ != nil {
				x.addChild(b.set(sel.SelectionSet, typ, sized))
			}
		case *ast.FragmentSpread:
			if !staticallyIncluded(sel.Directives) {
				continue
			}
			if f := b.fragment(sel.Name, sized); f != nil {
				x.addChild(f)
			}
		}
	}
	return x
}

// addChild adds a fragment's cost: its constant directly, and the whole
// fragment as one term when it depends on variables.
func (x *costExpr) addChild(c *costExpr) {
	if len(c.terms) == 0 {
		x.constant += c.constant
		return
	}
	x.terms = append(x.terms, costTerm{size: staticOne, child: c})
}

// fragment returns the expression of a named fragment. Outside a sized
// context it is built once and shared (with a memo slot when it depends
// on variables, so that each evaluation computes it once).
func (b *costBuilder) fragment(name string, sized map[string]sizeExpr) *costExpr {
	if sized == nil {
		if x, ok := b.frags[name]; ok {
			return x
		}
	}
	def := b.doc.Fragments.ForName(name)
	if def == nil {
		return nil
	}
	typ := b.e.schema.Types[def.TypeCondition]
	if typ == nil {
		return nil
	}
	x := b.set(def.SelectionSet, typ, sized)
	if sized == nil {
		if len(x.terms) > 0 {
			x.memo = b.memos
			b.memos++
		}
		b.frags[name] = x
	}
	return x
}

// field adds the cost of one field to x.
func (b *costBuilder) field(x *costExpr, f *ast.Field, parent *ast.Definition, sized map[string]sizeExpr) {
	if f.Name == "__typename" {
		return
	}
	def := parent.Fields.ForName(f.Name)
	if def == nil {
		return
	}
	named := b.e.schema.Types[def.Type.Name()]
	weight := b.e.fieldWeight(def, named)
	args := b.e.argumentsCost(def, f.Arguments)

	size := staticOne
	var childSized map[string]sizeExpr
	ls := def.Directives.ForName("listSize")
	if s, ok := sized[f.Name]; ok {
		size = s
	} else if def.Type.Elem != nil {
		size = b.e.listSizeOf(parent, def, f, ls)
	}
	if ls != nil {
		if names := stringList(ls.Arguments.ForName("sizedFields")); len(names) > 0 {
			childSized = make(map[string]sizeExpr, len(names))
			s := b.e.listSizeOf(parent, def, f, ls)
			for _, n := range names {
				childSized[n] = s
			}
			if def.Type.Elem == nil {
				size = staticOne
			}
		}
	}

	var child *costExpr
	if len(f.SelectionSet) > 0 && named != nil {
		child = b.set(f.SelectionSet, named, childSized)
	}
	n, static := size.static()
	if static && (child == nil || len(child.terms) == 0) {
		c := 0.0
		if child != nil {
			c = child.constant
		}
		x.constant += args + n*(weight+c)
		return
	}
	x.terms = append(x.terms, costTerm{args: args, weight: weight, size: size, child: child})
}

// listSizeOf returns the size of a list field (§ "@listSize").
func (e *Engine) listSizeOf(parent *ast.Definition, def *ast.FieldDefinition, f *ast.Field, ls *ast.Directive) sizeExpr {
	if strings.HasPrefix(parent.Name, "__") {
		if n, ok := e.introSizes[parent.Name+"."+def.Name]; ok {
			return sizeExpr{literal: -1, fallback: n}
		}
	}
	s := sizeExpr{literal: -1, fallback: float64(e.limits.defaultListSize)}
	if ls == nil {
		return s
	}
	if a := ls.Arguments.ForName("assumedSize"); a != nil && a.Value.Kind == ast.IntValue {
		if n, err := strconv.ParseFloat(a.Value.Raw, 64); err == nil {
			s.fallback = max(n, 0)
		}
	}
	defaulted := -1.0
	for _, name := range stringList(ls.Arguments.ForName("slicingArguments")) {
		if ad := def.Arguments.ForName(name); ad != nil && ad.DefaultValue != nil && ad.DefaultValue.Kind == ast.IntValue {
			if n, err := strconv.ParseFloat(ad.DefaultValue.Raw, 64); err == nil {
				defaulted = max(defaulted, n, 0)
			}
		}
		a := f.Arguments.ForName(name)
		if a == nil {
			continue
		}
		switch a.Value.Kind {
		case ast.IntValue:
			// A literal that is no Int (beyond 32 bits) fails as a field error when the
			// field runs (BAD_USER_INPUT, as every other bad argument), not as a huge cost.
			if n, err := strconv.ParseInt(a.Value.Raw, 10, 32); err == nil {
				s.literal = max(s.literal, float64(n), 0)
			}
		case ast.Variable:
			s.vars = append(s.vars, a.Value.Raw)
		}
	}
	if defaulted >= 0 {
		s.fallback = defaulted
	}
	return s
}

// stringList reads a directive argument of type [String!].
func stringList(a *ast.Argument) []string {
	if a == nil || a.Value == nil {
		return nil
	}
	if a.Value.Kind == ast.StringValue {
		return []string{a.Value.Raw}
	}
	out := make([]string, 0, len(a.Value.Children))
	for _, c := range a.Value.Children {
		if c.Value != nil && c.Value.Kind == ast.StringValue {
			out = append(out, c.Value.Raw)
		}
	}
	return out
}

// fieldWeight is the field's @cost, else its type's, else the default.
func (e *Engine) fieldWeight(def *ast.FieldDefinition, named *ast.Definition) float64 {
	if w, ok := costWeight(def.Directives); ok {
		return w
	}
	if def.Name == "ofType" && def.Type.Name() == "__Type" {
		// A wrapped type's inner type: a pointer followed, and null past the few levels of
		// List and NonNull a schema uses. Clients select it seven levels deep (graphql-js's
		// getIntrospectionQuery) to be safe, which priced at 1 a level made the standard
		// introspection query of this API cost half again the default maximum.
		return 0
	}
	if named == nil {
		return 0
	}
	if w, ok := costWeight(named.Directives); ok {
		return w
	}
	switch named.Kind {
	case ast.Object, ast.Interface, ast.Union:
		return 1
	}
	return 0
}

// argumentsCost sums the @cost of the arguments written for f, and of the
// input fields written in object literals.
func (e *Engine) argumentsCost(def *ast.FieldDefinition, args ast.ArgumentList) float64 {
	total := 0.0
	for _, a := range args {
		ad := def.Arguments.ForName(a.Name)
		if ad == nil {
			continue
		}
		if w, ok := costWeight(ad.Directives); ok {
			total += w
		}
		total += e.inputCost(ad.Type, a.Value)
	}
	return total
}

// inputCost sums the @cost of input fields written in a literal.
func (e *Engine) inputCost(typ *ast.Type, v *ast.Value) float64 {
	if v == nil {
		return 0
	}
	switch v.Kind {
	case ast.ListValue:
		if typ.Elem == nil {
			return 0
		}
		total := 0.0
		for _, c := range v.Children {
			total += e.inputCost(typ.Elem, c.Value)
		}
		return total
	case ast.ObjectValue:
		def := e.schema.Types[typ.Name()]
		if def == nil || def.Kind != ast.InputObject {
			return 0
		}
		total := 0.0
		for _, c := range v.Children {
			fd := def.Fields.ForName(c.Name)
			if fd == nil {
				continue
			}
			if w, ok := costWeight(fd.Directives); ok {
				total += w
			}
			total += e.inputCost(fd.Type, c.Value)
		}
		return total
	}
	return 0
}

// costWeight reads @cost(weight:) from a directive list. The weight is a
// String holding a number, as the specification declares it; an Int
// literal is accepted too.
func costWeight(dirs ast.DirectiveList) (float64, bool) {
	d := dirs.ForName("cost")
	if d == nil {
		return 0, false
	}
	a := d.Arguments.ForName("weight")
	if a == nil || a.Value == nil {
		return 0, false
	}
	w, err := strconv.ParseFloat(a.Value.Raw, 64)
	if err != nil || math.IsNaN(w) || math.IsInf(w, 0) {
		return 0, false
	}
	return w, true
}

// staticallyIncluded evaluates @skip and @include with literal arguments;
// a variable condition counts as included.
func staticallyIncluded(dirs ast.DirectiveList) bool {
	if len(dirs) == 0 {
		return true
	}
	if d := dirs.ForName("skip"); d != nil {
		if a := d.Arguments.ForName("if"); a != nil && a.Value.Kind == ast.BooleanValue && a.Value.Raw == "true" {
			return false
		}
	}
	if d := dirs.ForName("include"); d != nil {
		if a := d.Arguments.ForName("if"); a != nil && a.Value.Kind == ast.BooleanValue && a.Value.Raw == "false" {
			return false
		}
	}
	return true
}

// checkCostDirectives reports @cost weights that are not numbers, so that a
// typo in the schema is an error from New rather than a silent zero.
func checkCostDirectives(s *ast.Schema) []string {
	var problems []string
	check := func(where string, dirs ast.DirectiveList) {
		d := dirs.ForName("cost")
		if d == nil {
			return
		}
		if _, ok := costWeight(dirs); !ok {
			problems = append(problems, fmt.Sprintf("@cost on %s has a weight that is not a number", where))
		}
	}
	for name, def := range s.Types {
		check(name, def.Directives)
		for _, f := range def.Fields {
			check(name+"."+f.Name, f.Directives)
			for _, a := range f.Arguments {
				check(name+"."+f.Name+"("+a.Name+")", a.Directives)
			}
		}
	}
	return problems
}

// introspectionSizes sizes the lists of the introspection types from the
// schema: __Schema.types and __Schema.directives by their counts, nested
// lists by the average per owner (rounded up, at least 1), so that a
// selection of all types' fields is priced at the total number of fields.
func introspectionSizes(s *ast.Schema) map[string]float64 {
	var types, fields, args, inputFields, enumValues, interfaces, possible, dirs, dirArgs, locations float64
	for _, def := range s.Types {
		types++
		switch def.Kind {
		case ast.Object, ast.Interface:
			fields += float64(len(def.Fields))
			for _, f := range def.Fields {
				args += float64(len(f.Arguments))
			}
			interfaces += float64(len(def.Interfaces))
		case ast.InputObject:
			inputFields += float64(len(def.Fields))
		case ast.Enum:
			enumValues += float64(len(def.EnumValues))
		}
		if def.Kind == ast.Interface || def.Kind == ast.Union {
			possible += float64(len(s.PossibleTypes[def.Name]))
		}
	}
	for _, d := range s.Directives {
		dirs++
		dirArgs += float64(len(d.Arguments))
		locations += float64(len(d.Locations))
	}
	avg := func(total, owners float64) float64 {
		if owners == 0 {
			return 1
		}
		return max(1, math.Ceil(total/owners))
	}
	return map[string]float64{
		"__Schema.types":        max(types, 1),
		"__Schema.directives":   max(dirs, 1),
		"__Type.fields":         avg(fields, types),
		"__Type.inputFields":    avg(inputFields, types),
		"__Type.enumValues":     avg(enumValues, types),
		"__Type.interfaces":     avg(interfaces, types),
		"__Type.possibleTypes":  avg(possible, types),
		"__Field.args":          avg(args, fields),
		"__Directive.args":      avg(dirArgs, dirs),
		"__Directive.locations": avg(locations, dirs),
	}
}
