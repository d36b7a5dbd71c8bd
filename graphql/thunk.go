package graphql

import (
	"context"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// Thunk is a value that is not available yet. A resolver (or a list item)
// may return a Thunk instead of a value: the engine does not call it at
// once but registers it, and calls ("forces") it only after every sibling
// field and every item of every list of the current level has been
// resolved. A per-request dataloader whose Load registers a key and returns
// a function that waits for the batch therefore sees the keys of a whole
// list, however long, before anyone waits: one batch per level.
//
// The forced value is completed like a resolver's value and may hold more
// thunks, which form the next level. A Thunk's error is a field error at
// the field's path; a panic is recovered like a resolver panic. A nil
// Thunk is null. Thunks are meant for non-blocking resolvers
// (Field.Blocking false) that only register keys.
type Thunk func() (any, error)

// level is one breadth-first round of execution: the goroutines started
// while resolving it and the thunks registered by it. A level is finished
// when its goroutines are done; its thunks are then forced together and
// completed into the next level.
type level struct {
	wg sync.WaitGroup // goroutines started for this level

	mu     sync.Mutex
	thunks []pendingThunk // guarded by mu
}

// pendingThunk is a registered thunk and where its value goes: it is
// completed as typ for cf into out, at path.
type pendingThunk struct {
	thunk Thunk
	typ   *ast.Type
	cf    *collectedField
	path  *pathNode
	out   *value

	v   any // the forced value
	err error
}

// add registers a thunk with the level. It is safe for concurrent use.
func (lv *level) add(p pendingThunk) {
	lv.mu.Lock()
	lv.thunks = append(lv.thunks, p)
	lv.mu.Unlock()
}

// run executes start as the first level, then forces and completes the
// thunks level by level until none is left. Thunks of a level are forced
// concurrently (bounded by the request's goroutine budget, inline beyond
// it); only then are their values completed, so that completing one value
// cannot race with forcing another.
func (ex *execution) run(ctx context.Context, start func(lv *level)) {
	lv := &level{}
	start(lv)
	for {
		lv.wg.Wait()
		pending := lv.thunks // no goroutine of lv is left: no lock needed
		if len(pending) == 0 {
			return
		}
		var forced sync.WaitGroup
		for i := range pending {
			p := &pending[i]
			if !ex.spawn(&forced, func() { p.force(ctx) }) {
				p.force(ctx)
			}
		}
		forced.Wait()
		next := &level{}
		for i := range pending {
			ex.completeThunk(ctx, next, &pending[i])
		}
		lv = next
	}
}

// force calls the thunk, turning a panic into an internal error. A
// cancelled request does not force its thunks.
func (p *pendingThunk) force(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			p.v, p.err = nil, internalError(r, p.cf, p.path)
		}
	}()
	if err := ctx.Err(); err != nil {
		p.err = err
		return
	}
	p.v, p.err = p.thunk()
}

// completeThunk completes a forced thunk into its slot, registering any
// thunks its value holds with lv.
func (ex *execution) completeThunk(ctx context.Context, lv *level, p *pendingThunk) {
	defer ex.recoverField(p.typ, p.cf, p.path, p.out)
	if p.err != nil {
		ex.fieldError(p.err, p.cf, p.path)
		ex.setNull(p.out, p.typ.NonNull)
		return
	}
	ex.complete(ctx, lv, p.typ, p.cf, p.v, p.path, p.out)
}
