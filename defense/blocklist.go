package defense

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/internal/clientkey"
	"github.com/neko-defense/neko/store"
)

// Block is one blocked client. The block is in force while the clock is
// before Until.
type Block struct {
	// IP is the client's key (clientkey): an IPv4 address, or the /64 of
	// an IPv6 client in prefix notation ("2001:db8:1:2::/64"). Blocks made
	// before IPv6 clients were blocked by their /64 hold an exact IPv6
	// address, which still blocks that address (BlockedClient) until it
	// expires.
	IP        string
	Reason    string
	BlockedAt time.Time
	Until     time.Time
	// Temporary marks a block with a duration chosen by its caller (the
	// rate-limit and high-threat playbooks), as the original's
	// temporaryBlock; playbook blocks of the default length are not.
	Temporary bool
}

// BlockStore persists blocks for the admin view and restores them at
// start-up and after Redis lost its data; store/mongo's Store satisfies it.
type BlockStore interface {
	UpsertBlockedIP(ctx context.Context, b store.BlockedIP) error
	DeleteBlockedIP(ctx context.Context, ip string) error
	BlockedIPs(ctx context.Context) ([]store.BlockedIP, error)
}

// BlockListConfig configures a BlockList. Every zero value is a working
// default.
type BlockListConfig struct {
	// Redis shares blocks between instances. Nil: this instance only.
	Redis redis.UniversalClient
	// KeyPrefix prefixes every Redis key and channel. Default "neko:".
	KeyPrefix string
	// Store, when set, receives every block and unblock made by this
	// instance (asynchronously, on a bounded queue; a write that fails is
	// retried at each resync until it lands, see StorePending) and is read at
	// start-up and whenever Redis is found to have lost its data.
	Store BlockStore
	// DefaultDuration is the length of a block asked for with d <= 0.
	// Default 24h.
	DefaultDuration time.Duration
	// ResyncInterval is how often the list is reloaded from Redis, which
	// also pushes changes made while Redis was unreachable. Default 30s.
	ResyncInterval time.Duration
	// RedisTimeout bounds each Redis round trip made inside Block and
	// Unblock. Default 300ms.
	RedisTimeout time.Duration
	// RetryAfter is how long, after a Redis failure, Block and Unblock
	// stay local-only instead of waiting on Redis again; the next resync
	// catches up. Default 5s.
	RetryAfter time.Duration
	// MaxEntries bounds the addresses held in memory. Default 1,000,000.
	MaxEntries int
	// StoreQueue bounds the Store writes waiting on the queue. Default 1024.
	StoreQueue int
	// StorePending bounds the client keys whose latest block or unblock is
	// remembered until the Store confirms it (queued, or failed and waiting
	// for the next resync to retry it). Past it, the expired blocks waiting
	// are given up first; if none has, a new key's write is tried once and,
	// if that fails, given up and counted in BlockListStats.StoreLost.
	// Default 10,000.
	StorePending int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives failures (Redis failures at most once per 10s).
	Logger *slog.Logger
	// TrustedProxies are the prefixes whose requests carry the client's
	// address (NEKO_TRUSTED_PROXIES): their own addresses are never blocked,
	// since a proxy's requests are everyone's. See ErrNotBlockable.
	TrustedProxies []netip.Prefix
}

// ErrNotBlockable is returned by Block for an address the list refuses
// whoever asks (an admin, a playbook): the unspecified and broadcast
// addresses, which no client request comes from; loopback, this host's own,
// whose block locks out local administration and health checks rather than
// an attacker; and a trusted proxy's, whose block refuses everyone behind
// it. Blocks of such addresses arriving from Redis or the Store (written
// before this rule, or by an instance configured otherwise) are ignored too.
var ErrNotBlockable = errors.New("defense: address cannot be blocked")

const blockShards = 32

// BlockList is the set of blocked addresses, shared by every instance
// through Redis and checked in memory.
//
// Block writes memory first, then, in one Redis transaction, a key per
// address with the block's TTL, the address in an index set and an event on
// a pub/sub channel; every other instance applies the event to its memory
// as it arrives (well within a second). An owned goroutine receives those
// events and reloads the whole list every ResyncInterval, so an instance
// that missed events (start-up, a Redis outage) converges. While Redis is
// unreachable every operation works locally and changes are pushed at the
// next successful resync. A Redis that lost its data (restarted without
// persistence, flushed) is refilled from the Store at the next resync, see
// restore. Expired blocks stop counting by themselves and are swept at each
// resync.
type BlockList struct {
	cfg      BlockListConfig
	rdb      redis.UniversalClient
	now      func() time.Time
	log      *slog.Logger
	seed     maphash.Seed
	shards   [blockShards]blockShard
	count    atomic.Int64
	gen      atomic.Uint64 // bumped by every change to memory
	instance string
	keySet   string
	// keySeeded exists while Redis holds the Store's blocks; see restore.
	keySeeded string
	channel   string

	tombMu sync.Mutex          // guards tombs
	tombs  map[string]struct{} // unblocks not yet applied to Redis

	downUntil atomic.Int64 // unix nanos before which Redis is not tried inline
	logRedis  everyInterval
	dropped   atomic.Uint64 // blocks not kept because memory was full
	writes    *queue
	persist   *storeWrites // nil without a Store

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}
}

type blockShard struct {
	mu sync.RWMutex // guards m
	m  map[string]blockEntry
}

type blockEntry struct {
	Block
	synced bool   // known to be in Redis
	gen    uint64 // BlockList.gen when written
}

// NewBlockList validates cfg and starts the list's goroutine, which
// subscribes to block events and loads the current blocks (from Store, then
// Redis); Ready is closed when that first load is done.
func NewBlockList(cfg BlockListConfig) (*BlockList, error) {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "neko:"
	}
	for name, d := range map[string]*time.Duration{
		"DefaultDuration": &cfg.DefaultDuration, "ResyncInterval": &cfg.ResyncInterval,
		"RedisTimeout": &cfg.RedisTimeout, "RetryAfter": &cfg.RetryAfter,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("defense: BlockListConfig.%s must not be negative", name)
		}
	}
	if cfg.DefaultDuration == 0 {
		cfg.DefaultDuration = 24 * time.Hour
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 30 * time.Second
	}
	if cfg.RedisTimeout == 0 {
		cfg.RedisTimeout = 300 * time.Millisecond
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.MaxEntries < 0 || cfg.StoreQueue < 0 || cfg.StorePending < 0 {
		return nil, errors.New("defense: BlockListConfig.MaxEntries, StoreQueue and StorePending must not be negative")
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 1_000_000
	}
	if cfg.StoreQueue == 0 {
		cfg.StoreQueue = 1024
	}
	if cfg.StorePending == 0 {
		cfg.StorePending = 10_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	b := &BlockList{
		cfg:       cfg,
		rdb:       cfg.Redis,
		now:       orNow(cfg.Now),
		log:       cfg.Logger,
		seed:      maphash.MakeSeed(),
		instance:  hex.EncodeToString(id[:]),
		keySet:    cfg.KeyPrefix + "blocks",
		keySeeded: cfg.KeyPrefix + "blocks:seeded",
		channel:   cfg.KeyPrefix + "blocks:events",
		tombs:     make(map[string]struct{}),
		logRedis:  everyInterval{interval: 10 * time.Second},
		writes:    newQueue(cfg.StoreQueue, 1, 5*time.Second), // one worker: storeWrites relies on it
		ready:     make(chan struct{}),
	}
	if cfg.Store != nil {
		b.persist = newStoreWrites(cfg.Store, b.writes, cfg.StorePending, b.now, b.log)
	}
	for i := range b.shards {
		b.shards[i].m = make(map[string]blockEntry)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(1)
	go b.run()
	return b, nil
}

// Ready is closed once the list has subscribed to block events and made
// its first load attempt; a readiness probe can wait on it.
func (b *BlockList) Ready() <-chan struct{} { return b.ready }

// BlockedClient reports whether the client whose key (clientkey.Of) is key
// and whose exact address is addr is blocked now, until when and why: by a
// block of its key, or by a block of addr itself, as IPv6 addresses were
// blocked before a block covered their /64 (such blocks may still be in the
// Store and in Redis, or come from an instance of an older version during a
// rolling deploy). Like Blocked it only reads memory; for an IPv4 client,
// whose key is its address, it is one lookup.
func (b *BlockList) BlockedClient(key, addr string) (until time.Time, reason string, ok bool) {
	if until, reason, ok = b.Blocked(key); ok || addr == key {
		return until, reason, ok
	}
	return b.Blocked(addr)
}

// Blocked reports whether the entry ip (a client key, or an address
// blocked alone) is blocked now, until when and why. It only reads memory
// and never blocks on the network. It does not derive a key from an
// address: a request's check is BlockedClient.
func (b *BlockList) Blocked(ip string) (until time.Time, reason string, ok bool) {
	if b.count.Load() == 0 {
		return time.Time{}, "", false
	}
	sh := b.shard(ip)
	sh.mu.RLock()
	e, found := sh.m[ip]
	sh.mu.RUnlock()
	if !found || !b.now().Before(e.Until) {
		return time.Time{}, "", false
	}
	return e.Until, e.Reason, true
}

// Block blocks the client at ip for d (d <= 0: DefaultDuration) and returns
// once the block is in memory and, when Redis is reachable, published to
// every instance. The block is keyed by clientkey.FromString(ip): an IPv4
// address blocks that address, an IPv6 address blocks its /64 (so one
// client rotating addresses is one entry, and cannot fill the list). A
// Redis failure is logged, not returned: the block holds locally and is
// pushed at the next resync. The only errors are an empty ip and
// ErrNotBlockable.
func (b *BlockList) Block(ctx context.Context, ip, reason string, d time.Duration) error {
	temporary := d > 0
	if d <= 0 {
		d = b.cfg.DefaultDuration
	}
	now := b.now()
	return b.add(ctx, Block{IP: ip, Reason: reason, BlockedAt: now, Until: now.Add(d), Temporary: temporary})
}

func (b *BlockList) add(ctx context.Context, blk Block) error {
	if blk.IP == "" {
		return errors.New("defense: block: empty ip")
	}
	if err := b.blockable(blk.IP); err != nil {
		return err
	}
	blk.IP = strings.Clone(clientkey.FromString(blk.IP))
	gen := b.put(blk, false)
	b.tombMu.Lock()
	delete(b.tombs, blk.IP)
	b.tombMu.Unlock()
	if b.redisUsable() {
		ctx, cancel := context.WithTimeout(ctx, b.cfg.RedisTimeout)
		err := b.writeRedis(ctx, []Block{blk}, nil)
		cancel()
		if err == nil {
			b.markSynced(blk.IP, gen)
		} else {
			b.redisFailed(ctx, "block", err)
		}
	}
	if b.persist != nil {
		doc := store.BlockedIP{IP: blk.IP, Reason: blk.Reason, BlockedAt: blk.BlockedAt.UTC(), ExpiresAt: blk.Until.UTC(), Temporary: blk.Temporary}
		b.persist.set(storeWrite{doc: doc, gen: gen})
	}
	return nil
}

// Unblock lifts the block of the client at ip on every instance (Redis
// permitting; else locally now and everywhere at the next resync): the
// block of its key, as Block made it (an IPv6 address unblocks its /64),
// and a block of ip itself, as blocks of single IPv6 addresses were made
// before. Such an older block of another address of the /64 stays until it
// expires or that address is unblocked (List shows it).
func (b *BlockList) Unblock(ctx context.Context, ip string) error {
	if ip == "" {
		return errors.New("defense: unblock: empty ip")
	}
	ips := []string{strings.Clone(clientkey.FromString(ip))}
	if ips[0] != ip {
		ips = append(ips, strings.Clone(ip))
	}
	gens := make([]uint64, len(ips))
	for i, ip := range ips {
		gens[i] = b.remove(ip)
	}
	if b.rdb != nil {
		ok := false
		if b.redisUsable() {
			ctx, cancel := context.WithTimeout(ctx, b.cfg.RedisTimeout)
			err := b.writeRedis(ctx, nil, ips)
			cancel()
			if ok = err == nil; !ok {
				b.redisFailed(ctx, "unblock", err)
			}
		}
		if !ok {
			b.tombMu.Lock()
			for _, ip := range ips {
				b.tombs[ip] = struct{}{}
			}
			b.tombMu.Unlock()
		}
	}
	if b.persist != nil {
		for i, ip := range ips {
			b.persist.set(storeWrite{doc: store.BlockedIP{IP: ip}, del: true, gen: gens[i]})
		}
	}
	return nil
}

// List returns the blocks in force, most recent first.
func (b *BlockList) List() []Block {
	now := b.now()
	out := make([]Block, 0, b.count.Load())
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if now.Before(e.Until) {
				out = append(out, e.Block)
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(x, y Block) int {
		if c := y.BlockedAt.Compare(x.BlockedAt); c != 0 {
			return c
		}
		return strings.Compare(x.IP, y.IP)
	})
	return out
}

// BlockListStats counts what the list could not do.
type BlockListStats struct {
	Entries int
	// Dropped counts blocks not kept in memory because MaxEntries was
	// reached.
	Dropped uint64
	// Store describes the queue of writes to the BlockStore. Its Dropped
	// counts jobs refused because the queue was full; such a write stays
	// pending and is queued again at the next resync.
	Store QueueStats
	// StorePending counts the client keys whose block or unblock the Store
	// has not confirmed yet (queued, or failed and waiting to be retried).
	StorePending int
	// StoreLost counts the Store writes given up because StorePending keys
	// were already waiting and the write's one try failed (see
	// BlockListConfig.StorePending).
	StoreLost uint64
}

// Stats returns counters for metrics.
func (b *BlockList) Stats() BlockListStats {
	st := BlockListStats{Entries: int(b.count.Load()), Dropped: b.dropped.Load(), Store: b.writes.stats()}
	if b.persist != nil {
		st.StorePending, st.StoreLost = b.persist.pending(), b.persist.lost.Load()
	}
	return st
}

// Close stops the goroutine and waits for queued Store writes until ctx
// ends. Writes still failing then are given up (and logged).
func (b *BlockList) Close(ctx context.Context) error {
	b.cancel()
	b.wg.Wait()
	err := b.writes.close(ctx)
	if n := b.persist.pending(); n > 0 {
		b.log.Warn("defense: block list closed with changes not persisted to the store", "pending", n)
	}
	return err
}

func (b *BlockList) shard(ip string) *blockShard {
	return &b.shards[maphash.String(b.seed, ip)%blockShards]
}

// blockable returns ErrNotBlockable (wrapped with the reason) for ip when
// the list refuses to block it. Text that is not an address passes: it can
// never match a client.
func (b *BlockList) blockable(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		// A client key of a whole IPv6 /64 (from Redis or the Store): refused when it holds
		// this host's loopback or overlaps a trusted proxy's range.
		pfx, perr := netip.ParsePrefix(ip)
		if perr != nil {
			return nil
		}
		if pfx.Contains(netip.IPv6Loopback()) {
			return fmt.Errorf("%w: %s: it is this host's own", ErrNotBlockable, ip)
		}
		for _, p := range b.cfg.TrustedProxies {
			if p.Overlaps(pfx) {
				return fmt.Errorf("%w: %s: it holds a trusted proxy (%s), whose requests are every client's", ErrNotBlockable, ip, p)
			}
		}
		return nil
	}
	a = a.Unmap()
	switch {
	case a.IsUnspecified(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%w: %s: no client request comes from it", ErrNotBlockable, ip)
	case a.IsLoopback():
		return fmt.Errorf("%w: %s: it is this host's own", ErrNotBlockable, ip)
	}
	for _, p := range b.cfg.TrustedProxies {
		if p.Contains(a) {
			return fmt.Errorf("%w: %s: it is a trusted proxy (%s), whose requests are every client's", ErrNotBlockable, ip, p)
		}
	}
	return nil
}

// put stores blk in memory and returns its generation. An address the list
// refuses (blockable) is not stored, wherever the block came from.
func (b *BlockList) put(blk Block, synced bool) uint64 {
	gen := b.gen.Add(1)
	if b.blockable(blk.IP) != nil {
		return gen
	}
	sh := b.shard(blk.IP)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[blk.IP]; !ok {
		if len(sh.m) >= b.cfg.MaxEntries/blockShards+1 {
			b.sweepLocked(sh, b.now())
		}
		if len(sh.m) >= b.cfg.MaxEntries/blockShards+1 {
			b.dropped.Add(1)
			b.log.Warn("defense: block list full, block kept in Redis only", "ip", blk.IP)
			return gen
		}
		b.count.Add(1)
	}
	sh.m[blk.IP] = blockEntry{Block: blk, synced: synced, gen: gen}
	return gen
}

// remove deletes ip from memory and returns the change's generation.
func (b *BlockList) remove(ip string) uint64 {
	gen := b.gen.Add(1)
	sh := b.shard(ip)
	sh.mu.Lock()
	if _, ok := sh.m[ip]; ok {
		delete(sh.m, ip)
		b.count.Add(-1)
	}
	sh.mu.Unlock()
	return gen
}

func (b *BlockList) markSynced(ip string, gen uint64) {
	sh := b.shard(ip)
	sh.mu.Lock()
	if e, ok := sh.m[ip]; ok && e.gen == gen {
		e.synced = true
		sh.m[ip] = e
	}
	sh.mu.Unlock()
}

// sweepLocked drops expired entries of sh; sh.mu must be held.
func (b *BlockList) sweepLocked(sh *blockShard, now time.Time) {
	for ip, e := range sh.m {
		if !now.Before(e.Until) {
			delete(sh.m, ip)
			b.count.Add(-1)
		}
	}
}

func (b *BlockList) redisUsable() bool {
	return b.rdb != nil && b.now().UnixNano() >= b.downUntil.Load()
}

// redisFailed records a Redis failure, unless it was the caller's own
// cancellation, and logs at most once per 10s.
func (b *BlockList) redisFailed(ctx context.Context, op string, err error) {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil && b.ctx.Err() == nil {
		return
	}
	b.downUntil.Store(b.now().Add(b.cfg.RetryAfter).UnixNano())
	if b.logRedis.allow(time.Now()) {
		b.log.Error("defense: block list redis unavailable, working locally", "op", op, "err", err)
	}
}

// redisBlock is a block as stored in Redis and sent on the channel.
type redisBlock struct {
	Op        string `json:"op,omitempty"`
	IP        string `json:"ip,omitempty"`
	Reason    string `json:"reason"`
	BlockedAt int64  `json:"blockedAt"` // unix ms
	Until     int64  `json:"until"`     // unix ms
	Temporary bool   `json:"temporary,omitempty"`
	From      string `json:"from,omitempty"`
}

func (b *BlockList) key(ip string) string { return b.cfg.KeyPrefix + "block:" + ip }

// writeRedis applies blocks and unblocks to Redis and announces them, in one
// transaction.
func (b *BlockList) writeRedis(ctx context.Context, blocks []Block, unblocks []string) error {
	now := b.now()
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, blk := range blocks {
			ttl := blk.Until.Sub(now)
			if ttl <= 0 {
				continue
			}
			rb := redisBlock{Reason: blk.Reason, BlockedAt: blk.BlockedAt.UnixMilli(), Until: blk.Until.UnixMilli(), Temporary: blk.Temporary}
			val, _ := json.Marshal(rb)
			p.Set(ctx, b.key(blk.IP), val, ttl)
			p.SAdd(ctx, b.keySet, blk.IP)
			rb.Op, rb.IP, rb.From = "block", blk.IP, b.instance
			msg, _ := json.Marshal(rb)
			p.Publish(ctx, b.channel, msg)
		}
		for _, ip := range unblocks {
			p.Del(ctx, b.key(ip))
			p.SRem(ctx, b.keySet, ip)
			msg, _ := json.Marshal(redisBlock{Op: "unblock", IP: ip, From: b.instance})
			p.Publish(ctx, b.channel, msg)
		}
		return nil
	})
	return err
}

func (rb redisBlock) block(ip string) Block {
	return Block{IP: ip, Reason: rb.Reason, BlockedAt: time.UnixMilli(rb.BlockedAt), Until: time.UnixMilli(rb.Until), Temporary: rb.Temporary}
}

// run owns the subscription and the periodic resync.
func (b *BlockList) run() {
	defer b.wg.Done()
	var events <-chan any
	if b.rdb != nil {
		ps := b.rdb.Subscribe(b.ctx, b.channel)
		defer ps.Close()
		ctx, cancel := context.WithTimeout(b.ctx, 4*b.cfg.RedisTimeout+time.Second)
		if _, err := ps.Receive(ctx); err != nil {
			b.redisFailed(ctx, "subscribe", err)
		}
		cancel()
		// With subscriptions: go-redis resubscribes after a reconnect and
		// reports it, and a resync then recovers the events missed meanwhile.
		events = ps.ChannelWithSubscriptions()
	}
	b.loadStore()
	b.syncLogged()
	close(b.ready)

	tick := time.NewTicker(b.cfg.ResyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case m, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			switch m := m.(type) {
			case *redis.Message:
				b.apply(m.Payload)
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					b.syncLogged()
				}
			}
		case <-tick.C:
			b.syncLogged()
		}
	}
}

func (b *BlockList) syncLogged() {
	ctx, cancel := context.WithTimeout(b.ctx, 10*b.cfg.RedisTimeout+2*time.Second)
	defer cancel()
	if err := b.Sync(ctx); err != nil {
		b.redisFailed(ctx, "resync", err)
	}
}

// apply handles one event from another instance.
func (b *BlockList) apply(payload string) {
	var rb redisBlock
	if err := json.Unmarshal([]byte(payload), &rb); err != nil || rb.IP == "" {
		b.log.Warn("defense: bad block event", "payload", payload)
		return
	}
	if rb.From == b.instance {
		return
	}
	// The other instance persists its change, which is newer than any
	// write of the address this one still has to make.
	switch rb.Op {
	case "block":
		blk := rb.block(rb.IP)
		b.persist.supersede(rb.IP, b.put(blk, true), &blk)
	case "unblock":
		b.persist.supersede(rb.IP, b.remove(rb.IP), nil)
	}
}

// loadStore restores the active blocks of the Store (start-up only), so that
// they are enforced before Redis answers, or without it. They count as
// already shared: the first resync replaces them with Redis's list, which is
// the authority while it holds the Store's blocks (restore refills it when it
// does not). Publishing them as new would bring back every block lifted since
// it was stored whose Store delete was lost or overtaken (an unblock must be
// final), on every instance, at each restart of any one.
func (b *BlockList) loadStore() {
	if b.cfg.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	docs, err := b.cfg.Store.BlockedIPs(ctx)
	if err != nil {
		b.log.Warn("defense: load stored blocks", "err", err)
		return
	}
	now := b.now()
	for _, d := range docs {
		if d.Active(now) {
			b.put(storedBlock(d), true)
		}
	}
}

func storedBlock(d store.BlockedIP) Block {
	return Block{IP: d.IP, Reason: d.Reason, BlockedAt: d.BlockedAt, Until: d.ExpiresAt, Temporary: d.Temporary}
}

// restore writes back to Redis the Store's active blocks missing from remote
// (the list Sync just loaded), adds them to remote and marks Redis seeded.
// Sync calls it when keySeeded is missing: Redis restarted without
// persistence, was flushed or failed over to an empty replica (or never
// held blocks). Without it the merge would take the emptied list for
// unblocks and every instance would lift its blocks while the Store still
// holds them. The Store, not the memory, is the source: it is shared and
// durable, whereas an instance that missed unblock events while Redis was
// down would bring those blocks back. Blocks made here and not yet in Redis
// were pushed by Sync already. The Store is read with this instance's pending
// writes applied (storeWrites.overlay): an unblock whose delete has not
// landed (the database is down) is not brought back, and a block whose
// upsert has not is restored. tombs, the unblocks Sync pushed, are skipped
// too. Only an instance with a Store restores or sets keySeeded; another
// instance's pending writes are not seen, so when it restores first, this
// instance's blocks not yet in the Store are lost with Redis's data.
func (b *BlockList) restore(ctx context.Context, now time.Time, remote map[string]Block, tombs []string) error {
	docs, err := b.cfg.Store.BlockedIPs(ctx)
	if err != nil {
		return fmt.Errorf("restore blocks: %w", err)
	}
	var missing []Block
	for _, d := range b.persist.overlay(docs) {
		if _, ok := remote[d.IP]; !ok && d.Active(now) && !slices.Contains(tombs, d.IP) {
			missing = append(missing, storedBlock(d))
		}
	}
	if len(missing) > 0 {
		if err := b.writeRedis(ctx, missing, nil); err != nil {
			return fmt.Errorf("restore blocks: %w", err)
		}
		b.log.Warn("defense: block list redis had lost blocks, restored from store", "restored", len(missing))
	}
	if err := b.rdb.Set(ctx, b.keySeeded, b.instance, 0).Err(); err != nil {
		return fmt.Errorf("restore blocks: %w", err)
	}
	for _, blk := range missing {
		remote[blk.IP] = blk
	}
	return nil
}

// Sync queues again the Store writes that failed, pushes to Redis the
// changes made while it was unreachable, then replaces the memory with the
// shared list (keeping changes made meanwhile, and first restoring the
// Store's blocks if Redis lost its data) and sweeps expired entries. The
// list's goroutine calls it every ResyncInterval; call it to force one.
// Without Redis it only retries the Store writes and sweeps.
func (b *BlockList) Sync(ctx context.Context) error {
	now := b.now()
	b.persist.retry()
	if b.rdb == nil {
		for i := range b.shards {
			sh := &b.shards[i]
			sh.mu.Lock()
			b.sweepLocked(sh, now)
			sh.mu.Unlock()
		}
		return nil
	}
	// 1. Push local changes.
	var pending []Block
	var gens []uint64
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.RLock()
		for _, e := range sh.m {
			if !e.synced && now.Before(e.Until) {
				pending = append(pending, e.Block)
				gens = append(gens, e.gen)
			}
		}
		sh.mu.RUnlock()
	}
	b.tombMu.Lock()
	tombs := make([]string, 0, len(b.tombs))
	for ip := range b.tombs {
		tombs = append(tombs, ip)
	}
	b.tombMu.Unlock()
	if len(pending)+len(tombs) > 0 {
		if err := b.writeRedis(ctx, pending, tombs); err != nil {
			return fmt.Errorf("push blocks: %w", err)
		}
		for i, blk := range pending {
			b.markSynced(blk.IP, gens[i])
		}
	}

	// 2. Load the shared list. keySeeded is read in the same transaction so
	// that, when present, the list includes a completed restore.
	snapshot := b.gen.Load()
	var seeded *redis.IntCmd
	var members *redis.StringSliceCmd
	if _, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		seeded = p.Exists(ctx, b.keySeeded)
		members = p.SMembers(ctx, b.keySet)
		return nil
	}); err != nil {
		return fmt.Errorf("load blocks: %w", err)
	}
	ips := members.Val()
	remote := make(map[string]Block, len(ips))
	var stale []any
	for chunk := range slices.Chunk(ips, 500) {
		keys := make([]string, len(chunk))
		for i, ip := range chunk {
			keys[i] = b.key(ip)
		}
		vals, err := b.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("load blocks: %w", err)
		}
		for i, v := range vals {
			s, ok := v.(string)
			var rb redisBlock
			if !ok || json.Unmarshal([]byte(s), &rb) != nil {
				stale = append(stale, chunk[i])
				continue
			}
			remote[chunk[i]] = rb.block(chunk[i])
		}
	}
	if len(stale) > 0 {
		// Index entries whose key expired; a concurrent re-block re-adds
		// its address with SADD after SET, so at worst one resync misses it.
		if err := b.rdb.SRem(ctx, b.keySet, stale...).Err(); err != nil {
			return fmt.Errorf("prune block index: %w", err)
		}
	}
	if seeded.Val() == 0 && b.cfg.Store != nil {
		if err := b.restore(ctx, now, remote, tombs); err != nil {
			return err
		}
	}
	// Tombs are dropped only now: until a restore has succeeded, the next
	// Sync must still skip them.
	b.tombMu.Lock()
	for _, ip := range tombs {
		delete(b.tombs, ip)
	}
	b.tombMu.Unlock()

	// 3. Merge: the shared list wins over entries it already held; entries
	// changed since the snapshot are left alone. A block in force that the
	// shared list lost was lifted by another instance (or lost with Redis's
	// data and not restored by this one): its Store write, if still pending,
	// is dropped as apply drops it, and so is an unblock's of an address the
	// shared list blocks again. An unblock not pushed yet (a tomb added since
	// step 1) is newer than the shared list's block.
	var lifted []string
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for ip, e := range sh.m {
			if e.gen > snapshot {
				continue
			}
			if _, ok := remote[ip]; !ok && (e.synced || !now.Before(e.Until)) {
				delete(sh.m, ip)
				b.count.Add(-1)
				if now.Before(e.Until) {
					lifted = append(lifted, ip)
				}
			}
		}
		sh.mu.Unlock()
	}
	for _, ip := range lifted {
		b.persist.supersede(ip, snapshot+1, nil)
	}
	b.tombMu.Lock()
	newTombs := maps.Clone(b.tombs)
	b.tombMu.Unlock()
	for ip, blk := range remote {
		if _, ok := newTombs[ip]; ok {
			continue
		}
		sh := b.shard(ip)
		sh.mu.RLock()
		e, ok := sh.m[ip]
		sh.mu.RUnlock()
		if ok && (e.gen > snapshot || (e.Until.Equal(blk.Until) && e.synced)) {
			continue
		}
		b.put(blk, true)
		b.persist.supersede(ip, snapshot+1, &blk)
	}
	if b.downUntil.Swap(0) != 0 {
		b.log.Info("defense: block list redis reachable again, resynced", "blocks", len(remote))
	}
	return nil
}
