package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Entry is one cached response. The cache owns an Entry once fill returns it: neither the fill
// function nor a caller of Do or Get may modify Body or Tags afterwards, because the same backing
// arrays are handed to every caller that hits the entry.
type Entry struct {
	// Body is the response, stored and returned as is.
	Body []byte
	// Tags name what the entry depends on (for neko, GraphQL type names such as "ThreatActor").
	// Invalidate(tag) makes every entry carrying tag unusable. Tags should come from a small,
	// bounded vocabulary: the cache keeps one version per distinct tag for its whole life.
	Tags []string
	// StoredAt is when fill produced the entry, on the Config.Now clock; set by the cache.
	StoredAt time.Time
	// ETag is a strong validator of Body (`"` + 32 hex digits of SHA-256 + `"`); set by the cache.
	ETag string
}

// Policy says how long an entry is fresh and how long it may be served stale. Negative windows are
// treated as zero.
type Policy struct {
	// MaxAge is the fresh window. MaxAge <= 0 means do not cache: Do just calls fill and reports
	// Bypass.
	MaxAge time.Duration
	// StaleWhileRevalidate extends MaxAge: during it Do serves the stale entry and refreshes it once
	// in the background.
	StaleWhileRevalidate time.Duration
	// StaleIfError extends MaxAge: during it Do serves the stale entry when fill fails.
	StaleIfError time.Duration
	// Tags are the tags fill's entry will carry, as far as the caller knows them before it runs
	// (GraphQL operations and REST routes know theirs). Their versions are learned before fill
	// starts: with Redis, an entry carrying a tag this instance did not know when its fill began
	// is answered but not stored (see Tiered.stamp), so undeclared tags cost a miss.
	Tags []string
}

// retention is how long past StoredAt an entry can still be of use, which is how long the tiers
// keep it (L2 PX, L1 TTL).
func (p Policy) retention() time.Duration {
	return p.MaxAge + max(p.StaleWhileRevalidate, p.StaleIfError)
}

// normalized clamps negative windows to zero.
func (p Policy) normalized() Policy {
	p.StaleWhileRevalidate = max(p.StaleWhileRevalidate, 0)
	p.StaleIfError = max(p.StaleIfError, 0)
	return p
}

// Status reports how Do or Get answered; its String is the X-Cache header value.
type Status int

const (
	// Miss means the answer came from fill (or, with an error, that there is no answer).
	Miss Status = iota
	// Hit means a fresh cached entry.
	Hit
	// Stale means an entry past MaxAge, served under stale-while-revalidate or stale-if-error.
	Stale
	// Bypass means the policy did not allow caching and fill was called directly.
	Bypass
)

// String returns "MISS", "HIT", "STALE" or "BYPASS".
func (s Status) String() string {
	switch s {
	case Hit:
		return "HIT"
	case Stale:
		return "STALE"
	case Bypass:
		return "BYPASS"
	default:
		return "MISS"
	}
}

// freshness is where an entry stands relative to its policy windows at some instant.
type freshness int

const (
	// expired: past every window (or invalidated): unusable.
	expired freshness = iota
	// fresh: within MaxAge.
	fresh
	// revalidate: within StaleWhileRevalidate: serve it and refresh in the background.
	revalidate
	// ifError: within StaleIfError only: serve it only if fill fails.
	ifError
)

// classify places an entry stored at storedAt under p at now. A negative age (another instance's
// clock is ahead) counts as fresh.
func classify(storedAt, now time.Time, p Policy) freshness {
	age := now.Sub(storedAt)
	switch {
	case age < p.MaxAge:
		return fresh
	case age < p.MaxAge+p.StaleWhileRevalidate:
		return revalidate
	case age < p.MaxAge+p.StaleIfError:
		return ifError
	default:
		return expired
	}
}

// item is what both tiers store: the entry plus what is needed to judge it later without the
// caller's help (its policy, for Get) and to detect invalidation (the tag versions it was filled
// under).
type item struct {
	entry    Entry
	policy   Policy
	epoch    uint64   // the tag-version epoch the versions belong to
	versions []uint64 // versions[i] is the version of entry.Tags[i] when fill ran
}

// cost is the L1 cost of it under key: its bytes plus a fixed overhead for the structs.
func (it *item) cost(key string) int64 {
	n := len(key) + len(it.entry.Body) + len(it.entry.ETag) + 8*len(it.versions) + 160
	for _, tag := range it.entry.Tags {
		n += len(tag) + 16
	}
	return int64(n)
}

// etagOf computes the strong validator of body: the first 16 bytes of its SHA-256, in hex, quoted.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	var b [2 + 2*16]byte
	b[0] = '"'
	hex.Encode(b[1:33], sum[:16])
	b[33] = '"'
	return string(b[:])
}
