package resilience

import "context"

// Answering runs call through guard (a Breaker's Do, or a Database pool's) so that an error
// isAnswer accepts, a healthy dependency's reply to this particular call (no such document, a
// duplicate key, a Redis error reply), reaches the caller but counts as a success: a run of
// not-founds must never open a breaker.
func Answering(ctx context.Context, guard func(context.Context, func(context.Context) error) error,
	isAnswer func(error) bool, call func(context.Context) error) error {
	var answer error
	err := guard(ctx, func(ctx context.Context) error {
		err := call(ctx)
		if err != nil && isAnswer(err) {
			answer = err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return answer
}
