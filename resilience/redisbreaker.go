package resilience

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// RedisBreaker is a go-redis hook that sends every command and pipeline of a client through b,
// so that every component sharing the client (response cache, persisted queries, rate limiter,
// block list) fails fast together while Redis is down, instead of each waiting out its own
// timeouts. A reply of the server, an error reply included (redis.Nil, WRONGTYPE), is an answer,
// not a failure; the caller's own cancellation is not one either (Breaker.Do). A refused command
// gets the breaker's error, which every user of the client already treats as Redis being
// unavailable. A command that runs out of its deadline is a failure (see do). Connections (and so pub/sub subscriptions, which reconnect on their own) are not
// guarded.
func RedisBreaker(b *Breaker) redis.Hook { return redisBreaker{b} }

type redisBreaker struct{ b *Breaker }

func (h redisBreaker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisBreaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := h.do(ctx, func(ctx context.Context) error { return next(ctx, cmd) })
		if err != nil && cmd.Err() == nil {
			cmd.SetErr(err) // refused: the command never ran
		}
		return err
	}
}

func (h redisBreaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := h.do(ctx, func(ctx context.Context) error { return next(ctx, cmds) })
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() == nil {
					cmd.SetErr(err)
				}
			}
		}
		return err
	}
}

// inBreaker marks the context of a command running through the breaker. The commands go-redis
// runs to set up a new connection (HELLO, CLIENT SETINFO) pass through the hooks again under that
// context; they are part of the guarded command, and must not be refused by the half-open
// breaker that let it through as its probe, which would keep the breaker open forever.
type inBreaker struct{}

// do runs call through the breaker, an error reply of the server being an answer (Answering).
func (h redisBreaker) do(ctx context.Context, call func(ctx context.Context) error) error {
	if ctx.Value(inBreaker{}) != nil {
		return call(ctx)
	}
	// Every user of the client gives its Redis calls a short deadline of its own, so a deadline
	// that passes means Redis was too slow: a failure. The breaker takes any ended context for a
	// caller that gave up, so it gets one that does not end; a cancelled caller still does not
	// count (Breaker.Do sees context.Canceled in the error).
	marked := context.WithValue(ctx, inBreaker{}, true)
	return Answering(context.WithoutCancel(marked), h.b.Do, isRedisReply,
		func(context.Context) error { return call(marked) })
}

// isRedisReply reports whether err is an error reply of the server (redis.Nil included).
func isRedisReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

var _ redis.Hook = redisBreaker{}
