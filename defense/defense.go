// Package defense detects, answers and records hostile traffic: threat
// scoring, incident playbooks, the shared block list and honeypot recording
// (reference §4.1-4.3, DESIGN.md decision 6).
//
// It knows nothing of HTTP. Server middleware turns each request into plain
// values and drives the package in this order:
//
//	BlockList.BlockedClient(key, ip) in-memory lookup, no network: refuse early
//	Scorer.Score(RequestInfo)     per-client state in bounded memory -> Verdict
//	Responder.HandleAsync(...)    when the verdict is Block: the block is applied
//	                              synchronously (memory + Redis publish), the
//	                              incident write and audit run on a worker
//	MatchTrap(path)               honeypot routes: Honeypot.Record queues the
//	                              trigger document and runs HONEYPOT_CAPTURE
//	Scorer.Observe(key, d)        after the response: feeds the timing rule
//
// Every per-client state (scorer history, block list entries, monitor
// claims) is keyed by the client's key (internal/clientkey: an IPv4 address,
// the /64 of an IPv6 client, which can rotate the addresses inside it at
// will). Incidents and honeypot triggers record the exact address as
// evidence; the block their playbook applies covers the key.
//
// Blocks reach every instance through Redis (a key per address with a TTL,
// an index set, and a pub/sub channel); each instance keeps the whole list in
// memory, so checking it never touches the network. Documents reach MongoDB
// through small interfaces declared here (IncidentStore, BlockStore,
// TriggerStore) on bounded queues owned by the type that writes them: a slow
// database delays records, never requests. The block list also remembers, in
// bounded memory, the latest block or unblock of each client key that the
// database has not confirmed, and retries it at each resync, so the database
// catches up after an outage (storewrites.go). Every type that starts
// goroutines stops and waits for them in Close.
package defense

import (
	"crypto/rand"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// newID returns "<prefix>-<unix ms>-<7 upper-case base36 characters>", the
// shape of the original's incident and security ids.
func newID(prefix string, now time.Time) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var raw [7]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand panics instead)
	var b strings.Builder
	b.Grow(len(prefix) + 24)
	b.WriteString(prefix)
	b.WriteByte('-')
	b.WriteString(strconv.FormatInt(now.UnixMilli(), 10))
	b.WriteByte('-')
	for _, c := range raw {
		b.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return b.String()
}

// NewSecurityID returns a "NEKO-<ms>-<7 base36>" id for a block response
// body, as the original's securityId.
func NewSecurityID(now time.Time) string { return newID("NEKO", now) }

// everyInterval lets one event through per interval; it rate-limits
// repeated log lines about the same failure.
type everyInterval struct {
	interval time.Duration
	last     atomic.Int64 // unix nanos of the last event let through
}

func (e *everyInterval) allow(now time.Time) bool {
	n := now.UnixNano()
	last := e.last.Load()
	if last != 0 && n-last < int64(e.interval) {
		return false
	}
	return e.last.CompareAndSwap(last, n)
}

// orNow returns now unless it is nil, else time.Now.
func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
