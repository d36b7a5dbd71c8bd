package graphql

import (
	"container/list"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// document is a parsed and validated query document with the facts Prepare
// needs on every request, computed once so that a cache hit does no work
// proportional to the document's size.
type document struct {
	doc *ast.QueryDocument
	// byName indexes the named operations.
	byName map[string]*ast.OperationDefinition
	// introspects reports whether any selection is __schema or __type.
	introspects bool
	// ops holds the static analysis of each operation.
	ops map[*ast.OperationDefinition]*operationInfo
}

// operationInfo is what Prepare needs about one operation beyond the AST:
// its depth, its cost as a function of the variables and its cache hint.
type operationInfo struct {
	depth int
	cost  *costPlan
	hint  CacheHint
}

// docCache is a bounded LRU of documents keyed by the SHA-256 of the query
// text. A mutex is enough: the critical sections are a map lookup and a
// list move, far cheaper than the parse they save.
type docCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front is most recently used; values are *docEntry
	items map[[32]byte]*list.Element
}

type docEntry struct {
	key [32]byte
	doc *document
}

func newDocCache(max int) *docCache {
	return &docCache{max: max, ll: list.New(), items: make(map[[32]byte]*list.Element)}
}

// get returns the cached document and marks it recently used.
func (c *docCache) get(key [32]byte) (*document, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*docEntry).doc, true
}

// add inserts d, evicting the least recently used entries beyond the bound.
// When key is already present the existing document wins and is returned,
// so that concurrent preparers converge on one pointer.
func (c *docCache) add(key [32]byte, d *document) *document {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*docEntry).doc
	}
	c.items[key] = c.ll.PushFront(&docEntry{key: key, doc: d})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*docEntry).key)
	}
	return d
}

// len returns the number of cached documents.
func (c *docCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
