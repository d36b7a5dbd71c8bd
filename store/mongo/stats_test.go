package mongo_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
	nekomongo "github.com/neko-defense/neko/store/mongo"
)

func TestAsciiArt(t *testing.T) {
	got, err := env.store.AsciiArt(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(env.data.AsciiArt) {
		t.Fatalf("%d pieces, want %d", len(got), len(env.data.AsciiArt))
	}
	for i, a := range got {
		if a != env.data.AsciiArt[i] {
			t.Errorf("piece %d = %+v, want %+v", i, a, env.data.AsciiArt[i])
		}
	}
}

func TestOverview(t *testing.T) {
	got, err := env.store.Overview(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	want := store.Overview{ThreatActors: int64(len(env.data.ThreatActors)), HoneypotTriggers: int64(len(env.data.HoneypotTriggers))}
	for _, h := range env.data.Hunts {
		if h.Status == "active" {
			want.ActiveHunts++
		}
		if h.Outcome == "captured" {
			want.CapturedHunts++
		}
	}
	if got != want {
		t.Errorf("Overview = %+v, want %+v", got, want)
	}
}

func TestDatabaseStats(t *testing.T) {
	got, err := env.store.DatabaseStats(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "neko-test" || got.Collections < 8 || got.DataSize <= 0 {
		t.Errorf("stats = %+v", got)
	}
	if len(got.TopCollections) == 0 || len(got.TopCollections) > 10 {
		t.Fatalf("%d top collections", len(got.TopCollections))
	}
	want := map[string]int64{
		"threat_actors": int64(len(env.data.ThreatActors)), "hunt_conversations": int64(len(env.data.Hunts)),
		"case_patterns": int64(len(env.data.CasePatterns)), "ascii_art": int64(len(env.data.AsciiArt)),
		"dina_all_agents": int64(len(env.data.AllAgents)), "dina_army_list_agents": int64(len(env.data.DINAAgents)),
	}
	for i, c := range got.TopCollections {
		if n, ok := want[c.Name]; ok && n != c.Count {
			t.Errorf("%s: count %d, want %d", c.Name, c.Count, n)
		}
		if i > 0 && c.Count > got.TopCollections[i-1].Count {
			t.Errorf("top collections not sorted by count: %v", got.TopCollections)
		}
	}
	if got.Server != nil && got.Server.Version == "" {
		t.Errorf("server info without version: %+v", got.Server)
	}
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	for range 2 {
		if err := env.store.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	specs, err := env.store.Database().Collection("dina_army_list_agents").Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unique := false
	for _, s := range specs {
		if strings.Contains(s.Name, "agent_id_1") && s.Unique != nil && *s.Unique && len(s.KeysDocument) > 0 {
			unique = true
		}
	}
	if !unique {
		t.Errorf("no unique agent_id index among %d indexes", len(specs))
	}
}

// recorder collects OperationCounter calls.
type recorder struct {
	mu  sync.Mutex // guards ops
	ops []string
}

func (r *recorder) record(collection, op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, collection+" "+op)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ops
	r.ops = nil
	return out
}

func TestOperationCounter(t *testing.T) {
	ctx := testContext(t)
	var rec recorder
	st, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: "neko-test", OperationTimeout: time.Minute, Monitor: nekomongo.OperationCounter(rec.record)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	rec.take() // connection set-up and ping

	tests := []struct {
		name string
		call func() error
		want []string
	}{
		{"find one", func() error { _, err := st.ThreatActor(ctx, "TA-0001"); return err }, []string{"threat_actors find"}},
		{"find list", func() error { _, err := st.HoneypotTriggers(ctx, "", 10); return err }, []string{"honeypot_triggers find"}},
		{"count", func() error { _, _, err := st.AllAgents(ctx, store.AllAgentsConvicted, 1, 10); return err },
			[]string{"dina_all_agents aggregate", "dina_all_agents find"}},
		{"seven counts", func() error { _, err := st.ThreatCounts(ctx); return err }, repeat("threat_actors aggregate", 7)},
		{"per-key lists", func() error {
			_, err := st.HoneypotTriggersByIPs(ctx, []string{env.data.HoneypotTriggers[0].IPAddress, env.data.HoneypotTriggers[1].IPAddress}, 50)
			return err
		}, []string{"honeypot_triggers find"}},
		{"per-key lists, a starved key", func() error {
			_, err := st.HuntsByTargets(ctx, busyAndQuiet(expectedHunts(func(h store.HuntConversation) bool { return h.TargetActor != "" }),
				func(h store.HuntConversation) string { return h.TargetActor }), 1)
			return err
		}, repeat("hunt_conversations find", 2)},
		{"db command", func() error { return st.Ping(ctx) }, []string{"- ping"}},
		{"insert", func() error {
			return st.InsertHoneypotTrigger(ctx, store.HoneypotTrigger{TrapName: "counter_test", IPAddress: "192.0.2.200", TriggeredAt: time.Unix(0, 0)})
		}, []string{"honeypot_triggers insert"}},
		{"delete", func() error { _, err := st.DeleteDINAAgent(ctx, "dina-none"); return err }, []string{"dina_army_list_agents delete"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			got := sorted(rec.take(), compareStrings)
			equalIDs(t, "operations", got, sorted(tt.want, compareStrings))
		})
	}
	_, err = st.Database().Collection("honeypot_triggers").DeleteMany(ctx, map[string]string{"trap_name": "counter_test"})
	if err != nil {
		t.Fatal(err)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  nekomongo.Config
	}{
		{"no uri", nekomongo.Config{}},
		{"bad read preference", nekomongo.Config{URI: env.uri, ReadPreference: "fastest"}},
		{"negative timeout", nekomongo.Config{URI: env.uri, OperationTimeout: -time.Second}},
		{"min pool above max", nekomongo.Config{URI: env.uri, MinPoolSize: 10, MaxPoolSize: 5}},
		{"bad uri", nekomongo.Config{URI: "postgres://nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := nekomongo.New(t.Context(), tt.cfg, nil)
			if err == nil {
				st.Close(context.Background())
				t.Fatal("New succeeded, want an error")
			}
		})
	}
	st, err := nekomongo.New(t.Context(), nekomongo.Config{URI: env.uri, ReadPreference: "nearest"}, nil)
	if err != nil {
		t.Fatalf("nearest: %v", err)
	}
	st.Close(context.Background())
}
