package graphql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/ast"
)

// execution is the state of one Execute call. Goroutines it starts write
// only to their own result slots and, under mu, to errs; every goroutine
// is tracked by a WaitGroup that Execute waits on before it reads anything.
type execution struct {
	e   *Engine
	op  *Operation
	sem chan struct{} // bounds the extra goroutines of this request

	mu   sync.Mutex
	errs []*Error

	// bubbled is set when a null reached a non-null position, so the
	// settle pass is needed; most responses skip it.
	bubbled atomic.Bool
}

// pathNode is one step of a response path. Paths are linked lists built
// from arrays allocated per object and per list, and turned into a Path
// only for resolvers and errors.
type pathNode struct {
	parent *pathNode
	key    any // a field's response key, or nil for a list index
	index  int
	// full is the materialized path, precomputed for fields with resolvers.
	full Path
}

// depth returns the number of elements of the path ending at p.
func (p *pathNode) depth() int {
	n := 0
	for q := p; q != nil; q = q.parent {
		n++
	}
	return n
}

// fill writes the path ending at p into dst, which has length p.depth().
func (p *pathNode) fill(dst Path) {
	n := len(dst)
	for q := p; q != nil; q = q.parent {
		n--
		if q.key != nil {
			dst[n] = q.key
		} else {
			dst[n] = q.index
		}
	}
}

// path returns the response path ending at p.
func (p *pathNode) path() Path {
	if p.full != nil {
		return p.full
	}
	out := make(Path, p.depth())
	p.fill(out)
	return out
}

// Execute runs a prepared operation (§6.2) and never panics. Query fields
// run as described on Field.Blocking; mutation root fields run serially in
// document order, each with its whole sub-tree finished before the next
// starts (§6.2.2). Subscriptions need a streaming transport and are answered
// with an error and no data.
func (e *Engine) Execute(ctx context.Context, op *Operation) *Response {
	if op == nil || op.Definition == nil {
		return &Response{Errors: []*Error{newCodedError(CodeValidationFailed, "Must provide an operation.")}}
	}
	var root *ast.Definition
	switch op.Kind {
	case ast.Query:
		root = e.schema.Query
	case ast.Mutation:
		root = e.schema.Mutation
	}
	if root == nil {
		msg := fmt.Sprintf("The schema has no %s root type.", op.Kind)
		if op.Kind == ast.Subscription {
			msg = "Subscriptions need a streaming transport; Execute runs queries and mutations only."
		}
		return &Response{Errors: []*Error{newCodedError(CodeValidationFailed, msg, positionLocations(op.Definition.Position)...)}}
	}
	ex := &execution{e: e, op: op, sem: make(chan struct{}, e.concurrency)}
	p := ex.buildPlan(root, []ast.SelectionSet{op.Definition.SelectionSet})

	var data value
	ex.run(ctx, func(lv *level) {
		ex.executeObject(ctx, lv, root, e.rootValue, p, nil, &data, op.Kind == ast.Mutation)
	})

	if ex.bubbled.Load() {
		settle(&data)
	}
	buf := make([]byte, 0, sizeHint(&data))
	buf = appendValue(buf, &data)
	sortErrors(ex.errs)
	return &Response{Data: buf, Errors: ex.errs}
}

// executeObject implements ExecuteSelectionSet (§6.3) for one object value,
// writing into out. Blocking fields are started on goroutines tracked by
// lv and not waited for here: all items of a list get their resolvers in
// flight before anyone waits, which is what lets dataloaders batch. With
// serial set (mutation roots) each field, everything it started and every
// thunk below it finishes before the next field begins.
func (ex *execution) executeObject(ctx context.Context, lv *level, objType *ast.Definition, source any, p *plan, path *pathNode, out *value, serial bool) {
	out.kind = kindObject
	out.plan = p
	out.elems = make([]value, len(p.fields))
	nodes := make([]pathNode, len(p.fields))
	for i, cf := range p.fields {
		nodes[i] = pathNode{parent: path, key: cf.pathKey}
	}
	if p.bound > 0 {
		// Resolvers receive their path: materialize all of them in one
		// allocation rather than one per call. Capacities are clipped so
		// a resolver appending to its path cannot touch a sibling's.
		width := nodes[0].depth()
		block := make(Path, width*len(nodes))
		nodes[0].fill(block[:width])
		for i := range nodes {
			full := block[i*width : (i+1)*width : (i+1)*width]
			copy(full[:width-1], block[:width-1])
			full[width-1] = nodes[i].key
			nodes[i].full = full
		}
	}
	for i, cf := range p.fields {
		node, slot := &nodes[i], &out.elems[i]
		if serial {
			ex.run(ctx, func(lv *level) {
				ex.executeField(ctx, lv, objType, source, cf, node, slot)
			})
			continue
		}
		if cf.bind != nil && cf.bind.blocking && ex.spawn(&lv.wg, func() {
			ex.executeField(ctx, lv, objType, source, cf, node, slot)
		}) {
			continue
		}
		ex.executeField(ctx, lv, objType, source, cf, node, slot)
	}
}

// spawn runs fn on a new goroutine tracked by wg if the request has a free
// slot. It never waits for a slot: a goroutine holding one may itself be
// waiting for nested work, so waiting could deadlock. false means the
// caller must run fn inline.
func (ex *execution) spawn(wg *sync.WaitGroup, fn func()) bool {
	select {
	case ex.sem <- struct{}{}:
	default:
		return false
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { <-ex.sem }()
		fn()
	}()
	return true
}

// executeField implements ExecuteField (§6.4): resolve, then complete. A
// panic anywhere below (resolver, middleware, scalar codec) is recovered
// into a field error with CodeInternal.
func (ex *execution) executeField(ctx context.Context, lv *level, objType *ast.Definition, source any, cf *collectedField, path *pathNode, out *value) {
	if cf.typename {
		out.kind, out.s = kindString, objType.Name
		return
	}
	defer ex.recoverField(cf.def.Type, cf, path, out)
	v, err := ex.resolve(ctx, objType, source, cf, path)
	if err != nil {
		ex.fieldError(err, cf, path)
		ex.setNull(out, cf.def.Type.NonNull)
		return
	}
	ex.complete(ctx, lv, cf.def.Type, cf, v, path, out)
}

// recoverField turns a panic below a field (or a list item of type typ)
// into a field error with CodeInternal and a null. It must be deferred
// directly so that its recover sees the panic.
func (ex *execution) recoverField(typ *ast.Type, cf *collectedField, path *pathNode, out *value) {
	r := recover()
	if r == nil {
		return
	}
	ex.addError(internalError(r, cf, path))
	out.elems, out.plan = nil, nil
	ex.setNull(out, typ.NonNull)
}

// internalError is the error recorded for a panic at path.
func internalError(r any, cf *collectedField, path *pathNode) *Error {
	return &Error{
		Message:    "internal error",
		Locations:  cf.locations(),
		Path:       path.path(),
		Extensions: map[string]any{"code": CodeInternal},
		Err:        &PanicError{Value: r, Stack: debug.Stack()},
	}
}

// resolve calls the field's resolver, or resolves it by default: the
// map entry named after the field when the parent is a map[string]any.
func (ex *execution) resolve(ctx context.Context, objType *ast.Definition, source any, cf *collectedField, path *pathNode) (any, error) {
	if cf.argErr != nil {
		return nil, cf.argErr
	}
	if cf.bind == nil {
		if m, ok := source.(map[string]any); ok {
			return m[cf.def.Name], nil
		}
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := ResolveParams{
		Source: source,
		Args:   cf.args,
		Info: FieldInfo{
			ParentType: objType.Name,
			FieldName:  cf.def.Name,
			Definition: cf.def,
			Field:      cf.nodes[0],
			Path:       path.path(),
			Operation:  ex.op.Definition,
		},
	}
	if cf.bind.user && ex.e.middleware != nil {
		return ex.e.middleware(ctx, p, cf.bind.resolve)
	}
	return cf.bind.resolve(ctx, p)
}

// setNull stores null, or marks a null in a non-null position for the
// settle pass to propagate (§6.4.4).
func (ex *execution) setNull(out *value, nonNull bool) {
	if nonNull {
		out.kind = kindBubble
		ex.bubbled.Store(true)
		return
	}
	out.kind = kindNull
}

// fieldError records a resolver's error against the field. A *Error keeps
// its message and extensions; anything else is wrapped with its message and
// kept as the cause for the transport to classify.
func (ex *execution) fieldError(err error, cf *collectedField, path *pathNode) {
	var out *Error
	var ge *Error
	if errors.As(err, &ge) {
		out = &Error{Message: ge.Message, Locations: ge.Locations, Path: ge.Path, Extensions: ge.Extensions, Err: ge.Err}
		if out.Err == nil && err != error(ge) {
			out.Err = err
		}
	} else {
		out = &Error{Message: err.Error(), Err: err}
	}
	if out.Locations == nil {
		out.Locations = cf.locations()
	}
	if out.Path == nil {
		out.Path = path.path()
	}
	ex.addError(out)
}

// newFieldError records an error produced by the engine during completion.
func (ex *execution) newFieldError(msg string, cause error, cf *collectedField, path *pathNode) {
	ex.addError(&Error{Message: msg, Locations: cf.locations(), Path: path.path(), Err: cause})
}

func (ex *execution) addError(err *Error) {
	ex.mu.Lock()
	ex.errs = append(ex.errs, err)
	ex.mu.Unlock()
}

// locations returns the document location of the field.
func (cf *collectedField) locations() []Location {
	return positionLocations(cf.nodes[0].Position)
}

// sortErrors orders errors by document location, then by path, so that the
// response does not depend on goroutine scheduling.
func sortErrors(errs []*Error) {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if c := compareLocations(a.Locations, b.Locations); c != 0 {
			return c
		}
		return comparePaths(a.Path, b.Path)
	})
}

func compareLocations(a, b []Location) int {
	if len(a) == 0 || len(b) == 0 {
		return cmp.Compare(len(a), len(b))
	}
	if c := cmp.Compare(a[0].Line, b[0].Line); c != 0 {
		return c
	}
	return cmp.Compare(a[0].Column, b[0].Column)
}

func comparePaths(a, b Path) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aInt := a[i].(int)
		bi, bInt := b[i].(int)
		switch {
		case aInt && bInt:
			if c := cmp.Compare(ai, bi); c != 0 {
				return c
			}
		case aInt != bInt:
			if aInt {
				return -1
			}
			return 1
		default:
			as, _ := a[i].(string)
			bs, _ := b[i].(string)
			if c := cmp.Compare(as, bs); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(a), len(b))
}
