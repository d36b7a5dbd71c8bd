// Package slotcache is a fixed-size, lock-free cache for values that are cheap to recompute and
// asked for over and over on the request path (the text of a client address, the threat rules'
// verdict on a user agent). Each key hashes to one slot; a lookup is one hash and one atomic load,
// and a store replaces whatever held the slot. Memory is bounded by the number of slots, nothing
// needs evicting, and a miss, a collision or a lost race only costs a recomputation.
package slotcache

import (
	"hash/maphash"
	"sync/atomic"
)

// Cache maps keys to values in a fixed number of slots. It is safe for concurrent use. Keys
// must not alias memory that changes later (clone a string read from a reused buffer before
// Put), because entries are immutable and shared.
type Cache[K comparable, V any] struct {
	seed  maphash.Seed
	slots []atomic.Pointer[entry[K, V]]
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns a Cache of n slots (at least 1).
func New[K comparable, V any](n int) *Cache[K, V] {
	return &Cache[K, V]{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[entry[K, V]], max(n, 1))}
}

func (c *Cache[K, V]) slot(k K) *atomic.Pointer[entry[K, V]] {
	return &c.slots[maphash.Comparable(c.seed, k)%uint64(len(c.slots))]
}

// Get returns the value stored for k, if its slot still holds it.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	if e := c.slot(k).Load(); e != nil && e.key == k {
		return e.val, true
	}
	var zero V
	return zero, false
}

// Put stores v for k, replacing whatever held k's slot.
func (c *Cache[K, V]) Put(k K, v V) {
	c.slot(k).Store(&entry[K, V]{key: k, val: v})
}
