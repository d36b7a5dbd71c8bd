package defense

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neko-defense/neko/store"
)

// storeWrites keeps a BlockList's Store in step with the blocks and unblocks
// this instance makes, however long the Store is down.
//
// It remembers the latest write intended for each client key (the upsert of
// its block, or its delete) from the moment the change is made until the
// Store confirms it, and queues a job for it on q. A job writes whatever is
// remembered for its key when it runs, so a later change of the key replaces
// the earlier one without a second job, and only the latest state lands. A
// write that fails (the breaker is open, the database is down), or that found
// q full, stays remembered and is queued again by retry, which the list's
// resync calls every ResyncInterval: no other backoff is needed, since a write
// refused by an open breaker costs nothing. q has one worker, so the writes of
// one key land in the order they were made.
//
// A remembered write is forgotten when the Store confirms it, when a newer
// write of its key replaces it, or when the shared list (Redis) changes the
// key after it was made (supersede): the instance that made that change
// persists it, and this older write landing later would undo it. An upsert is
// kept after its block expires: the expired document is the Store's record of
// the block (store.BlockedIP), and it must replace an earlier, longer block of
// the key, which restore would otherwise bring back.
//
// At most max keys are remembered. A change of a new key when max are waiting
// first evicts the remembered upserts whose block expired (their loss can at
// worst leave an earlier block of the key in the Store); if none has, the
// write is queued once, as a fire-and-forget job, and counted in lost when it
// fails or q is full: its block then lives in memory and Redis only (an
// upsert), or its lifted block stays in the Store (a delete), until the key
// changes again.
type storeWrites struct {
	st      BlockStore
	q       *queue
	max     int
	now     func() time.Time
	log     *slog.Logger
	logFail everyInterval
	lost    atomic.Uint64

	mu sync.Mutex // guards m
	m  map[string]storeWrite
}

// storeWrite is the latest write intended for one client key.
type storeWrite struct {
	doc   store.BlockedIP // the block to store; for a delete only doc.IP is set
	del   bool
	gen   uint64 // BlockList.gen of the change: a later change of the key has a higher one
	state writeState
}

type writeState uint8

const (
	writeIdle    writeState = iota // failed, or found q full: retry queues it
	writeQueued                    // a job of its key is on q and has not started
	writeRunning                   // a job is writing it now
)

func newStoreWrites(st BlockStore, q *queue, max int, now func() time.Time, log *slog.Logger) *storeWrites {
	return &storeWrites{st: st, q: q, max: max, now: now, log: log,
		logFail: everyInterval{interval: 10 * time.Second}, m: make(map[string]storeWrite)}
}

// set remembers w as the write of its key, unless a later change of the key
// is remembered already, and makes sure a job will write it.
func (s *storeWrites) set(w storeWrite) {
	key := w.doc.IP
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[key]
	if ok && old.gen > w.gen {
		return
	}
	if !ok && len(s.m) >= s.max {
		now := s.now()
		for k, e := range s.m {
			if !e.del && e.state != writeRunning && !e.doc.Active(now) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= s.max {
			s.once(w)
			return
		}
	}
	switch {
	case ok && old.state == writeQueued:
		w.state = writeQueued // the job on q will write w
	case s.q.push(s.job(key)):
		w.state = writeQueued
	default:
		w.state = writeIdle
	}
	s.m[key] = w
}

// once queues w without remembering it: set's fallback when max keys wait.
func (s *storeWrites) once(w storeWrite) {
	if !s.q.push(func(ctx context.Context) {
		if err := s.write(ctx, w); err != nil {
			s.lost.Add(1)
			s.log.Warn("defense: block store write lost, too many writes waiting for retry", "ip", w.doc.IP, "delete", w.del, "err", err)
		}
	}) {
		s.lost.Add(1)
		s.log.Warn("defense: block store write lost, queue full and too many writes waiting for retry", "ip", w.doc.IP, "delete", w.del)
	}
}

func (s *storeWrites) write(ctx context.Context, w storeWrite) error {
	if w.del {
		return s.st.DeleteBlockedIP(ctx, w.doc.IP)
	}
	return s.st.UpsertBlockedIP(ctx, w.doc)
}

// job writes what is remembered for key when it runs, if a job is expected
// to (writeQueued): another job of the key, queued earlier, may have written
// it already.
func (s *storeWrites) job(key string) func(context.Context) {
	return func(ctx context.Context) {
		s.mu.Lock()
		w, ok := s.m[key]
		if !ok || w.state != writeQueued {
			s.mu.Unlock()
			return
		}
		w.state = writeRunning
		s.m[key] = w
		s.mu.Unlock()

		err := s.write(ctx, w)

		s.mu.Lock()
		cur, ok := s.m[key]
		switch {
		case !ok || cur.gen != w.gen:
			// Replaced while written (the replacement has its own job, or
			// waits for retry) or superseded.
		case err == nil:
			delete(s.m, key)
		default:
			cur.state = writeIdle
			s.m[key] = cur
		}
		pending := len(s.m)
		s.mu.Unlock()
		if err != nil && s.logFail.allow(time.Now()) {
			s.log.Warn("defense: persist block list change, will retry", "ip", key, "delete", w.del, "pending", pending, "err", err)
		}
	}
}

// retry queues the writes that failed or found q full, until q is full.
func (s *storeWrites) retry() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, w := range s.m {
		if w.state != writeIdle {
			continue
		}
		if !s.q.push(s.job(key)) {
			return // the rest at the next resync
		}
		w.state = writeQueued
		s.m[key] = w
	}
}

// supersede forgets the write of key made before gen, the generation of a
// change the shared list made to this instance's memory: the instance that
// made that change persists it. A write that stores same (nil: none), the
// block the shared list holds, is kept: it is this instance's own block come
// back (from Redis after memory dropped it, or from a restore).
func (s *storeWrites) supersede(key string, gen uint64, same *Block) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.m[key]
	if !ok || w.gen >= gen {
		return
	}
	if same != nil && !w.del && w.doc.ExpiresAt.UnixMilli() == same.Until.UnixMilli() &&
		w.doc.BlockedAt.UnixMilli() == same.BlockedAt.UnixMilli() {
		return
	}
	delete(s.m, key)
}

// overlay returns docs (the Store's blocks) as the Store will hold them once
// the remembered writes have landed: restore reads this instead of the Store
// alone, so that it neither brings back a block whose delete has not landed
// yet nor misses a block whose upsert has not.
func (s *storeWrites) overlay(docs []store.BlockedIP) []store.BlockedIP {
	if s == nil {
		return docs
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) == 0 {
		return docs
	}
	out := make([]store.BlockedIP, 0, len(docs)+len(s.m))
	for _, d := range docs {
		if _, ok := s.m[d.IP]; !ok {
			out = append(out, d)
		}
	}
	for _, w := range s.m {
		if !w.del {
			out = append(out, w.doc)
		}
	}
	return out
}

// pending returns the number of writes remembered.
func (s *storeWrites) pending() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
