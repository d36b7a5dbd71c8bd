package seed_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/seed"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := seed.Generate(seed.Small, 7), seed.Generate(seed.Small, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same size and seed gave different datasets")
	}
	c := seed.Generate(seed.Small, 8)
	if reflect.DeepEqual(a.ThreatActors, c.ThreatActors) || reflect.DeepEqual(a.HoneypotTriggers, c.HoneypotTriggers) {
		t.Fatal("different seeds gave identical data")
	}
}

func TestGenerateSizes(t *testing.T) {
	tests := []struct {
		size                                  seed.Size
		actors, triggers, hunts, agents, perp int
	}{
		{seed.Small, 150, 600, 200, 300, 12},
		{seed.Medium, 450, 1800, 600, 900, 20},
		{seed.Large, 1500, 6000, 2000, 3000, 30},
		{"unknown", 150, 600, 200, 300, 12},
	}
	for _, tt := range tests {
		t.Run(string(tt.size), func(t *testing.T) {
			d := seed.Generate(tt.size, 1)
			got := []int{len(d.ThreatActors), len(d.HoneypotTriggers), len(d.Hunts), len(d.DINAAgents), len(d.Perpetrators)}
			want := []int{tt.actors, tt.triggers, tt.hunts, tt.agents, tt.perp}
			if !slices.Equal(got, want) {
				t.Errorf("sizes %v, want %v", got, want)
			}
			if len(d.AsciiArt) < 3 || len(d.CasePatterns) == 0 || len(d.AllAgents) == 0 {
				t.Errorf("missing collections: %d art, %d patterns, %d all agents", len(d.AsciiArt), len(d.CasePatterns), len(d.AllAgents))
			}
			assertUnique(t, "actor_id", d.ThreatActors, func(a store.ThreatActor) string { return a.ActorID })
			assertUnique(t, "actor name", d.ThreatActors, func(a store.ThreatActor) string { return a.Name })
			assertUnique(t, "agent_id", d.DINAAgents, func(a store.DINAAgent) string { return a.AgentID })
			assertUnique(t, "trigger _id", d.HoneypotTriggers, func(x store.HoneypotTrigger) string { return x.ID.Hex() })
		})
	}
	if _, err := seed.ParseSize("huge"); err == nil {
		t.Error("ParseSize(huge) succeeded")
	}
}

func assertUnique[T any](t *testing.T, what string, xs []T, key func(T) string) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range xs {
		k := key(x)
		if seen[k] {
			t.Errorf("duplicate %s %q", what, k)
			return
		}
		seen[k] = true
	}
}

func TestGenerateCoversTheDataModel(t *testing.T) {
	d := seed.Generate(seed.Small, 3)
	covered := func(what string, want []string, have func(yield func(string))) {
		t.Helper()
		got := map[string]bool{}
		have(func(s string) { got[s] = true })
		for _, w := range want {
			if !got[w] {
				t.Errorf("%s: no %q in the data", what, w)
			}
		}
	}
	covered("category", []string{store.DINACategoryBrigade, store.DINACategoryDepartment, store.DINACategoryStateStaff,
		store.DINACategoryEnlisted, store.DINACategoryOther, store.DINACategoryRegionalCommand}, func(y func(string)) {
		for _, a := range d.DINAAgents {
			y(a.Category)
		}
	})
	covered("legal_status", []string{"at_large", "convicted", "deceased", "indicted", "investigated", "unknown", "unprosecuted"}, func(y func(string)) {
		for _, a := range d.DINAAgents {
			y(a.LegalStatus)
		}
	})
	covered("verification_status", []string{"pending", "verified", "disputed"}, func(y func(string)) {
		for _, a := range d.DINAAgents {
			y(a.VerificationStatus)
		}
	})
	covered("confidence", []string{"alleged", "confirmed", "probable"}, func(y func(string)) {
		for _, a := range d.DINAAgents {
			for _, s := range a.DataSources {
				y(s.Confidence)
			}
		}
	})
	covered("hunt status/outcome", []string{"active", "completed", "abandoned", "captured", "escaped", "monitoring"}, func(y func(string)) {
		for _, h := range d.Hunts {
			y(h.Status)
			y(h.Outcome)
		}
	})
	covered("trigger threat level", []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}, func(y func(string)) {
		for _, x := range d.HoneypotTriggers {
			y(x.ThreatLevel)
		}
	})
	covered("legacy threat level", []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "SEVERE"}, func(y func(string)) {
		for _, o := range d.ActorOverrides {
			for _, e := range o {
				if s, ok := e.Value.(string); ok && e.Key == "threat_level" {
					y(s)
				}
			}
		}
	})

	// Cross-collection references resolve.
	actors := map[string]bool{}
	for _, a := range d.ThreatActors {
		actors[a.ActorID] = true
	}
	for _, h := range d.Hunts {
		if h.TargetActor != "" && !actors[h.TargetActor] {
			t.Errorf("hunt %s targets unknown actor %s", h.SessionID, h.TargetActor)
		}
	}
	patterns := map[string]bool{}
	for _, p := range d.CasePatterns {
		patterns[p.PatternID] = true
	}
	related := 0
	for _, p := range d.CasePatterns {
		for _, r := range p.RelatedPatterns {
			related++
			if !patterns[r] {
				t.Errorf("pattern %s relates to unknown %s", p.PatternID, r)
			}
		}
	}
	ips := map[string]bool{}
	for _, x := range d.HoneypotTriggers {
		ips[x.IPAddress] = true
		if !x.TriggeredAt.Before(seed.BaseTime()) {
			t.Errorf("trigger at %v is not before the base time", x.TriggeredAt)
		}
	}
	linked := 0
	for _, a := range d.ThreatActors {
		if slices.ContainsFunc(a.IOCs, func(ioc string) bool { return ips[ioc] }) {
			linked++
		}
	}
	if related == 0 || linked < 10 {
		t.Errorf("too few links: %d related patterns, %d actors with honeypot IOCs", related, linked)
	}
}

func TestLoadAndEmpty(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("seed-test")

	empty, err := seed.Empty(ctx, db)
	if err != nil || !empty {
		t.Fatalf("fresh database: Empty = %v, %v; want true", empty, err)
	}
	d := seed.Generate(seed.Small, 1)
	if err := seed.Load(ctx, db, d); err != nil {
		t.Fatal(err)
	}
	empty, err = seed.Empty(ctx, db)
	if err != nil || empty {
		t.Fatalf("after Load: Empty = %v, %v; want false", empty, err)
	}
	for coll, want := range map[string]int{
		"threat_actors": len(d.ThreatActors), "honeypot_triggers": len(d.HoneypotTriggers),
		"dina_army_list_agents": len(d.DINAAgents), "ascii_art": len(d.AsciiArt),
	} {
		n, err := db.Collection(coll).EstimatedDocumentCount(ctx)
		if err != nil || int(n) != want {
			t.Errorf("%s: %d documents (%v), want %d", coll, n, err, want)
		}
	}
	if err := seed.Load(ctx, db, d); err == nil {
		t.Error("loading twice succeeded, want a duplicate key error")
	}
	if err := seed.Drop(ctx, db); err != nil {
		t.Fatal(err)
	}
	if empty, err := seed.Empty(ctx, db); err != nil || !empty {
		t.Fatalf("after Drop: Empty = %v, %v; want true", empty, err)
	}
	if err := seed.Load(ctx, db, d); err != nil {
		t.Errorf("Load after Drop: %v", err)
	}
}
