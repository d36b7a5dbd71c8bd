package resolvers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

// slowStats answers DINAStatistics once release is closed, counting the reads and failing a read
// whose context was cancelled.
type slowStats struct {
	Store
	reads   atomic.Int32
	release chan struct{}
}

func (s *slowStats) DINAStatistics(ctx context.Context) (store.DINAStatistics, error) {
	s.reads.Add(1)
	<-s.release
	if err := ctx.Err(); err != nil {
		return store.DINAStatistics{}, err
	}
	return store.DINAStatistics{Total: 42}, nil
}

// Concurrent reads of a statistic run once; a caller that gives up gets its own error and does
// not cancel the read the others wait for.
func TestStatisticsReadOnceForConcurrentCallers(t *testing.T) {
	slow := &slowStats{release: make(chan struct{})}
	d := &dedupedStore{Store: slow}

	quitter, quit := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := d.DINAStatistics(quitter)
		first <- err
	}()
	for slow.reads.Load() == 0 { // the quitter's read is the one in flight
	}
	var wg sync.WaitGroup
	totals := make([]int, 4)
	errs := make([]error, 4)
	for i := range 4 {
		wg.Go(func() {
			s, err := d.DINAStatistics(context.Background())
			totals[i], errs[i] = s.Total, err
		})
	}
	quit()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // the four join the read in flight (a few microseconds' work)
	close(slow.release)
	wg.Wait()
	for i := range 4 {
		if errs[i] != nil || totals[i] != 42 {
			t.Fatalf("caller %d: %d, %v", i, totals[i], errs[i])
		}
	}
	if n := slow.reads.Load(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

// A caller after an invalidation does not join a read that started before it: it fills a cache
// entry stored as fresh, which must not hold the statistics from before the write.
func TestStatisticsNotSharedAcrossInvalidation(t *testing.T) {
	slow := &slowStats{release: make(chan struct{})}
	var gen atomic.Uint64
	d := &dedupedStore{Store: slow, generation: gen.Load}
	first := make(chan error, 1)
	go func() {
		_, err := d.DINAStatistics(context.Background())
		first <- err
	}()
	for slow.reads.Load() == 0 { // the first read is in flight
	}
	gen.Add(1) // a write invalidated the cache
	second := make(chan error, 1)
	go func() {
		_, err := d.DINAStatistics(context.Background())
		second <- err
	}()
	// The second read starts within microseconds; the bound only keeps a regression from hanging.
	for deadline := time.Now().Add(10 * time.Second); slow.reads.Load() < 2; {
		if time.Now().After(deadline) {
			close(slow.release)
			t.Fatal("the caller after the invalidation joined the read that started before it")
		}
		time.Sleep(time.Millisecond)
	}
	close(slow.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
