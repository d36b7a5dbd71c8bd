package defense_test

import (
	"context"
	"fmt"
	"time"

	"github.com/neko-defense/neko/defense"
)

// Example shows the calls server middleware makes per request: check the
// block list, score, and let a playbook answer a blocking verdict.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	blocks, _ := defense.NewBlockList(defense.BlockListConfig{Now: clock}) // nil Redis: this instance only
	defer blocks.Close(ctx)
	responder, _ := defense.NewResponder(defense.ResponderConfig{BlockList: blocks, Now: clock})
	defer responder.Close(ctx)
	scorer, _ := defense.NewScorer(defense.ScorerConfig{})

	req := defense.RequestInfo{
		IP: "203.0.113.9", Method: "GET", Path: "/api/threat-actors?id=1%20UNION%20SELECT%20pw%20FROM%20users",
		UserAgent: "sqlmap/1.7", Now: now,
	}
	if _, _, blocked := blocks.Blocked(req.IP); !blocked {
		v := scorer.Score(req)
		fmt.Println(v.Action, v.Score, v.Category)
		if v.Action == defense.ActionBlock {
			in, _ := responder.HandleAsync(ctx, v.Category, v.Severity(), req.IP, v.Score, map[string]any{"path": req.Path})
			fmt.Println(in.Playbook, in.AutoBlocked)
		}
	}
	_, reason, blocked := blocks.Blocked(req.IP)
	fmt.Println(blocked, reason[:len(defense.PlaybookActiveAttack)])
	// Output:
	// block 100 sql_injection
	// ACTIVE_ATTACK_DETECTED true
	// true ACTIVE_ATTACK_DETECTED
}

// ExampleMatchTrap shows the honeypot decoy for a probed path.
func ExampleMatchTrap() {
	if trap, ok := defense.MatchTrap("/phpmyadmin/"); ok {
		fmt.Println(trap.Name, trap.Status, string(trap.Body))
	}
	_, ok := defense.MatchTrap("/api/health")
	fmt.Println(ok)
	// Output:
	// phpmyadmin 403 {"error":"Access denied for user 'root'@'localhost'"}
	// false
}
