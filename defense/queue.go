package defense

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// queue is a bounded work queue drained by a fixed set of owned worker
// goroutines. push never blocks: when the queue is full or closed the job is
// dropped and counted. close stops intake and waits for the queued jobs.
type queue struct {
	jobs    chan func(context.Context)
	timeout time.Duration // per job
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Uint64
	done    atomic.Uint64

	mu     sync.RWMutex // guards closed and sending on jobs
	closed bool
}

func newQueue(size, workers int, timeout time.Duration) *queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &queue{jobs: make(chan func(context.Context), size), timeout: timeout, ctx: ctx, cancel: cancel}
	q.wg.Add(workers)
	for range workers {
		go q.work()
	}
	return q
}

func (q *queue) work() {
	defer q.wg.Done()
	for job := range q.jobs {
		ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
		job(ctx)
		cancel()
		q.done.Add(1)
	}
}

// push queues job and reports whether it was accepted.
func (q *queue) push(job func(context.Context)) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	select {
	case q.jobs <- job:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// close stops intake and waits until every queued job has run. If ctx ends
// first, the jobs still queued run with a cancelled context (so they fail
// fast), close still waits for the workers, and returns ctx.Err().
func (q *queue) close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	finished := make(chan struct{})
	go func() { q.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		<-finished
		return ctx.Err()
	}
}

// QueueStats describes a bounded write queue: jobs waiting, jobs done, and
// jobs dropped because the queue was full or closed.
type QueueStats struct {
	Queued  int
	Done    uint64
	Dropped uint64
}

func (q *queue) stats() QueueStats {
	return QueueStats{Queued: len(q.jobs), Done: q.done.Load(), Dropped: q.dropped.Load()}
}
