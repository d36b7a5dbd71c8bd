package security

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store"
)

// AuditLevel is an audit event's severity.
type AuditLevel string

// AuditCategory is what kind of thing an audit event is about.
type AuditCategory string

// AuditResult is how the audited action ended.
type AuditResult string

// Audit levels, categories and results (reference §4.8); the values are stored as they are.
const (
	LevelInfo     AuditLevel = store.AuditLevelInfo
	LevelWarn     AuditLevel = store.AuditLevelWarn
	LevelError    AuditLevel = store.AuditLevelError
	LevelCritical AuditLevel = store.AuditLevelCritical

	CategoryAuth     AuditCategory = store.AuditCategoryAuth
	CategoryAccess   AuditCategory = store.AuditCategoryAccess
	CategorySecurity AuditCategory = store.AuditCategorySecurity
	CategoryData     AuditCategory = store.AuditCategoryData
	CategorySystem   AuditCategory = store.AuditCategorySystem

	ResultSuccess AuditResult = store.AuditResultSuccess
	ResultFailure AuditResult = store.AuditResultFailure
	ResultBlocked AuditResult = store.AuditResultBlocked
)

// AuditEvent is one security-relevant event, in the original's shape.
type AuditEvent struct {
	// Time is when it happened; zero means when it was recorded.
	Time time.Time
	// Level defaults to LevelInfo.
	Level    AuditLevel
	Category AuditCategory
	// Action names what happened ("login", "api_key_revoke", "block_ip", ...).
	Action   string
	Actor    AuditActor
	Resource AuditResource
	Result   AuditResult
	// Details and Tags are owned by the log once recorded: do not modify them afterwards.
	Details     map[string]any
	ThreatScore int
	Tags        []string
}

// AuditActor is who caused an event.
type AuditActor struct {
	IP, UserID, UserAgent string
}

// AuditResource is what an event acted on; zero when nothing in particular.
type AuditResource struct {
	Type, ID string
}

// AuthEvent is the original's logAuth: an auth-category event for action (login, logout,
// token_refresh, token_revoked) by user from ip. Failures and blocks are warnings.
func AuthEvent(action string, result AuditResult, ip, user string) AuditEvent {
	level := LevelInfo
	if result != ResultSuccess {
		level = LevelWarn
	}
	return AuditEvent{
		Level: level, Category: CategoryAuth, Action: action, Result: result,
		Actor: AuditActor{IP: ip, UserID: user}, Tags: []string{"authentication"},
	}
}

// ThreatEvent is the original's logSecurity: a security-category event about ip with a threat
// score; critical from 70, warning from 40, info below.
func ThreatEvent(action, ip string, score int, result AuditResult) AuditEvent {
	level := LevelInfo
	switch {
	case score >= 70:
		level = LevelCritical
	case score >= 40:
		level = LevelWarn
	}
	return AuditEvent{
		Level: level, Category: CategorySecurity, Action: action, Result: result,
		Actor: AuditActor{IP: ip}, ThreatScore: score, Tags: []string{"threat-detection"},
	}
}

// AuditWriter stores audit events (store/mongo.Store satisfies it). It must be idempotent for
// events that carry an ID: a batch is re-sent after a failure that may have stored part of it.
type AuditWriter interface {
	InsertAuditEvents(ctx context.Context, events []store.AuditEvent) error
}

// AuditConfig configures an AuditLog. Zero values take the documented defaults.
type AuditConfig struct {
	// Writer stores the events. Required.
	Writer AuditWriter
	// BatchSize is the most events written at once, and the buffered count that triggers a write
	// before FlushInterval. Default 100 (the original's BUFFER_SIZE).
	BatchSize int
	// FlushInterval is the longest an event waits in the buffer while the writer is healthy.
	// Default 10s (the original's FLUSH_INTERVAL).
	FlushInterval time.Duration
	// MaxBuffered is the hard cap on events held in memory, those awaiting a retry included;
	// Record drops events beyond it. Default 10_000; at least BatchSize.
	MaxBuffered int
	// WriteTimeout bounds one write. Default 10s.
	WriteTimeout time.Duration
	// RetryMin and RetryMax bound the exponential backoff between failed writes. Defaults 1s
	// and 1 minute.
	RetryMin, RetryMax time.Duration
	// OnDrop, when set, is called once per dropped event (for a metric). It runs on the
	// recording goroutine, the request path: it must be fast and must not block.
	OnDrop func()
	// Now is the clock for events without a Time; nil means time.Now.
	Now func() time.Time
	// Logger reports failed writes. Nil discards.
	Logger *slog.Logger
}

func (c *AuditConfig) setDefaults() error {
	if c.Writer == nil {
		return errors.New("audit: AuditConfig.Writer is required")
	}
	if c.BatchSize < 0 || c.FlushInterval < 0 || c.MaxBuffered < 0 || c.WriteTimeout < 0 || c.RetryMin < 0 || c.RetryMax < 0 {
		return errors.New("audit: settings must not be negative")
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 10 * time.Second
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = max(10_000, c.BatchSize)
	}
	if c.MaxBuffered < c.BatchSize {
		return fmt.Errorf("audit: MaxBuffered %d is below BatchSize %d", c.MaxBuffered, c.BatchSize)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = time.Minute
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// AuditLog records audit events off the request path. Record appends to a bounded in-memory
// buffer under a short lock and never waits for the database; a flusher goroutine owned by the log
// writes the buffer in batches when BatchSize events are waiting or every FlushInterval. A failed
// write keeps its events and is retried with exponential backoff while new events keep arriving
// up to MaxBuffered; beyond that Record drops and counts (Dropped, OnDrop), so an outage of the
// database costs audit events, never memory or latency. Close writes what is left.
//
// A nil *AuditLog records nothing, so optional auditing needs no checks at call sites.
type AuditLog struct {
	cfg AuditConfig
	mu  sync.Mutex // guards buf and closed
	// buf holds recorded events oldest first; the flusher writes a prefix and removes it only
	// after the write succeeded.
	buf     []store.AuditEvent
	closed  bool
	dropped atomic.Uint64
	kick    chan struct{} // capacity 1: a batch is waiting
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the flusher has returned
	// ctx is the flusher's lifetime: writes run under it, and Close cancels it when its own
	// context ends before the final flush does.
	ctx      context.Context
	cancel   context.CancelFunc
	closeErr error // set by the flusher before done is closed
}

// NewAuditLog validates cfg and starts the flusher; Close stops it.
func NewAuditLog(cfg AuditConfig) (*AuditLog, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &AuditLog{
		cfg:  cfg,
		buf:  make([]store.AuditEvent, 0, cfg.BatchSize),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		ctx:  ctx, cancel: cancel,
	}
	go l.run()
	return l, nil
}

// Record queues ev for writing. It never blocks on I/O: when the buffer is full, or the log is
// closed, the event is dropped and counted.
func (l *AuditLog) Record(ev AuditEvent) {
	if l == nil {
		return
	}
	doc := l.toStore(ev)
	l.mu.Lock()
	if l.closed || len(l.buf) >= l.cfg.MaxBuffered {
		l.mu.Unlock()
		l.drop(1)
		return
	}
	l.buf = append(l.buf, doc)
	full := len(l.buf) >= l.cfg.BatchSize
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// toStore converts ev, assigning the ID that makes retried writes idempotent.
func (l *AuditLog) toStore(ev AuditEvent) store.AuditEvent {
	ts := ev.Time
	if ts.IsZero() {
		ts = l.cfg.Now()
	}
	level := ev.Level
	if level == "" {
		level = LevelInfo
	}
	doc := store.AuditEvent{
		ID:        bson.NewObjectID(),
		Timestamp: ts.UTC().Truncate(time.Millisecond),
		Level:     string(level), Category: string(ev.Category), Action: ev.Action,
		Actor:   store.AuditActor{IP: auditText(ev.Actor.IP), UserID: auditText(ev.Actor.UserID), UserAgent: auditText(ev.Actor.UserAgent)},
		Result:  string(ev.Result),
		Details: ev.Details, ThreatScore: ev.ThreatScore, Tags: ev.Tags,
	}
	if ev.Resource != (AuditResource{}) {
		doc.Resource = &store.AuditResource{Type: ev.Resource.Type, ID: auditText(ev.Resource.ID)}
	}
	return doc
}

// auditText makes a client's text safe to store in the audit log and to show to whoever reads
// it: control characters (NUL, newlines, escapes), bidirectional formatting characters (a
// right-to-left override makes "evil\u202Etxt.exe" read as something else) and invalid UTF-8 are
// written as Go escapes (\n, \u202e, \xff), so an entry shows what was sent without acting on the
// screen or splitting a line. Other text passes unchanged.
func auditText(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	b := []byte(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = fmt.Appendf(b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r) // '\n', '\u202e', '\x00'
			b = append(b, q[1:len(q)-1]...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// unsafeRune reports whether r acts on a terminal or page instead of showing: a control or
// bidirectional formatting character.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

func (l *AuditLog) drop(n int) {
	l.dropped.Add(uint64(n))
	if l.cfg.OnDrop != nil {
		for range n {
			l.cfg.OnDrop()
		}
	}
}

// Dropped returns how many events were dropped since the log was created.
func (l *AuditLog) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Buffered returns how many events wait to be written.
func (l *AuditLog) Buffered() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}

// Close stops accepting events, writes everything still buffered (retrying with backoff) and stops
// the flusher. When ctx ends first, the write in progress is cancelled, the events not yet written
// are counted as dropped and Close returns an error saying how many. Calling Close again returns
// the same result.
func (l *AuditLog) Close(ctx context.Context) error {
	l.mu.Lock()
	first := !l.closed
	l.closed = true
	l.mu.Unlock()
	if first {
		close(l.stop)
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel()
		<-l.done
	}
	l.cancel()
	return l.closeErr
}

// run is the flusher.
func (l *AuditLog) run() {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.FlushInterval)
	defer tick.Stop()
	var backoff time.Duration
	for {
		if backoff > 0 {
			// A write failed: wait out the backoff; batch-full signals must not hammer a
			// struggling database.
			wait := time.NewTimer(backoff)
			select {
			case <-wait.C:
			case <-l.stop:
				wait.Stop()
				l.closeErr = l.drain()
				return
			}
		} else {
			select {
			case <-tick.C:
			case <-l.kick:
			case <-l.stop:
				l.closeErr = l.drain()
				return
			}
		}
		if err := l.flush(); err != nil {
			backoff = l.nextBackoff(backoff)
			l.cfg.Logger.Warn("audit: write failed; keeping events for retry", "err", err, "buffered", l.Buffered(), "retry_in", backoff)
			continue
		}
		backoff = 0
	}
}

// flush writes the buffer, BatchSize events at a time, until it is empty or a write fails.
func (l *AuditLog) flush() error {
	for {
		l.mu.Lock()
		n := min(len(l.buf), l.cfg.BatchSize)
		batch := slices.Clone(l.buf[:n])
		l.mu.Unlock()
		if n == 0 {
			return nil
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.cfg.WriteTimeout)
		err := l.cfg.Writer.InsertAuditEvents(ctx, batch)
		cancel()
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.buf = slices.Delete(l.buf, 0, n) // only the flusher removes, so the prefix is still batch
		l.mu.Unlock()
	}
}

// drain is the final flush of Close: it retries until the buffer is written or the lifetime
// context is cancelled, and then drops and reports what is left.
func (l *AuditLog) drain() error {
	var backoff time.Duration
	for {
		err := l.flush()
		if err == nil {
			return nil
		}
		if l.ctx.Err() == nil {
			backoff = l.nextBackoff(backoff)
			wait := time.NewTimer(backoff)
			select {
			case <-wait.C:
				continue
			case <-l.ctx.Done():
				wait.Stop()
			}
		}
		l.mu.Lock()
		lost := len(l.buf)
		l.buf = nil
		l.mu.Unlock()
		l.drop(lost)
		return fmt.Errorf("audit: close: %d events not written: %w", lost, err)
	}
}

func (l *AuditLog) nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return l.cfg.RetryMin
	}
	return min(2*d, l.cfg.RetryMax)
}
