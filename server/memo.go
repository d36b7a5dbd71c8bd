package server

import (
	"bytes"
	"hash/maphash"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// memo remembers the exact answer the full pipeline gave to a request: the same method, path,
// query string, body, Content-Type, response media type and credential headers get the same bytes for as long as the
// cached answer behind them is fresh and nothing has been invalidated. It exists for the polling clients (TV monitors, public dashboards) that send the
// same request over and over: a repeat skips JSON decoding, prepare, the cache key and the tiered
// lookup. Every defense still runs before it (block list, rate limit, threat scoring).
//
// It is safe because an entry is only written from a fresh (HIT or MISS) cacheable answer of the
// full pipeline, matched on the whole request (a hash finds the slot, byte comparison decides),
// dropped when its answer's max-age ends, and dropped wholesale when the response cache's
// invalidation generation moves (a mutation here or on any other instance). The memo sits in the
// handler, after authentication: an expired, tampered or revoked credential is refused before it
// is consulted, and identical credential bytes name the identical caller, whose answer (role
// check, per-user scope) the full pipeline already computed.
type memo struct {
	hits    func() // counts a lookup answered here (neko_cache_lookups_total{tier="memo"})
	seed    maphash.Seed
	gen     func() uint64 // the response cache's invalidation generation
	max     int
	mu      sync.RWMutex // guards entries
	entries map[uint64]*memoEntry
}

type memoEntry struct {
	method, path, query, media string
	contentType                string // a POST's media type decides whether it is served at all (415)
	authorization, apiKey      string // the credential headers, part of the key
	body                       []byte // the request body
	answer                     result
	cost                       int // charged to the rate limit on a repeat, as the full path would
	expires                    time.Time
	gen                        uint64
}

// memoMaxBody bounds the requests and answers the memo keeps (memoMaxEntries of them).
const (
	memoMaxBody    = 16 << 10
	memoMaxAnswer  = 256 << 10
	memoMaxEntries = 4096
)

func newMemo(gen func() uint64, hits func()) *memo {
	return &memo{seed: maphash.MakeSeed(), gen: gen, hits: hits, max: memoMaxEntries, entries: make(map[uint64]*memoEntry)}
}

// eligible reports whether the request may use the memo: a small body.
func eligible(c *fiber.Ctx) bool {
	return len(c.Request().Body()) <= memoMaxBody
}

func (m *memo) hash(c *fiber.Ctx, media string) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.Write(c.Request().Header.Method())
	h.WriteByte(0)
	h.Write(c.Request().URI().Path())
	h.WriteByte(0)
	h.Write(c.Request().URI().QueryString())
	h.WriteByte(0)
	h.WriteString(media)
	h.WriteByte(0)
	h.Write(c.Request().Header.ContentType())
	h.WriteByte(0)
	h.Write(c.Request().Header.Peek(fiber.HeaderAuthorization))
	h.WriteByte(0)
	h.Write(c.Request().Header.Peek("X-API-Key"))
	h.WriteByte(0)
	h.Write(c.Request().Body())
	return h.Sum64()
}

// get returns the remembered answer for this exact request, if still valid.
func (m *memo) get(c *fiber.Ctx, media string, now time.Time) (*memoEntry, bool) {
	if m == nil || !eligible(c) {
		return nil, false
	}
	k := m.hash(c, media)
	m.mu.RLock()
	e := m.entries[k]
	m.mu.RUnlock()
	if e == nil || now.After(e.expires) || e.gen != m.gen() || e.media != media ||
		e.method != string(c.Request().Header.Method()) || e.path != string(c.Request().URI().Path()) ||
		e.query != string(c.Request().URI().QueryString()) || !bytes.Equal(e.body, c.Request().Body()) ||
		e.contentType != string(c.Request().Header.ContentType()) ||
		e.authorization != string(c.Request().Header.Peek(fiber.HeaderAuthorization)) ||
		e.apiKey != string(c.Request().Header.Peek("X-API-Key")) {
		return nil, false
	}
	m.hits()
	return e, true
}

// put remembers a fresh cacheable answer of the full pipeline for this exact request.
func (m *memo) put(c *fiber.Ctx, media string, r result, cost int, fresh time.Duration) {
	if m == nil || !eligible(c) || r.err != nil || r.status != fiber.StatusOK || r.etag == "" || fresh <= 0 ||
		len(r.body) > memoMaxAnswer || (r.xCache != "HIT" && r.xCache != "MISS") {
		return
	}
	e := &memoEntry{
		method: string(c.Request().Header.Method()), path: string(c.Request().URI().Path()),
		query: string(c.Request().URI().QueryString()), media: media, body: bytes.Clone(c.Request().Body()),
		contentType:   string(c.Request().Header.ContentType()),
		authorization: string(c.Request().Header.Peek(fiber.HeaderAuthorization)), apiKey: string(c.Request().Header.Peek("X-API-Key")),
		answer: r, cost: cost, expires: time.Now().Add(fresh), gen: m.gen(),
	}
	e.answer.xCache = "HIT"
	k := m.hash(c, media)
	m.mu.Lock()
	if len(m.entries) >= m.max {
		clear(m.entries) // a simple bound: the polled set refills in one round
	}
	m.entries[k] = e
	m.mu.Unlock()
}
