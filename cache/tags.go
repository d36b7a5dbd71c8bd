package cache

import (
	"maps"
	"sync"
	"sync/atomic"
)

// tagTable is an immutable snapshot of every tag version this instance knows. Readers load it with
// one atomic pointer read and no lock, which keeps the hit path free of shared-counter contention;
// writers (invalidations, pub/sub messages, resyncs: rare) copy it under tagSet.mu.
type tagTable struct {
	// epoch names the Redis incarnation the versions belong to (see Tiered.Invalidate); 0 means not
	// yet synchronised with Redis, and entries filled meanwhile are never accepted by a synchronised
	// table.
	epoch uint64
	// seq increases with every change of a version or of the epoch. A fill remembers seq when it
	// starts; a tag whose changed is greater was invalidated while fill ran, so the result may
	// predate the invalidation and is not stored.
	seq      uint64
	versions map[string]tagVersion
	// prev is the table as it stood when the epoch last changed (its own prev dropped), and
	// epochSeq the seq this epoch began at. An entry of the previous epoch can no longer be
	// judged fresh, but one that was usable then and whose tags have not changed since may still
	// answer when a fill fails (stale-if-error): a Redis restart must not turn every stale
	// answer into an error while the database is down too.
	prev     *tagTable
	epochSeq uint64
}

// tagVersion is one tag's current version, the seq at which it last changed (0: learned, never
// changed while this instance watched), and whether Redis is known to agree with it.
type tagVersion struct {
	v       uint64
	changed uint64
	// confirmed is false for a version Redis may not have: learned while Redis was unreachable
	// (version 0, a guess) or bumped locally and not yet replayed. Entries this instance stamped
	// with it are fine in L1; an L2 entry, written by another instance under Redis's real version,
	// is not judged against it.
	confirmed bool
}

// usable reports whether it was filled under versions at least as new as t's for every tag.
// remote marks an entry read from L2. resolve lists the tags to learn from Redis before judging
// it (absent, or unconfirmed for a remote entry); ok is false while any is listed.
func (t *tagTable) usable(it *item, remote bool) (ok bool, resolve []string) {
	if it.epoch != t.epoch {
		return false, nil
	}
	ok = true
	for i, tag := range it.entry.Tags {
		tv, found := t.versions[tag]
		switch {
		case !found || (remote && !tv.confirmed):
			resolve = append(resolve, tag)
			ok = false
		case it.versions[i] < tv.v:
			return false, nil
		}
	}
	return ok, resolve
}

// fallback reports whether it, an entry of the previous epoch, may still answer when a fill
// fails: it was usable under the previous table, and none of its tags changed in this epoch.
// Invalidations the previous table never heard of (a message lost just before Redis lost its
// data, which the next resync would have caught) cannot be known: such an entry may answer a
// failing fill, marked STALE, within its StaleIfError window.
func (t *tagTable) fallback(it *item) bool {
	if t.prev == nil || it.epoch != t.prev.epoch {
		return false
	}
	if ok, _ := t.prev.usable(it, false); !ok {
		return false
	}
	for _, tag := range it.entry.Tags {
		// A new epoch's counters start at 0: a version above it is an invalidation in this
		// epoch, even one this instance learned with the reset (another instance got there
		// first).
		if tv, found := t.versions[tag]; found && (tv.v > 0 || tv.changed > t.epochSeq) {
			return false
		}
	}
	return true
}

// tagSet holds the current tagTable and the tags invalidated locally that Redis has not heard of.
type tagSet struct {
	cur atomic.Pointer[tagTable]

	mu      sync.Mutex          // serialises writers of cur; guards pending
	pending map[string]struct{} // invalidated here while Redis was unreachable: replayed by sync
	// changes counts every published table (a version or epoch change), for Tiered.Generation.
	changes atomic.Uint64
}

// newTagSet starts with an empty table at epoch.
func newTagSet(epoch uint64) *tagSet {
	s := &tagSet{pending: make(map[string]struct{})}
	s.cur.Store(&tagTable{epoch: epoch, versions: map[string]tagVersion{}})
	return s
}

// load returns the current snapshot.
func (s *tagSet) load() *tagTable { return s.cur.Load() }

// update copies the table, lets f change the copy's versions (f returns whether it changed any
// version, which bumps seq), and publishes the copy. Must be called with s.mu held.
func (s *tagSet) update(f func(next *tagTable) bool) {
	old := s.cur.Load()
	next := &tagTable{epoch: old.epoch, seq: old.seq + 1, versions: maps.Clone(old.versions), prev: old.prev, epochSeq: old.epochSeq}
	if !f(next) {
		return
	}
	s.cur.Store(next)
	s.changes.Add(1)
}

// bump invalidates tags locally by incrementing their versions. With pending set (Redis is
// configured but did not take the invalidation) it also records them for replay and marks them
// unconfirmed.
func (s *tagSet) bump(tags []string, pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.update(func(next *tagTable) bool {
		for _, tag := range tags {
			next.versions[tag] = tagVersion{v: next.versions[tag].v + 1, changed: next.seq, confirmed: !pending}
			if pending {
				s.pending[tag] = struct{}{}
			}
		}
		return true
	})
}

// raise moves tags to versions read from Redis (a message, a resync, an INCR) where they are newer
// than the local ones: versions only grow within an epoch, so messages may arrive in any order.
// Tags in settled are no longer pending (their replay reached Redis). It changes no version and
// returns false when epoch is not the table's.
func (s *tagSet) raise(epoch uint64, vals map[string]uint64, settled []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tag := range settled {
		delete(s.pending, tag)
	}
	if epoch != s.cur.Load().epoch {
		return false
	}
	s.update(func(next *tagTable) bool {
		changed := false
		for tag, v := range vals {
			_, pending := s.pending[tag]
			tv, ok := next.versions[tag]
			switch {
			case !ok || v > tv.v:
				next.versions[tag] = tagVersion{v: v, changed: next.seq, confirmed: !pending}
				changed = true
			case !tv.confirmed && !pending:
				tv.confirmed = true
				next.versions[tag] = tv
				changed = true
			}
		}
		return changed
	})
	return true
}

// learn adds tags the table does not know yet without marking them changed: they are new to this
// instance, not invalidated. confirmed says vals come from Redis; then they also confirm (and
// raise, if newer) unconfirmed guesses that are not pending. It does nothing when epoch is not the
// table's.
func (s *tagSet) learn(epoch uint64, vals map[string]uint64, confirmed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch != s.cur.Load().epoch {
		return
	}
	s.update(func(next *tagTable) bool {
		changed := false
		for tag, v := range vals {
			tv, ok := next.versions[tag]
			_, pending := s.pending[tag]
			switch {
			case !ok:
				next.versions[tag] = tagVersion{v: v, confirmed: confirmed}
				changed = true
			case confirmed && !tv.confirmed && !pending:
				if v > tv.v {
					tv.v, tv.changed = v, next.seq
				}
				tv.confirmed = true
				next.versions[tag] = tv
				changed = true
			}
		}
		return changed
	})
}

// reset replaces the whole table: Redis has a new epoch (it lost its data, or this instance just
// connected). Every entry filled under the old epoch becomes unusable; every tag counts as changed
// so that fills in progress are not stored.
func (s *tagSet) reset(epoch uint64, vals map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := &tagTable{epoch: epoch, seq: old.seq + 1, versions: make(map[string]tagVersion, len(vals)),
		prev: &tagTable{epoch: old.epoch, seq: old.seq, versions: old.versions}, epochSeq: old.seq + 1}
	for tag, v := range vals {
		_, pending := s.pending[tag]
		next.versions[tag] = tagVersion{v: v, changed: next.seq, confirmed: !pending}
	}
	s.cur.Store(next)
	s.changes.Add(1)
}

// pendingTags returns the tags awaiting replay; they stay pending until raise settles them.
func (s *tagSet) pendingTags() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags := make([]string, 0, len(s.pending))
	for tag := range s.pending {
		tags = append(tags, tag)
	}
	return tags
}

// hasPending reports whether any tag awaits replay.
func (s *tagSet) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}
