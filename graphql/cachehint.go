package graphql

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// CacheHint is how long an operation's response may be cached, computed
// from Apollo's directive when the schema declares it:
//
//	enum CacheControlScope { PUBLIC PRIVATE }
//	directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
//
// MaxAge is the minimum over the selected fields. A field's maxAge is its
// own @cacheControl(maxAge:), else its return type's; without either, root
// fields and fields returning object, interface or union types get 0 and
// other fields inherit their parent's (so they do not lower the minimum),
// as does a field or type with inheritMaxAge: true. Private is set when a
// selected field or its return type says scope: PRIVATE. @skip and
// @include are ignored: the hint covers every field the operation may
// select.
//
// Types is the sorted set of object types whose values the operation may
// return (for an interface or union field, all its possible types), without
// the root and introspection types: invalidation tags for a response
// cache. It is shared with the document cache and must not be modified.
type CacheHint struct {
	MaxAge  time.Duration
	Private bool
	Types   []string
}

// cacheDirective is a parsed @cacheControl.
type cacheDirective struct {
	maxAge  int // -1 when absent
	inherit bool
	private bool
}

func readCacheControl(dirs ast.DirectiveList) cacheDirective {
	d := dirs.ForName("cacheControl")
	if d == nil {
		return cacheDirective{maxAge: -1}
	}
	out := cacheDirective{maxAge: -1}
	if a := d.Arguments.ForName("maxAge"); a != nil && a.Value.Kind == ast.IntValue {
		if n, err := strconv.Atoi(a.Value.Raw); err == nil && n >= 0 {
			out.maxAge = n
		}
	}
	if a := d.Arguments.ForName("inheritMaxAge"); a != nil && a.Value.Raw == "true" {
		out.inherit = true
	}
	if a := d.Arguments.ForName("scope"); a != nil && a.Value.Raw == "PRIVATE" {
		out.private = true
	}
	return out
}

// hintWalker computes a CacheHint. A field's contribution does not depend
// on its parent's maxAge (an inherited maxAge never lowers the minimum,
// the parent having counted already), only on whether it is a root field,
// so each fragment is walked once per (fragment, root) pair.
type hintWalker struct {
	e     *Engine
	doc   *ast.QueryDocument
	types map[string]struct{}
	memo  map[hintKey]hintResult
}

type hintKey struct {
	name string
	root bool
}

type hintResult struct {
	maxAge  int // -1: no field sets one
	private bool
}

func (r *hintResult) merge(o hintResult) {
	if o.maxAge >= 0 && (r.maxAge < 0 || o.maxAge < r.maxAge) {
		r.maxAge = o.maxAge
	}
	r.private = r.private || o.private
}

// cacheHint computes the hint of op in a validated document.
func (e *Engine) cacheHint(doc *ast.QueryDocument, op *ast.OperationDefinition) CacheHint {
	root := e.rootType(op.Operation)
	if root == nil {
		return CacheHint{}
	}
	w := &hintWalker{e: e, doc: doc, types: map[string]struct{}{}, memo: map[hintKey]hintResult{}}
	r := w.set(op.SelectionSet, root, true)
	h := CacheHint{Private: r.private}
	if r.maxAge > 0 {
		h.MaxAge = time.Duration(r.maxAge) * time.Second
	}
	for name := range w.types {
		h.Types = append(h.Types, name)
	}
	slices.Sort(h.Types)
	return h
}

func (w *hintWalker) set(set ast.SelectionSet, parent *ast.Definition, root bool) hintResult {
	out := hintResult{maxAge: -1}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			out.merge(w.field(sel, parent, root))
		case *ast.InlineFragment:
			typ := parent
			if sel.TypeCondition != "" {
				typ = w.e.schema.Types[sel.TypeCondition]
			}
			if typ != nil {
				out.merge(w.set(sel.SelectionSet, typ, root))
			}
		case *ast.FragmentSpread:
			key := hintKey{sel.Name, root}
			r, ok := w.memo[key]
			if !ok {
				def := w.doc.Fragments.ForName(sel.Name)
				if def == nil || w.e.schema.Types[def.TypeCondition] == nil {
					continue
				}
				w.memo[key] = hintResult{maxAge: -1} // guards a cycle
				r = w.set(def.SelectionSet, w.e.schema.Types[def.TypeCondition], root)
				w.memo[key] = r
			}
			out.merge(r)
		}
	}
	return out
}

func (w *hintWalker) field(f *ast.Field, parent *ast.Definition, root bool) hintResult {
	if f.Name == "__typename" {
		return hintResult{maxAge: -1}
	}
	def := parent.Fields.ForName(f.Name)
	if def == nil {
		return hintResult{maxAge: -1}
	}
	named := w.e.schema.Types[def.Type.Name()]
	composite := named != nil && (named.Kind == ast.Object || named.Kind == ast.Interface || named.Kind == ast.Union)
	fh := readCacheControl(def.Directives)
	th := cacheDirective{maxAge: -1}
	if composite {
		th = readCacheControl(named.Directives)
		w.addTypes(named)
	}
	inherit := -1 // an inherited maxAge does not lower the minimum
	if root {
		inherit = 0 // a root field has nothing to inherit from
	}
	r := hintResult{private: fh.private || th.private}
	switch {
	case fh.maxAge >= 0:
		r.maxAge = fh.maxAge
	case fh.inherit:
		r.maxAge = inherit
	case th.maxAge >= 0:
		r.maxAge = th.maxAge
	case th.inherit:
		r.maxAge = inherit
	case composite || root:
		r.maxAge = 0
	default:
		r.maxAge = -1
	}
	if len(f.SelectionSet) > 0 && named != nil {
		r.merge(w.set(f.SelectionSet, named, false))
	}
	return r
}

// addTypes records the object types a value of type def may have.
func (w *hintWalker) addTypes(def *ast.Definition) {
	if def.Kind == ast.Object {
		if !strings.HasPrefix(def.Name, "__") {
			w.types[def.Name] = struct{}{}
		}
		return
	}
	for _, p := range w.e.schema.PossibleTypes[def.Name] {
		if !strings.HasPrefix(p.Name, "__") {
			w.types[p.Name] = struct{}{}
		}
	}
}
