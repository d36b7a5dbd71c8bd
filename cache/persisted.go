package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for zero PersistedConfig fields.
//
// Registering a query is open to anyone, so everything it stores is bounded in bytes, not only
// in entries: 10,000 entries of 64 KiB would be 640 MB. In this process, DefaultPersistedMaxBytes
// (16 MiB) holds a few thousand typical queries (2-5 KiB each). In Redis, which also holds the
// rate limits and the block list and must not fill up, see PersistedConfig.RedisMaxBytes.
const (
	DefaultPersistedMaxEntries    = 10000
	DefaultPersistedMaxBytes      = 16 << 20
	DefaultPersistedMaxQueryBytes = 100 << 10
	DefaultPersistedTTL           = time.Hour
	DefaultPersistedRedisMaxBytes = 16 << 20
)

// persistedOverhead is what one stored query costs beyond its text and hash, in this process (list
// element, map entry, headers) and in Redis (key and value objects, TTL): counting it keeps a flood
// of tiny queries bounded too.
const persistedOverhead = 128

// Errors returned by PersistedQueries.Put; the server maps them to BAD_USER_INPUT.
var (
	ErrInvalidHash   = errors.New("cache: persisted query hash is not 64 lowercase hex digits")
	ErrHashMismatch  = errors.New("cache: persisted query hash does not match the query")
	ErrQueryTooLarge = errors.New("cache: persisted query too large")
)

// PersistedConfig configures PersistedQueries. The zero value of every field but Logger is usable.
type PersistedConfig struct {
	// MaxEntries bounds the in-process LRU's entries; 0 means DefaultPersistedMaxEntries.
	MaxEntries int
	// MaxBytes bounds the in-process LRU's bytes (query texts, hashes and a fixed overhead per
	// entry); 0 means DefaultPersistedMaxBytes. It must hold at least one query of MaxQueryBytes.
	MaxBytes int
	// MaxQueryBytes is the largest query text accepted; 0 means DefaultPersistedMaxQueryBytes.
	MaxQueryBytes int
	// Redis shares queries between instances; nil: in-process only.
	Redis redis.UniversalClient
	// KeyPrefix starts the Redis keys (KeyPrefix+"apq:"+hash); "" means DefaultKeyPrefix.
	KeyPrefix string
	// TTL is how long Redis keeps a query after the Put that stored it (a Put of a query Redis
	// holds already does not extend it); 0 means DefaultPersistedTTL.
	TTL time.Duration
	// RedisMaxBytes is how many bytes (query, key and a fixed overhead each) all instances together
	// may store in Redis per TTL window; 0 means DefaultPersistedRedisMaxBytes. Once a window's
	// budget is spent, new queries are stored in this process only until the next window: the other
	// instances answer PERSISTED_QUERY_NOT_FOUND and the client sends the text again, which costs a
	// round trip and nothing else.
	//
	// Why a shared budget rather than a smaller TTL or size limit alone: the rate limit charges a
	// registration by its size (one token per KiB), which bounds what one client can store, but
	// not what many addresses can; and any TTL times a fleet-wide registration rate is unbounded.
	// A query lives at most TTL after the Put that stored it, so what Redis holds at any moment was
	// stored in the current window or the one before: at most 2*RedisMaxBytes (32 MiB by default),
	// however many addresses send. The TTL is short (an hour) so that a window spent by a flood
	// recovers soon.
	RedisMaxBytes int
	// Now is the clock deciding the budget window; nil means time.Now.
	Now func() time.Time
	// RedisTimeout bounds each Redis call; 0 means DefaultRedisTimeout.
	RedisTimeout time.Duration
	// Logger receives Redis failures. Required.
	Logger *slog.Logger
}

// PersistedQueries stores GraphQL query texts by the hex SHA-256 of the text (Apollo automatic
// persisted queries). Put checks the hash, so a client can never make a hash stand for another
// query; Get looks in a bounded in-process LRU, then Redis, and keeps what Redis returns in the
// LRU. Losing an entry is harmless: the client gets PERSISTED_QUERY_NOT_FOUND and sends the text
// again. It is safe for concurrent use.
type PersistedQueries struct {
	cfg PersistedConfig // defaults applied

	mu    sync.Mutex               // guards order, byKey and bytes
	order *list.List               // of *persisted, most recently used first
	byKey map[string]*list.Element // hash -> element of order
	bytes int                      // size of every entry of order

	warnedWindow atomic.Int64 // the last budget window whose exhaustion was logged, plus one
}

// persisted is one LRU element.
type persisted struct {
	hash, query string
}

// NewPersistedQueries validates cfg and returns an empty store.
func NewPersistedQueries(cfg PersistedConfig) (*PersistedQueries, error) {
	switch {
	case cfg.Logger == nil:
		return nil, errors.New("cache: PersistedConfig.Logger is required")
	case cfg.MaxEntries < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.MaxEntries %d is negative", cfg.MaxEntries)
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.MaxBytes %d is negative", cfg.MaxBytes)
	case cfg.RedisMaxBytes < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.RedisMaxBytes %d is negative", cfg.RedisMaxBytes)
	case cfg.MaxQueryBytes < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.MaxQueryBytes %d is negative", cfg.MaxQueryBytes)
	case cfg.TTL < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.TTL %v is negative", cfg.TTL)
	case cfg.RedisTimeout < 0:
		return nil, fmt.Errorf("cache: PersistedConfig.RedisTimeout %v is negative", cfg.RedisTimeout)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultPersistedMaxEntries
	}
	if cfg.MaxQueryBytes == 0 {
		cfg.MaxQueryBytes = DefaultPersistedMaxQueryBytes
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultPersistedMaxBytes
	}
	if cfg.MaxBytes < entrySize(cfg.MaxQueryBytes) {
		return nil, fmt.Errorf("cache: PersistedConfig.MaxBytes %d cannot hold one query of MaxQueryBytes %d", cfg.MaxBytes, cfg.MaxQueryBytes)
	}
	if cfg.RedisMaxBytes == 0 {
		cfg.RedisMaxBytes = DefaultPersistedRedisMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultPersistedTTL
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = DefaultRedisTimeout
	}
	return &PersistedQueries{cfg: cfg, order: list.New(), byKey: make(map[string]*list.Element)}, nil
}

// Get returns the query stored under sha256Hex. A Redis failure is logged and reported as not
// found (the client then sends the full query).
func (p *PersistedQueries) Get(ctx context.Context, sha256Hex string) (string, bool) {
	if q, ok := p.local(sha256Hex); ok {
		return q, true
	}
	if p.cfg.Redis == nil || validHash(sha256Hex) != nil {
		return "", false
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	defer cancel()
	q, err := p.cfg.Redis.Get(cctx, p.cfg.KeyPrefix+"apq:"+sha256Hex).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "", false
	case err != nil:
		if ctx.Err() == nil {
			p.cfg.Logger.Warn("cache: persisted query lookup failed", "err", err)
		}
		return "", false
	}
	// Redis is shared, not trusted blindly: a value that does not hash to its key is ignored.
	if hashOf(q) != sha256Hex {
		return "", false
	}
	p.remember(sha256Hex, q)
	return q, true
}

// Put stores query under sha256Hex after checking that sha256Hex is 64 lowercase hex digits
// (ErrInvalidHash), that the query fits MaxQueryBytes (ErrQueryTooLarge) and that it hashes to
// sha256Hex (ErrHashMismatch). It stores the query in Redis too unless Redis holds it already or
// the window's RedisMaxBytes is spent. A Redis failure or a spent budget is logged, not returned:
// the query is stored locally and the request goes on.
//
// Put does not charge anyone for what it stores: the caller charges the client first (the server
// charges one rate-limit token per KiB).
func (p *PersistedQueries) Put(ctx context.Context, sha256Hex, query string) error {
	if err := CheckPersisted(sha256Hex, query); err != nil {
		return err
	}
	if len(query) > p.cfg.MaxQueryBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrQueryTooLarge, len(query), p.cfg.MaxQueryBytes)
	}
	p.remember(sha256Hex, query)
	if p.cfg.Redis == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
	defer cancel()
	window := p.cfg.Now().UnixNano() / int64(p.cfg.TTL)
	key := p.cfg.KeyPrefix + "apq:" + sha256Hex
	budget := p.cfg.KeyPrefix + "apq-budget:" + strconv.FormatInt(window, 10)
	stored, err := persistScript.Run(cctx, p.cfg.Redis, []string{key, budget}, query,
		p.cfg.TTL.Milliseconds(), len(key)+persistedOverhead, p.cfg.RedisMaxBytes, 2*p.cfg.TTL.Milliseconds()).Int()
	switch {
	case err != nil:
		if ctx.Err() == nil {
			p.cfg.Logger.Warn("cache: persisted query store failed", "err", err)
		}
	case stored == 0 && p.warnedWindow.Swap(window+1) != window+1:
		p.cfg.Logger.Warn("cache: persisted query budget in Redis spent; new queries stay in this process until the next window",
			"budget_bytes", p.cfg.RedisMaxBytes, "window", p.cfg.TTL.String())
	}
	return nil
}

// persistScript stores a persisted query in Redis within the window's byte budget, atomically.
// KEYS[1] is the query's key, KEYS[2] the window's budget counter; ARGV: the query, its TTL in
// milliseconds, the per-entry overhead in bytes (key included), the budget in bytes, and the
// counter's lifetime in milliseconds. A query already stored is left alone, its TTL included (so
// what Redis holds was always counted in a window that ended at most TTL ago). Returns 1 when the
// query is stored, 0 when the budget is spent.
var persistScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 1
end
local used = redis.call('INCRBY', KEYS[2], string.len(ARGV[1]) + tonumber(ARGV[3]))
if redis.call('PTTL', KEYS[2]) < 0 then
	redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
if used > tonumber(ARGV[4]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// local reads the LRU, marking a hit as recently used.
func (p *PersistedQueries) local(hash string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.byKey[hash]
	if !ok {
		return "", false
	}
	p.order.MoveToFront(el)
	return el.Value.(*persisted).query, true
}

// remember adds hash to the LRU, evicting the least recently used entries beyond MaxEntries or
// MaxBytes.
func (p *PersistedQueries) remember(hash, query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if el, ok := p.byKey[hash]; ok {
		p.order.MoveToFront(el)
		return
	}
	p.byKey[hash] = p.order.PushFront(&persisted{hash: hash, query: query})
	p.bytes += entrySize(len(query))
	for p.order.Len() > p.cfg.MaxEntries || p.bytes > p.cfg.MaxBytes {
		oldest := p.order.Back()
		p.order.Remove(oldest)
		e := oldest.Value.(*persisted)
		delete(p.byKey, e.hash)
		p.bytes -= entrySize(len(e.query))
	}
}

// entrySize is what the LRU counts for a query of n bytes: the text, the hash and the overhead.
func entrySize(n int) int { return n + 2*sha256.Size + persistedOverhead }

// CheckPersisted checks an APQ hash: its format (ErrInvalidHash) and, when query is not empty,
// that query hashes to it (ErrHashMismatch). The server checks a registration before executing
// it, and stores it (Put) only once the query has proved valid.
func CheckPersisted(sha256Hex, query string) error {
	if err := validHash(sha256Hex); err != nil {
		return err
	}
	if query != "" && hashOf(query) != sha256Hex {
		return ErrHashMismatch
	}
	return nil
}

// validHash checks the APQ hash format.
func validHash(h string) error {
	if len(h) != 2*sha256.Size {
		return ErrInvalidHash
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ErrInvalidHash
		}
	}
	return nil
}

// hashOf is the lowercase hex SHA-256 of s.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
