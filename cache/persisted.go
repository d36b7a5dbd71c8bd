package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for zero PersistedConfig fields.
const (
	DefaultPersistedMaxEntries    = 10000
	DefaultPersistedMaxQueryBytes = 100 << 10
	DefaultPersistedTTL           = 24 * time.Hour
)

// Errors returned by PersistedQueries.Put; the server maps them to BAD_USER_INPUT.
var (
	ErrInvalidHash   = errors.New("cache: persisted query hash is not 64 lowercase hex digits")
	ErrHashMismatch  = errors.New("cache: persisted query hash does not match the query")
	ErrQueryTooLarge = errors.New("cache: persisted query too large")
)

// PersistedConfig configures PersistedQueries. The zero value of every field but Logger is usable.
type PersistedConfig struct {
	// MaxEntries bounds the in-process LRU; 0 means DefaultPersistedMaxEntries.
	MaxEntries int
	// MaxQueryBytes is the largest query text accepted; 0 means DefaultPersistedMaxQueryBytes.
	MaxQueryBytes int
	// Redis shares queries between instances; nil: in-process only.
	Redis redis.UniversalClient
	// KeyPrefix starts the Redis keys (KeyPrefix+"apq:"+hash); "" means DefaultKeyPrefix.
	KeyPrefix string
	// TTL is how long Redis keeps a query after its last Put; 0 means DefaultPersistedTTL.
	TTL time.Duration
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

	mu    sync.Mutex               // guards order and byKey
	order *list.List               // of *persisted, most recently used first
	byKey map[string]*list.Element // hash -> element of order
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
// sha256Hex (ErrHashMismatch). A Redis failure is logged, not returned: the query is stored
// locally and the request goes on.
func (p *PersistedQueries) Put(ctx context.Context, sha256Hex, query string) error {
	if err := CheckPersisted(sha256Hex, query); err != nil {
		return err
	}
	if len(query) > p.cfg.MaxQueryBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrQueryTooLarge, len(query), p.cfg.MaxQueryBytes)
	}
	p.remember(sha256Hex, query)
	if p.cfg.Redis != nil {
		cctx, cancel := context.WithTimeout(ctx, p.cfg.RedisTimeout)
		defer cancel()
		if err := p.cfg.Redis.Set(cctx, p.cfg.KeyPrefix+"apq:"+sha256Hex, query, p.cfg.TTL).Err(); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Warn("cache: persisted query store failed", "err", err)
		}
	}
	return nil
}

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

// remember adds hash to the LRU, evicting the least recently used entry beyond MaxEntries.
func (p *PersistedQueries) remember(hash, query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if el, ok := p.byKey[hash]; ok {
		p.order.MoveToFront(el)
		return
	}
	p.byKey[hash] = p.order.PushFront(&persisted{hash: hash, query: query})
	for p.order.Len() > p.cfg.MaxEntries {
		oldest := p.order.Back()
		p.order.Remove(oldest)
		delete(p.byKey, oldest.Value.(*persisted).hash)
	}
}

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
