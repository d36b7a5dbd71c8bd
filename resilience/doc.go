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
//
// # Distributed rate limiting
//
// RateLimiter runs GCRA (the generic cell rate algorithm): a key's state is
// one theoretical arrival time TAT; a request of cost c at time now is allowed
// iff max(TAT, now) + c*T - now <= tau, with emission interval T = 1/Rate
// and tolerance tau = Burst*T, and then TAT becomes max(TAT, now) + c*T. GCRA
// is the token bucket of golang.org/x/time/rate in other clothes (tokens =
// (tau - (TAT - now)) / T); it is written out here rather than built on
// rate.Limiter because the decision, Remaining and ResetAfter must come from
// one critical section, the arithmetic must be integer nanoseconds so a
// single instance is exact, and adopting other instances' consumption means
// charging debt beyond Burst, which rate.Limiter cannot take in one step.
//
// Allow decides in memory only: a sharded map of keys, each shard under one
// mutex with an LRU bound (MaxKeys). No request ever waits on the network.
// With a Redis client, one goroutine reconciles every SyncInterval (I): in
// one pipeline, for each key touched since the last round, a Lua script
// charges to the shared TAT in Redis the TAT this instance charged locally
// (TAT_r = max(TAT_r, first) + sum of c*T, first being the time of the
// round's first local charge), and returns the shared TAT; the instance then
// sets its local TAT to max(local, shared + what it charged since the
// snapshot). The shared state is a time, not a count, so keys need no
// windows and expire as soon as their TAT is past. Overshoot is borrowed,
// not lost: what several instances grant together beyond the limit moves the
// shared TAT into the future, and every instance refuses that key until the
// debt is repaid, so the long-run rate converges to Rate.
//
// Overshoot bound. An instance never allows more than a lone limiter would
// (adopting only ever raises its TAT), and its view of a key misses only
// what the other instances granted since their last push before its own last
// round, a window of at most 2I + L (L: the duration of a round). So N
// instances sharing one limit grant, in any window of length W, at most
//
//	Burst + Rate*W + (N-1) * (Burst + Rate*(2I + L))
//
// plus rounding below 2 microseconds of TAT per key and round (Redis holds
// microseconds; Lua numbers are doubles) and the instances' clock skew
// times Rate. A single instance with Redis is exact (the shared TAT it reads
// back is never later than its own). TestRateLimiterSharedOvershoot measures
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
