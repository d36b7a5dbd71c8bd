package server

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// memo remembers the exact answer the full pipeline gave to a request: the same method, path,
// query string, body, Content-Type, response media type and credential headers get the same
// bytes for as long as the cached answer behind them is fresh and nothing has been invalidated.
// It exists for the polling clients (TV monitors, public dashboards) that send the same request
// over and over: a repeat skips JSON decoding, prepare, the cache key and the tiered lookup.
// Every defense still runs before it (block list, rate limit, threat scoring).
//
// It is safe because an entry is only written from a fresh (HIT or MISS) cacheable answer of the
// full pipeline, matched on the whole request (a hash finds the slot, byte comparison decides),
// dropped when its answer's max-age ends, and dropped wholesale when the response cache's
// invalidation generation moves (a mutation here or on any other instance). The memo sits in the
// handler, after authentication: an expired, tampered or revoked credential is refused before it
// is consulted, and identical credential bytes name the identical caller, whose answer (role
// check, per-user scope) the full pipeline already computed.
type memo struct {
	hits func() // counts a lookup answered here (neko_cache_lookups_total{tier="memo"})
	seed maphash.Seed
	gen  func() uint64 // the response cache's invalidation generation
	max  int64
	// entries maps a request hash to its *memoEntry. A sync.Map because entries are written once
	// and then read by every repeat from every core: its reads take no lock.
	entries sync.Map
	size    atomic.Int64 // entries stored since the last clear (approximately: puts race)
	bytes   atomic.Int64 // their answer and key bytes, as approximately
}

type memoEntry struct {
	key     memoKey // owned copies
	answer  result
	cost    int // charged to the rate limit on a repeat, as the full path would
	expires time.Time
	gen     uint64
}

// memoKey is everything about a request its answer may depend on: method, path, query string,
// Content-Type (a POST's media type decides whether it is served at all), the response media
// type, the credential headers and the body. A key read from a request aliases its buffers.
type memoKey struct {
	method, path, query, contentType, media string
	authorization, apiKey                   string
	body                                    string
}

// keyOf reads a request's key; the strings alias buffers fasthttp reuses after the request.
func keyOf(c *fiber.Ctx, media string) memoKey {
	req := c.Request()
	return memoKey{
		method: utils.UnsafeString(req.Header.Method()), path: utils.UnsafeString(req.URI().Path()),
		query: utils.UnsafeString(req.URI().QueryString()), contentType: utils.UnsafeString(req.Header.ContentType()),
		media: media, authorization: utils.UnsafeString(req.Header.Peek(fiber.HeaderAuthorization)),
		apiKey: utils.UnsafeString(req.Header.Peek("X-API-Key")), body: utils.UnsafeString(req.Body()),
	}
}

func (k memoKey) clone() memoKey {
	return memoKey{
		method: strings.Clone(k.method), path: strings.Clone(k.path), query: strings.Clone(k.query),
		contentType: strings.Clone(k.contentType), media: k.media, authorization: strings.Clone(k.authorization),
		apiKey: strings.Clone(k.apiKey), body: strings.Clone(k.body),
	}
}

func (m *memo) hash(k memoKey) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	for _, part := range [...]string{k.method, k.path, k.query, k.contentType, k.media, k.authorization, k.apiKey, k.body} {
		h.WriteString(part)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// memoMaxBody and memoMaxAnswer bound the requests and answers the memo keeps; memoMaxEntries
// and memoMaxBytes bound all of them together (an answer is a copy of a cached one, outside the
// response cache's own byte bound).
const (
	memoMaxBody    = 16 << 10
	memoMaxAnswer  = 256 << 10
	memoMaxEntries = 4096
	memoMaxBytes   = 32 << 20
)

func newMemo(gen func() uint64, hits func()) *memo {
	return &memo{seed: maphash.MakeSeed(), gen: gen, hits: hits, max: memoMaxEntries}
}

// eligible reports whether the request may use the memo: a small body, sent uncompressed (the
// key holds the body as sent, and one set of bytes decodes differently with another encoding),
// with no failed credentials (a token not yet valid, or a key another instance just created,
// would name another caller later).
func eligible(c *fiber.Ctx) bool {
	return len(c.Request().Body()) <= memoMaxBody && len(c.Request().Header.Peek(fiber.HeaderContentEncoding)) == 0 &&
		state(c).credentialErr == nil
}

// get returns the remembered answer for this exact request, if still valid. gen is the
// invalidation generation it judged by, which put needs when the request's answer is computed.
func (m *memo) get(c *fiber.Ctx, media string, now time.Time) (e *memoEntry, gen uint64, ok bool) {
	if m == nil || !eligible(c) {
		return nil, 0, false
	}
	gen = m.gen()
	k := keyOf(c, media)
	v, _ := m.entries.Load(m.hash(k))
	e, _ = v.(*memoEntry)
	if e == nil || e.key != k || now.After(e.expires) || e.gen != gen {
		return nil, gen, false
	}
	m.hits()
	return e, gen, true
}

// put remembers a fresh cacheable answer of the full pipeline for this exact request. gen is the
// generation get saw before the answer was computed: if an invalidation came since, the answer
// may hold data from before it (the response cache then does not store it, but hands it to the
// request that waited for it), and it is not remembered. Stamping it with the generation of the
// moment it was put would have kept it as a HIT until its max-age.
func (m *memo) put(c *fiber.Ctx, media string, r result, gen uint64, fresh time.Duration) {
	if m == nil || !eligible(c) || r.err != nil || r.status != fiber.StatusOK || r.etag == "" || fresh <= 0 ||
		len(r.body) > memoMaxAnswer || (r.xCache != "HIT" && r.xCache != "MISS") || gen != m.gen() {
		return
	}
	k := keyOf(c, media)
	e := &memoEntry{key: k.clone(), answer: r, cost: r.cost, expires: time.Now().Add(fresh), gen: gen}
	e.answer.xCache = "HIT"
	n := int64(len(r.body) + len(k.body) + len(k.path) + len(k.query) + len(k.authorization) + len(k.apiKey))
	if m.size.Add(1) > m.max || m.bytes.Add(n) > memoMaxBytes {
		// A simple bound, which also drops expired answers: the polled set refills in one round.
		m.entries.Clear()
		m.size.Store(1)
		m.bytes.Store(n)
	}
	m.entries.Store(m.hash(k), e)
}
