package graphql

import (
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// plan is the collected field set (§6.3.2) of one selection for one
// concrete object type, with everything about each field that does not
// depend on the parent value resolved up front: definition, binding,
// coerced arguments and the JSON key. It is built once per request for each
// (field, object type) pair, so the 50 items of a list share one plan.
type plan struct {
	fields []*collectedField
	bound  int // fields with a resolver binding
}

// shape classifies a field's named type so completion switches on a small
// integer instead of looking types up by name for every value.
type shape uint8

const (
	shapeInt shape = iota
	shapeFloat
	shapeString
	shapeBoolean
	shapeID
	shapeEnum
	shapeCustom
	shapeObject
	shapeAbstract
)

// collectedField is one response key of a plan: the merged field nodes
// sharing that key and their precomputed facts.
type collectedField struct {
	key      string
	parent   string // the object type the plan was built for
	pathKey  any    // key boxed once, for Path elements
	jsonKey  string // `"key":`, written before the value
	nodes    []*ast.Field
	def      *ast.FieldDefinition
	named    *ast.Definition // the innermost named type of def.Type
	shape    shape
	typename bool // __typename, answered by the engine
	bind     *binding
	args     map[string]any
	argErr   error

	mu   sync.Mutex
	subs []subPlan // plans of the sub-selection, per concrete type
}

type subPlan struct {
	typ  *ast.Definition
	plan *plan
}

// subPlan returns the plan of cf's merged sub-selection for the concrete
// object type typ (CollectSubfields, §6.4.3), building it on first use.
func (ex *execution) subPlan(cf *collectedField, typ *ast.Definition) *plan {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	for _, s := range cf.subs {
		if s.typ == typ {
			return s.plan
		}
	}
	sets := make([]ast.SelectionSet, len(cf.nodes))
	for i, n := range cf.nodes {
		sets[i] = n.SelectionSet
	}
	p := ex.buildPlan(typ, sets)
	cf.subs = append(cf.subs, subPlan{typ: typ, plan: p})
	return p
}

// buildPlan collects the fields of sets for objType and precomputes them.
func (ex *execution) buildPlan(objType *ast.Definition, sets []ast.SelectionSet) *plan {
	p := &plan{}
	index := make(map[string]int)
	for _, set := range sets {
		ex.collectFields(objType, set, map[string]bool{}, p, index)
	}
	for _, cf := range p.fields {
		ex.prepareField(objType, cf)
		if cf.bind != nil {
			p.bound++
		}
	}
	return p
}

// collectFields implements CollectFields (§6.3.2): it honours @skip and
// @include, expands fragments whose type condition applies (each named
// fragment once), and merges fields by response key in document order.
func (ex *execution) collectFields(objType *ast.Definition, set ast.SelectionSet, visited map[string]bool, p *plan, index map[string]int) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !ex.included(sel.Directives) {
				continue
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			if i, ok := index[key]; ok {
				p.fields[i].nodes = append(p.fields[i].nodes, sel)
				continue
			}
			index[key] = len(p.fields)
			p.fields = append(p.fields, &collectedField{key: key, nodes: []*ast.Field{sel}})
		case *ast.FragmentSpread:
			if visited[sel.Name] || !ex.included(sel.Directives) {
				continue
			}
			visited[sel.Name] = true
			frag := ex.op.Document.Fragments.ForName(sel.Name)
			if frag == nil || !ex.e.typeApplies(objType, frag.TypeCondition) {
				continue
			}
			ex.collectFields(objType, frag.SelectionSet, visited, p, index)
		case *ast.InlineFragment:
			if !ex.included(sel.Directives) || !ex.e.typeApplies(objType, sel.TypeCondition) {
				continue
			}
			ex.collectFields(objType, sel.SelectionSet, visited, p, index)
		}
	}
}

// prepareField resolves what completion needs about cf on objType.
func (ex *execution) prepareField(objType *ast.Definition, cf *collectedField) {
	cf.pathKey = cf.key
	cf.parent = objType.Name
	cf.jsonKey = string(appendJSONString(nil, cf.key)) + ":"
	first := cf.nodes[0]
	if first.Name == "__typename" {
		cf.typename = true
		return
	}
	cf.def = objType.Fields.ForName(first.Name)
	if cf.def == nil {
		// Validation rules this out; a field error keeps execution total.
		cf.argErr = &Error{Message: "Cannot query field \"" + first.Name + "\" on type \"" + objType.Name + "\"."}
		cf.def = &ast.FieldDefinition{Name: first.Name, Type: ast.NamedType("String", nil)}
	}
	cf.bind = ex.e.bindings[objType.Name][first.Name]
	cf.named = ex.e.schema.Types[cf.def.Type.Name()]
	cf.shape = shapeOf(cf.named)
	if len(cf.def.Arguments) > 0 && cf.argErr == nil {
		args, err := ex.e.coerceArguments(cf.def.Arguments, first.Arguments, ex.op.Variables)
		if err != nil {
			cf.argErr = &Error{Message: err.Error(), Extensions: map[string]any{"code": CodeBadUserInput}, Err: err}
		}
		cf.args = args
	}
}

// shapeOf classifies a named type.
func shapeOf(def *ast.Definition) shape {
	if def == nil {
		return shapeCustom
	}
	switch def.Kind {
	case ast.Scalar:
		switch def.Name {
		case "Int":
			return shapeInt
		case "Float":
			return shapeFloat
		case "String":
			return shapeString
		case "Boolean":
			return shapeBoolean
		case "ID":
			return shapeID
		}
		return shapeCustom
	case ast.Enum:
		return shapeEnum
	case ast.Object:
		return shapeObject
	default:
		return shapeAbstract
	}
}

// included evaluates @skip and @include (§3.13.2, §3.13.3).
func (ex *execution) included(dirs ast.DirectiveList) bool {
	if len(dirs) == 0 {
		return true
	}
	if d := dirs.ForName("skip"); d != nil && ex.directiveIf(d) {
		return false
	}
	if d := dirs.ForName("include"); d != nil && !ex.directiveIf(d) {
		return false
	}
	return true
}

// directiveIf reads the Boolean "if" argument of @skip or @include.
func (ex *execution) directiveIf(d *ast.Directive) bool {
	arg := d.Arguments.ForName("if")
	if arg == nil {
		return false
	}
	if arg.Value.Kind == ast.Variable {
		b, _ := ex.op.Variables[arg.Value.Raw].(bool)
		return b
	}
	return arg.Value.Raw == "true"
}

// typeApplies implements DoesFragmentTypeApply (§6.3.2).
func (e *Engine) typeApplies(objType *ast.Definition, cond string) bool {
	if cond == "" || cond == objType.Name {
		return true
	}
	_, ok := e.possible[cond][objType.Name]
	return ok
}
