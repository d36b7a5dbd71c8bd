package mongo_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store"
)

// expectedTriggers filters the seeded triggers in database order:
// triggered_at desc, _id desc.
func expectedTriggers(keep func(store.HoneypotTrigger) bool) []store.HoneypotTrigger {
	return sorted(filter(env.data.HoneypotTriggers, keep), func(a, b store.HoneypotTrigger) int {
		if c := compareTimes(b.TriggeredAt, a.TriggeredAt); c != 0 {
			return c
		}
		return compareObjectIDs(b.ID, a.ID)
	})
}

func triggerID(t store.HoneypotTrigger) string { return t.ID.Hex() }

func firstN[T any](xs []T, n int) []T { return xs[:min(n, len(xs))] }

// firstPerKey keeps the first n elements of each key of xs, in order.
func firstPerKey[T any](xs []T, key func(T) string, n int) []T {
	seen := map[string]int{}
	return filter(xs, func(x T) bool {
		seen[key(x)]++
		return seen[key(x)] <= n
	})
}

// busyAndQuiet returns, of the keys of xs (in database order, newest first),
// the one with the most elements and the three least recent keys with one
// element: the busy key's newer elements come first in a query for all four.
func busyAndQuiet[T any](xs []T, key func(T) string) []string {
	count := map[string]int{}
	for _, x := range xs {
		count[key(x)]++
	}
	busy := key(slices.MaxFunc(xs, func(a, b T) int { return count[key(a)] - count[key(b)] }))
	quiet := ids(filter(xs, func(x T) bool { return count[key(x)] == 1 }), key)
	return append([]string{busy}, quiet[len(quiet)-3:]...)
}

func TestHoneypotTriggers(t *testing.T) {
	ctx := testContext(t)
	trap := env.data.HoneypotTriggers[0].TrapName
	ip := env.data.HoneypotTriggers[0].IPAddress
	tests := []struct {
		name  string
		limit int
		call  func(limit int) ([]store.HoneypotTrigger, error)
		keep  func(store.HoneypotTrigger) bool
	}{
		{"all", 100, func(n int) ([]store.HoneypotTrigger, error) { return env.store.HoneypotTriggers(ctx, "", n) },
			func(store.HoneypotTrigger) bool { return true }},
		{"by trap", 1000, func(n int) ([]store.HoneypotTrigger, error) { return env.store.HoneypotTriggers(ctx, trap, n) },
			func(x store.HoneypotTrigger) bool { return x.TrapName == trap }},
		{"by ip", 1000, func(n int) ([]store.HoneypotTrigger, error) { return env.store.HoneypotTriggersByIP(ctx, ip, n) },
			func(x store.HoneypotTrigger) bool { return x.IPAddress == ip }},
		{"high threat", 20, func(n int) ([]store.HoneypotTrigger, error) { return env.store.RecentHighThreatTriggers(ctx, n) },
			func(x store.HoneypotTrigger) bool { return x.ThreatLevel == "HIGH" || x.ThreatLevel == "CRITICAL" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := firstN(expectedTriggers(tt.keep), tt.limit)
			got, err := tt.call(tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "triggers", ids(got, triggerID), ids(want, triggerID))
			got, err = tt.call(2)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "limit 2", ids(got, triggerID), ids(firstN(want, 2), triggerID))
		})
	}
	t.Run("decoded fields", func(t *testing.T) {
		want := expectedTriggers(func(x store.HoneypotTrigger) bool { return x.RequestBody != nil })[0]
		got, err := env.store.HoneypotTriggersByIP(ctx, want.IPAddress, 1000)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(got, func(x store.HoneypotTrigger) bool { return x.ID == want.ID })
		if i < 0 {
			t.Fatalf("trigger %s missing", want.ID.Hex())
		}
		g := got[i]
		if !g.TriggeredAt.Equal(want.TriggeredAt) || g.TrapName != want.TrapName || g.RequestPath != want.RequestPath ||
			g.RequestHeaders["host"] != "neko.example" {
			t.Errorf("got %+v\nwant %+v", g, want)
		}
		if body, ok := g.RequestBody.(map[string]any); !ok || body["username"] != "admin" {
			t.Errorf("request_body = %#v, want a plain map", g.RequestBody)
		}
	})
}

// Every address gets its own newest triggers up to the limit, however many
// newer triggers another address of the same query has.
func TestHoneypotTriggersByIPs(t *testing.T) {
	ctx := testContext(t)
	ip := func(x store.HoneypotTrigger) string { return x.IPAddress }
	every := append(slices.Compact(slices.Sorted(slices.Values(ids(env.data.HoneypotTriggers, ip)))), "192.0.2.255")
	mixed := busyAndQuiet(expectedTriggers(func(store.HoneypotTrigger) bool { return true }), ip)
	tests := []struct {
		name  string
		ips   []string
		limit int
	}{
		{"busy and quiet, limit 1", mixed, 1},
		{"busy and quiet, limit 2", mixed, 2},
		{"every address, limit 1", every, 1},
		{"every address, limit 4", every, 4},
		{"every address, limit 1000", every, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := firstPerKey(expectedTriggers(func(x store.HoneypotTrigger) bool { return slices.Contains(tt.ips, x.IPAddress) }), ip, tt.limit)
			got, err := env.store.HoneypotTriggersByIPs(ctx, tt.ips, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "triggers", ids(got, triggerID), ids(want, triggerID))
		})
	}
}

func TestHoneypotSummary(t *testing.T) {
	got, err := env.store.HoneypotSummary(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	byTrap := map[string]*store.TrapStats{}
	allIPs := map[string]bool{}
	for _, x := range env.data.HoneypotTriggers {
		allIPs[x.IPAddress] = true
		s := byTrap[x.TrapName]
		if s == nil {
			s = &store.TrapStats{TrapName: x.TrapName}
			byTrap[x.TrapName] = s
		}
		s.TriggerCount++
		if s.LastTriggered == nil || x.TriggeredAt.After(*s.LastTriggered) {
			s.LastTriggered = &x.TriggeredAt
		}
		if !slices.Contains(s.UniqueIPs, x.IPAddress) {
			s.UniqueIPs = append(s.UniqueIPs, x.IPAddress)
		}
	}
	var want []store.TrapStats
	for _, s := range byTrap {
		slices.Sort(s.UniqueIPs)
		want = append(want, *s)
	}
	want = sorted(want, func(a, b store.TrapStats) int {
		if a.TriggerCount != b.TriggerCount {
			return b.TriggerCount - a.TriggerCount
		}
		return compareStrings(a.TrapName, b.TrapName)
	})
	if got.TotalTriggers != len(env.data.HoneypotTriggers) || got.UniqueIPs != len(allIPs) || got.UniqueTraps != len(want) {
		t.Errorf("totals = %d triggers, %d ips, %d traps; want %d, %d, %d",
			got.TotalTriggers, got.UniqueIPs, got.UniqueTraps, len(env.data.HoneypotTriggers), len(allIPs), len(want))
	}
	if len(got.TrapStats) != len(want) {
		t.Fatalf("%d trap stats, want %d", len(got.TrapStats), len(want))
	}
	for i, w := range want {
		g := got.TrapStats[i]
		if g.TrapName != w.TrapName || g.TriggerCount != w.TriggerCount || g.LastTriggered == nil ||
			!g.LastTriggered.Equal(*w.LastTriggered) || !slices.Equal(g.UniqueIPs, w.UniqueIPs) {
			t.Errorf("trap %d = %+v\nwant %+v", i, g, w)
		}
	}
}

func TestInsertHoneypotTrigger(t *testing.T) {
	ctx := testContext(t)
	const trap = "test_insert_trap"
	t.Cleanup(func() {
		_, err := env.store.Database().Collection("honeypot_triggers").DeleteMany(context.Background(), bson.D{{Key: "trap_name", Value: trap}})
		if err != nil {
			t.Error(err)
		}
	})
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	in := store.HoneypotTrigger{
		TrapName: trap, IPAddress: "198.51.100.77", TriggeredAt: at, RequestPath: "/.env", RequestMethod: "GET",
		RequestHeaders: map[string]any{"user-agent": "curl/8"}, ThreatLevel: "HIGH", ActionTaken: "blocked",
	}
	if err := env.store.InsertHoneypotTrigger(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := env.store.HoneypotTriggers(ctx, trap, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].TriggeredAt.Equal(at) || got[0].IPAddress != in.IPAddress || got[0].ID.IsZero() ||
		got[0].RequestHeaders["user-agent"] != "curl/8" {
		t.Errorf("read back %+v", got)
	}
}

// A trigger in the shape the dashboard repository's honeypot server wrote (ip, timestamp, path,
// method, headers) reads with its address, time and request in the API's fields.
func TestHoneypotTriggerOlderShape(t *testing.T) {
	ctx := testContext(t)
	coll := env.store.Database().Collection(store.CollHoneypot)
	at := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	doc := bson.D{
		{Key: "trap_name", Value: "older_shape_trap"}, {Key: "ip", Value: "198.18.7.7"}, {Key: "timestamp", Value: at},
		{Key: "method", Value: "GET"}, {Key: "path", Value: "/wp-admin"}, {Key: "headers", Value: bson.D{{Key: "user-agent", Value: "x"}}},
		{Key: "threat_level", Value: "HONEYPOT_TRIGGERED"},
	}
	if _, err := coll.InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = coll.DeleteMany(context.Background(), bson.D{{Key: "trap_name", Value: "older_shape_trap"}})
	})
	got, err := env.store.HoneypotTriggers(ctx, "older_shape_trap", 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d triggers, err %v", len(got), err)
	}
	g := got[0]
	if g.IPAddress != "198.18.7.7" || !g.TriggeredAt.Equal(at) || g.RequestMethod != "GET" || g.RequestPath != "/wp-admin" || g.RequestHeaders["user-agent"] != "x" {
		t.Errorf("older trigger read as %+v", g)
	}
}
