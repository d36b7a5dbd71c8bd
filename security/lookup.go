package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/neko-defense/neko/store"
)

// LookupConfig bounds the store lookups of KeyManager.Verify. Zero values take the documented
// defaults.
//
// A key that is not in the index is either new (created or rotated on another instance since
// this one's last reload) or bogus, and anyone can send bogus keys: were each one a database
// round trip, a flood of random keys would be a flood of database reads. So a lookup happens
// only for a key that parses as a key this package makes (the prefix, a 12-hex-digit id, a
// 43-character secret), and only when
//
//   - the id is not among the ids the store recently did not have (MissTTL, at most MaxMisses
//     of them): a client that keeps sending a deleted or mistyped key costs one lookup, not one
//     per request;
//   - no lookup of the same id is in flight: concurrent requests with one new key share one;
//   - the instance's lookup budget (PerSecond, Burst) has a token left. Beyond it an unknown key
//     is refused without a lookup, as every unknown key was before lookups existed, until the
//     budget refills or a reload brings the key into the index. Random keys cost at most
//     PerSecond round trips a second, whatever their rate.
type LookupConfig struct {
	// PerSecond is the most lookups a second this KeyManager makes, Burst how many it may make at
	// once. Defaults 10 and 20. A negative PerSecond disables lookups: keys the index lacks are
	// refused until a reload brings them.
	PerSecond float64
	Burst     int
	// Timeout bounds one lookup, whatever the caller's deadline. Default 2s.
	Timeout time.Duration
	// MissTTL is how long an id the store did not have is refused without another lookup.
	// Default 30s. The index wins over it: a key that a reload or notification brings works at
	// once, remembered miss or not.
	MissTTL time.Duration
	// MaxMisses bounds the remembered misses. Default 4096.
	MaxMisses int
}

func (c *LookupConfig) setDefaults() error {
	if c.Burst < 0 || c.Timeout < 0 || c.MissTTL < 0 || c.MaxMisses < 0 {
		return errors.New("api keys: LookupConfig settings other than PerSecond must not be negative")
	}
	if c.PerSecond == 0 {
		c.PerSecond = 10
	}
	if c.Burst == 0 {
		c.Burst = 20
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.MissTTL == 0 {
		c.MissTTL = 30 * time.Second
	}
	if c.MaxMisses == 0 {
		c.MaxMisses = 4096
	}
	return nil
}

// errLookupBudget refuses a lookup beyond the budget.
var errLookupBudget = errors.New("lookup budget exhausted")

// lookups is the bounded lookup machinery of one KeyManager: the budget, the flights and the
// remembered misses.
type lookups struct {
	cfg    LookupConfig
	budget *rate.Limiter // nil: lookups disabled
	flight singleflight.Group
	// budgetLog samples the warning that the budget is exhausted.
	budgetLog rate.Sometimes

	mu     sync.Mutex // guards misses
	misses map[string]time.Time
}

func newLookups(cfg LookupConfig) (*lookups, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	l := &lookups{cfg: cfg, misses: map[string]time.Time{}, budgetLog: rate.Sometimes{Interval: 10 * time.Second}}
	if cfg.PerSecond > 0 {
		l.budget = rate.NewLimiter(rate.Limit(cfg.PerSecond), cfg.Burst)
	}
	return l, nil
}

// missed reports whether the store did not have id less than MissTTL before now.
func (l *lookups) missed(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.misses[id]
	if ok && now.Sub(at) >= l.cfg.MissTTL {
		delete(l.misses, id)
		return false
	}
	return ok
}

// miss remembers that the store did not have id at now, dropping expired misses, or else an
// arbitrary one, when MaxMisses are held.
func (l *lookups) miss(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.misses) >= l.cfg.MaxMisses {
		for k, at := range l.misses {
			if now.Sub(at) >= l.cfg.MissTTL {
				delete(l.misses, k)
			}
		}
		for k := range l.misses {
			if len(l.misses) < l.cfg.MaxMisses {
				break
			}
			delete(l.misses, k)
		}
	}
	l.misses[id] = now
}

// lookupResult is what one flight found.
type lookupResult struct {
	e     keyEntry
	found bool
}

// lookup finds the key id, which the index lacked, in the store (see LookupConfig for the
// bounds), adds it to the index (learn) and returns its entry; found is false when the store has
// no such key. err is a refused or failed lookup: the key could not be checked. id must have been
// parsed by parseAPIKey.
func (m *KeyManager) lookup(ctx context.Context, id string) (e keyEntry, found bool, err error) {
	l := m.lookups
	if l.budget == nil || l.missed(id, m.cfg.Now()) {
		return keyEntry{}, false, nil
	}
	// id aliases the request's header, whose buffer is reused: the flight and the misses keep it.
	id = strings.Clone(id)
	ch := l.flight.DoChan(id, func() (any, error) {
		// A reload or a flight that just ended may have brought the key meanwhile.
		if e, ok := (*m.index.Load())[id]; ok {
			return lookupResult{e, true}, nil
		}
		if !l.budget.AllowN(m.cfg.Now(), 1) {
			l.budgetLog.Do(func() {
				m.cfg.Logger.Warn("api keys: lookup budget exhausted; refusing keys this instance does not know without a lookup",
					"per_second", l.cfg.PerSecond, "burst", l.cfg.Burst)
			})
			return nil, errLookupBudget
		}
		// The flight is shared: it must not end with the first caller's request, and it must
		// end on its own.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.Timeout)
		defer cancel()
		k, err := m.cfg.Store.APIKey(lctx, id)
		if errors.Is(err, store.ErrNotFound) {
			l.miss(id, m.cfg.Now())
			return lookupResult{}, nil
		}
		if err != nil {
			m.cfg.Logger.Warn("api keys: lookup failed", "key_id", id, "err", err)
			return nil, fmt.Errorf("look up api key: %w", err)
		}
		e, ok := m.learn(k)
		return lookupResult{e, ok}, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return keyEntry{}, false, res.Err
		}
		r := res.Val.(lookupResult)
		return r.e, r.found, nil
	case <-ctx.Done(): // the caller gave up; the flight goes on for the others
		return keyEntry{}, false, fmt.Errorf("look up api key: %w", ctx.Err())
	}
}

// learn adds k, just read from the store by a lookup, to the index and returns the entry to judge
// the key by. The index keeps what it has: if a reload or an admin operation put the key there
// since the lookup began, that entry stands (the lookup's read may be the older one), except
// that a revocation either of them saw holds, as do the revocations Forget was told of. That is
// the rule reload follows, so a key learned here is one a reload could have loaded. ok is false
// for an unreadable stored key.
func (m *KeyManager) learn(k store.APIKey) (keyEntry, bool) {
	e, err := entryOf(k)
	if err != nil {
		m.cfg.Logger.Error("api keys: unreadable key", "key_id", k.KeyID, "err", err)
		return keyEntry{}, false
	}
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	revokedAt := e.revokedAt
	if at, ok := m.revoked[k.KeyID]; ok && revokedAt.IsZero() {
		revokedAt = at
	}
	cur, indexed := (*m.index.Load())[k.KeyID]
	if indexed {
		if !cur.revokedAt.IsZero() || revokedAt.IsZero() {
			return cur, true
		}
		e = cur
	}
	e.revokedAt = revokedAt
	m.swap(k.KeyID, e)
	return e, true
}
