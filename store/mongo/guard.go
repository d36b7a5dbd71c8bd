package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/neko-defense/neko/resilience"
)

// OpKind classifies one database round trip for a Guard, so that the caller
// can give each kind its own bounded pool. The kinds are the database pools of
// resilience.Database, which therefore is a Guard as it is.
type OpKind = resilience.PoolKind

// The kinds of round trip a Store makes.
const (
	PointRead = resilience.PointRead // single-document lookups (findOne)
	ListRead  = resilience.ListRead  // finds returning many documents
	Aggregate = resilience.Aggregate // counts, aggregation pipelines, server statistics
	Write     = resilience.Write     // inserts, updates, replaces, deletes
)

// Guard admits database round trips: typically a bulkhead per kind, a circuit
// breaker and a per-call timeout (resilience.Database).
// Do runs fn, giving it the context it must use, or refuses with an error of
// its own. When a Store has a Guard, the Guard's timeout bounds each round
// trip and Config.OperationTimeout only backstops a whole method (see op).
type Guard interface {
	Do(ctx context.Context, kind OpKind, fn func(ctx context.Context) error) error
}

// guardKey carries, in the context a method got from op, the Guard its round
// trips go through. The free helpers (findAll, findOne, aggregate, count)
// take a collection, not the Store, so the context is how they find it.
type guardKey struct{}

// guarded runs fn through the Guard attached to ctx by op, or directly when
// there is none (an unguarded Store, or a context that did not come from op).
//
// An error that is the database's answer rather than its failure (no
// document, a duplicate key) is returned to the caller but reported to the
// Guard as success, so that a breaker never opens on a run of not-founds.
func guarded(ctx context.Context, kind OpKind, fn func(ctx context.Context) error) error {
	g, ok := ctx.Value(guardKey{}).(Guard)
	if !ok {
		return fn(ctx)
	}
	do := func(ctx context.Context, fn func(context.Context) error) error { return g.Do(ctx, kind, fn) }
	return resilience.Answering(ctx, do, isAnswer, fn)
}

// isAnswer reports whether err is a reply of a healthy database to this
// particular request: no document, a duplicate key, a document the store
// could not decode, or a command the server refused for what it asked (a bad
// pattern, an impossible skip). Counting those as failures would let one bad
// document, or a few requests crafted to be refused, open the breaker for
// every caller. A server error that says the server is unwell (stepping down,
// shutting down, overloaded, out of time, unreachable) is a failure.
func isAnswer(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, mongo.ErrNoDocuments) || mongo.IsDuplicateKeyError(err) {
		return true
	}
	var de *bson.DecodeError
	var vde bson.ValueDecoderError
	if errors.As(err, &de) || errors.As(err, &vde) {
		return true
	}
	var se mongo.ServerError
	if !errors.As(err, &se) || mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return false
	}
	for _, label := range []string{"RetryableWriteError", "TransientTransactionError", "SystemOverloadedError", "RetryableError"} {
		if se.HasErrorLabel(label) {
			return false
		}
	}
	for _, code := range unwellCodes {
		if se.HasErrorCode(code) {
			return false
		}
	}
	return true
}

// unwellCodes are the server error codes of a server that cannot serve right
// now, whatever was asked: host and network errors, time limits, shutdown and
// replica-set state changes (the driver's own list of retryable and
// state-change errors).
var unwellCodes = []int{6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 462, 134}
