package graphql

import (
	"github.com/vektah/gqlparser/v2/ast"
)

// measures are the size facts of one selection set with its fragments
// expanded, computed on the parsed but not yet validated document so that
// hostile documents are rejected before validation, whose
// OverlappingFieldsCanBeMerged rule is quadratic in the fields it compares.
type measures struct {
	// depth is the nesting level of the deepest field other than
	// __typename, root fields being at level 0 (so `{ a { b } }` is 1).
	// It is -1 for a set without such fields.
	depth int
	// fields counts field selections, each fragment counted once per spread.
	fields int
	// aliases counts the selected fields whose alias differs from their name.
	aliases int
	// top counts the fields of the set itself, through fragments and inline
	// fragments but not below: an operation's root fields.
	top int
}

// measureCap bounds the counts: fragments spread 10 times over 20 levels
// would count 10^20 fields. Counts saturate, which keeps them comparable
// with any limit.
const measureCap = 1 << 50

func satAdd(a, b int) int {
	if a+b > measureCap {
		return measureCap
	}
	return a + b
}

// measurer measures a document. Each fragment is measured once and its
// measures reused at every spread, so the walk is linear in the document
// however the fragments fan out; a spread of a fragment that is still
// being measured (a cycle, which validation reports) counts as empty.
type measurer struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]*fragmentMeasures
}

type fragmentMeasures struct {
	m    measures
	done bool // false while the fragment is being measured
}

func newMeasurer(doc *ast.QueryDocument) *measurer {
	m := &measurer{
		frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:  make(map[string]*fragmentMeasures, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, dup := m.frags[f.Name]; !dup {
			m.frags[f.Name] = f
		}
	}
	return m
}

// set measures a selection set.
func (mr *measurer) set(set ast.SelectionSet) measures {
	out := measures{depth: -1}
	for _, sel := range set {
		var m measures
		switch sel := sel.(type) {
		case *ast.Field:
			sub := mr.set(sel.SelectionSet)
			m = measures{depth: -1, fields: satAdd(1, sub.fields), aliases: sub.aliases, top: 1}
			if sel.Alias != "" && sel.Alias != sel.Name {
				m.aliases = satAdd(m.aliases, 1)
			}
			if sel.Name != "__typename" {
				m.depth = sub.depth + 1
			}
		case *ast.InlineFragment:
			m = mr.set(sel.SelectionSet)
		case *ast.FragmentSpread:
			m = mr.fragment(sel.Name)
		}
		out.depth = max(out.depth, m.depth)
		out.fields = satAdd(out.fields, m.fields)
		out.aliases = satAdd(out.aliases, m.aliases)
		out.top = satAdd(out.top, m.top)
	}
	return out
}

// fragment returns the measures of the named fragment, measuring it on
// first use. Unknown fragments (a validation error) count as empty.
func (mr *measurer) fragment(name string) measures {
	if fm := mr.memo[name]; fm != nil {
		if !fm.done {
			return measures{depth: -1}
		}
		return fm.m
	}
	def := mr.frags[name]
	if def == nil {
		return measures{depth: -1}
	}
	fm := &fragmentMeasures{}
	mr.memo[name] = fm
	fm.m = mr.set(def.SelectionSet)
	fm.done = true
	return fm.m
}

// checkDocument measures every operation and every fragment definition
// (validation walks unused fragments too) and returns the first limit
// exceeded, or nil. depths receives each operation's depth.
func (l *limits) checkDocument(doc *ast.QueryDocument) (depths map[*ast.OperationDefinition]int, err *Error) {
	mr := newMeasurer(doc)
	depths = make(map[*ast.OperationDefinition]int, len(doc.Operations))
	for _, op := range doc.Operations {
		m := mr.set(op.SelectionSet)
		m.depth = max(m.depth, 0)
		depths[op] = m.depth
		name := "The operation"
		if op.Name != "" {
			name = "Operation " + op.Name
		}
		if err := l.checkMeasures(m, true, name); err != nil {
			err.Locations = positionLocations(op.Position)
			return nil, err
		}
	}
	for _, f := range doc.Fragments {
		m := mr.fragment(f.Name)
		m.depth = max(m.depth, 0)
		if err := l.checkMeasures(m, false, "Fragment "+f.Name); err != nil {
			err.Locations = positionLocations(f.Position)
			return nil, err
		}
	}
	return depths, nil
}
