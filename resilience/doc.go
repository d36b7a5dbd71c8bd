// Package resilience provides admission control and failure isolation for
// the server and its dependencies. It knows nothing of HTTP, GraphQL or any
// particular database; callers wrap their calls in its primitives.
//
// # Calls to a dependency
//
// A call to a dependency goes through a Guard, one per dependency, which
// composes in a fixed order
//
//	Bulkhead (bounded slots + bounded, timed queue) -> Breaker -> timeout -> call
//
// so that a saturated pool is never mistaken for a failing dependency, a
// failing dependency is refused before it holds a timer, and the breaker sees
// the dependency's own timeouts but not its callers' cancellations. Database
// is the Guard set for the document store: four Bulkheads (point reads, list
// reads, aggregations, writes) sized from the driver's connection pool and
// sharing one Breaker, so slow aggregations cannot starve point reads while
// an outage still trips every kind at once. Redis gets a Guard of its own, so
// its outage cannot eat the database's slots.
//
// # Requests into the server
//
// Shedder caps the requests in flight (atomic, O(1), never waits), and
// RateLimiter enforces per-key rate limits shared by every instance.
// StrictLimiter is the exact counterpart for rare, expensive events (failed
// logins): every decision is one Lua script in Redis, so N instances allow
// together exactly what one would, at the price of a round trip per call.
//
// # Distributed rate limiting
//
// Each key's local state is a golang.org/x/time/rate.Limiter, a token
// bucket of Burst tokens refilled at Rate per second. A token bucket is GCRA
// (the generic cell rate algorithm) in other clothes: GCRA keeps one
// theoretical arrival time TAT per key and allows a cost c at time now iff
// max(TAT, now) + c*T - now <= tau (emission interval T = 1/Rate, tolerance
// tau = Burst*T), and the bucket's tokens are (tau - (TAT - now)) / T. The
// limiter therefore decides with AllowN, reports Remaining as its whole
// tokens, ResetAfter as the time to refill to Burst, and a refusal's
// RetryAfter by reserving the cost and cancelling the reservation at once.
// It is used only under the shard's mutex, at the injected clock's time
// (never earlier than the key's previous call), so a decision and its
// headers come from one critical section. The shared state in Redis stays a
// GCRA TAT, which a Lua script updates; the two views convert exactly.
//
// Allow decides in memory only: a sharded map of keys, each shard under one
// mutex with an LRU bound (MaxKeys). No request ever waits on the network.
// With a Redis client, one goroutine reconciles every SyncInterval (I): in
// one pipeline, for each key touched since the last round, a Lua script
// charges to the shared TAT in Redis the TAT this instance charged locally
// (TAT_r = max(TAT_r, first) + sum of c*T, first being the time of the
// round's first local charge), and returns the shared TAT; the instance then
// brings its bucket to max(local, shared + what it charged since the
// snapshot): the excess over its bucket's equivalent TAT, which is what the
// other instances granted, is reserved on the limiter and never cancelled,
// so the tokens go negative (in chunks of at most Burst, the most one
// reservation can hold). The shared state is a time, not a count, so keys
// need no windows and expire as soon as their TAT is past. Overshoot is borrowed,
// not lost: what several instances grant together beyond the limit moves the
// shared TAT into the future, and every instance refuses that key until the
// debt is repaid, so the long-run rate converges to Rate.
//
// Overshoot bound. An instance never allows more than a lone limiter would
// (adopting only ever takes tokens away), and its view of a key misses only
// what the other instances granted since their last push before its own last
// round, a window of at most 2I + L (L: the duration of a round). So N
// instances sharing one limit grant, in any window of length W, at most
//
//	Burst + Rate*W + (N-1) * (Burst + Rate*(2I + L))
//
// plus rounding below 2 microseconds of TAT per key and round (Redis holds
// microseconds; Lua numbers are doubles), half a token per key (adopted debt
// is reserved in whole tokens, rounded to the nearest; the error does not
// accumulate, since each round measures the gap afresh) and the instances'
// clock skew times Rate. A single instance with Redis is exact (the shared
// TAT it reads back is never later than its own). TestRateLimiterSharedOvershoot measures
// it: with Rate 50/s, Burst 50, I = 100ms and W = 2s, one limiter allows
// 150, and two instances at 2000 requests/s each allow 155 against a bound
// of 210 (four: 214 against 330).
//
// Failure. When a round fails, the instance keeps deciding alone (each
// instance then enforces the full limit by itself: at most N times the limit
// overall), logs the failure at most once a minute, drops that round's
// charges rather than replay an outage's consumption later, and resumes
// sharing on the next round that succeeds. Forgetting a key under the
// MaxKeys bound forgives its debt.
package resilience
