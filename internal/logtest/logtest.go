// Package logtest has a slog.Handler for tests that assert how many records of each level code
// logged (one warning per outage, not one per request).
package logtest

import (
	"context"
	"log/slog"
	"maps"
	"sync"
)

// Counter is a slog.Handler that counts records by level and keeps nothing else. The zero value
// is ready to use; it is safe for concurrent use.
type Counter struct {
	mu     sync.Mutex // guards counts
	counts map[slog.Level]int
}

// Enabled reports true for every level.
func (h *Counter) Enabled(context.Context, slog.Level) bool { return true }

// Handle counts r by its level.
func (h *Counter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[slog.Level]int{}
	}
	h.counts[r.Level]++
	return nil
}

// WithAttrs returns h: attributes are not counted.
func (h *Counter) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup returns h: groups are not counted.
func (h *Counter) WithGroup(string) slog.Handler { return h }

// Count is the number of records logged at level l.
func (h *Counter) Count(l slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[l]
}

// Snapshot is a copy of the counts by level.
func (h *Counter) Snapshot() map[slog.Level]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}
