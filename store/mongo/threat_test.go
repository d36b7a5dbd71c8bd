package mongo_test

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store"
	nekomongo "github.com/neko-defense/neko/store/mongo"
)

// inCategory is reference §3.2 written in Go, the oracle for the database
// filters.
func inCategory(a store.ThreatActor, category string) bool {
	isTrue := func(b *bool) bool { return b != nil && *b }
	switch category {
	case store.CategoryPredators:
		return a.Type == "predator" || a.ActorClassification == "INDIVIDUAL_PREDATOR" || a.Category == "predator"
	case store.CategoryPedophiles:
		return a.Type == "pedophile" || a.ActorClassification == "PEDOPHILE" || a.Category == "pedophile" ||
			a.TargetType == "children" || regexp.MustCompile(`(?i)pedophil|child abuse|csam`).MatchString(a.Description)
	case store.CategoryDinaNetwork:
		return a.Network == "DINA" || a.ActorClassification == "DINA_NETWORK" || a.Category == "dina_network"
	case store.CategoryRansomware:
		return a.Type == "cybercrime_group" || a.ActorClassification == "CYBERCRIME_RANSOMWARE" || a.Category == "ransomware"
	case store.CategoryStateSponsored:
		return isTrue(a.StateActor) || isTrue(a.StateSponsored) || regexp.MustCompile(`(?i)STATE_SPONSORED`).MatchString(a.ActorClassification)
	case store.CategoryCryptoCrime:
		return a.Category == "crypto_crime" || a.ActorClassification == "CRYPTO_CRIME" || a.Type == "crypto_thief"
	}
	return true
}

var categories = []string{
	store.CategoryAll, store.CategoryPredators, store.CategoryPedophiles, store.CategoryDinaNetwork,
	store.CategoryRansomware, store.CategoryStateSponsored, store.CategoryCryptoCrime,
}

// storedValue is the value of field as stored for an actor (legacy
// overrides included), for sorting the way the database does.
func storedValue(a store.ThreatActor, field string) any {
	for _, e := range env.data.ActorOverrides[a.ActorID] {
		if e.Key == field {
			return e.Value
		}
	}
	var p *int
	switch field {
	case "threat_level":
		p = a.ThreatLevel
	case "rank":
		p = a.Rank
	}
	if p == nil {
		return nil
	}
	return *p
}

// expectedActors is the database order: threat_level desc, rank asc,
// actor_id asc.
func expectedActors(category string) []store.ThreatActor {
	return sorted(filter(env.data.ThreatActors, func(a store.ThreatActor) bool { return inCategory(a, category) }),
		func(a, b store.ThreatActor) int {
			if c := bsonOrder(storedValue(b, "threat_level"), storedValue(a, "threat_level")); c != 0 {
				return c
			}
			if c := bsonOrder(storedValue(a, "rank"), storedValue(b, "rank")); c != 0 {
				return c
			}
			return compareStrings(a.ActorID, b.ActorID)
		})
}

func actorID(a store.ThreatActor) string { return a.ActorID }

func TestThreatCounts(t *testing.T) {
	got, err := env.store.ThreatCounts(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	n := func(c string) int { return len(expectedActors(c)) }
	want := store.ThreatCounts{
		All: n(store.CategoryAll), Predators: n(store.CategoryPredators), Pedophiles: n(store.CategoryPedophiles),
		DinaNetwork: n(store.CategoryDinaNetwork), Ransomware: n(store.CategoryRansomware),
		StateSponsored: n(store.CategoryStateSponsored), CryptoCrime: n(store.CategoryCryptoCrime),
	}
	if got != want {
		t.Errorf("ThreatCounts = %+v, want %+v", got, want)
	}
	if want.All != len(env.data.ThreatActors) {
		t.Errorf("All = %d, want every actor (%d)", want.All, len(env.data.ThreatActors))
	}
	for _, c := range categories[1:] {
		if n(c) == 0 || n(c) == want.All {
			t.Errorf("seed data does not exercise category %s: %d of %d", c, n(c), want.All)
		}
	}
}

func TestThreatActors(t *testing.T) {
	ctx := testContext(t)
	for _, c := range append(categories, "no-such-category") {
		t.Run(c, func(t *testing.T) {
			want := expectedActors(c)
			got, err := env.store.ThreatActors(ctx, c, 1000)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "order", ids(got, actorID), ids(want, actorID))
			got, err = env.store.ThreatActors(ctx, c, 5)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "limit 5", ids(got, actorID), ids(want[:5], actorID))
		})
	}
	t.Run("limit clamps to 1", func(t *testing.T) {
		got, err := env.store.ThreatActors(ctx, store.CategoryAll, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Errorf("limit 0 gave %d actors, want 1", len(got))
		}
	})
}

func TestThreatActorDecoding(t *testing.T) {
	ctx := testContext(t)
	if len(env.data.ActorOverrides) < 6 {
		t.Fatalf("seed has %d legacy actors, want at least 6", len(env.data.ActorOverrides))
	}
	for id := range env.data.ActorOverrides {
		want := env.data.ThreatActors[slices.IndexFunc(env.data.ThreatActors, func(a store.ThreatActor) bool { return a.ActorID == id })]
		t.Run(id, func(t *testing.T) {
			got, err := env.store.ThreatActor(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !equalInt(got.ThreatLevel, want.ThreatLevel) || !equalInt(got.Rank, want.Rank) {
				t.Errorf("stored %v: threat_level %v rank %v, want %v %v", env.data.ActorOverrides[id],
					deref(got.ThreatLevel), deref(got.Rank), deref(want.ThreatLevel), deref(want.Rank))
			}
		})
	}
	t.Run("full document", func(t *testing.T) {
		want := env.data.ThreatActors[10]
		got, err := env.store.ThreatActor(ctx, want.ActorID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Name != want.Name || !slices.Equal(got.IOCs, want.IOCs) ||
			!slices.Equal(got.Techniques, want.Techniques) || !equalInt(got.ThreatLevel, want.ThreatLevel) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		origin, ok := got.Metadata["origin"].(map[string]any)
		if !ok || origin["region"] != want.Metadata["origin"].(map[string]any)["region"] {
			t.Errorf("metadata.origin = %#v, want a plain map equal to %v", got.Metadata["origin"], want.Metadata["origin"])
		}
		if _, ok := got.Metadata["labels"].([]any); !ok {
			t.Errorf("metadata.labels = %T, want []any", got.Metadata["labels"])
		}
	})
	t.Run("not found", func(t *testing.T) {
		_, err := env.store.ThreatActor(ctx, "TA-NOPE")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func equalInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCoerceThreatLevel(t *testing.T) {
	raw := func(v any) bson.RawValue {
		doc, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
		if err != nil {
			t.Fatal(err)
		}
		return bson.Raw(doc).Lookup("v")
	}
	tests := []struct {
		name   string
		stored bson.RawValue
		want   any
		ok     bool
	}{
		{"int32", raw(int32(42)), 42, true},
		{"int64", raw(int64(99)), 99, true},
		{"double rounds", raw(74.6), 75, true},
		{"LOW", raw("LOW"), 25, true},
		{"medium any case", raw("Medium"), 50, true},
		{"HIGH", raw("HIGH"), 75, true},
		{"critical", raw(" critical "), 100, true},
		{"unknown word", raw("SEVERE"), nil, false},
		{"bool", raw(true), nil, false},
		{"null", raw(nil), nil, true},
		{"missing", bson.RawValue{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nekomongo.CoerceThreatLevel(tt.stored)
			if deref(got) != tt.want || ok != tt.ok {
				t.Errorf("CoerceThreatLevel = %v, %v; want %v, %v", deref(got), ok, tt.want, tt.ok)
			}
		})
	}
}

func TestThreatActorsByKeys(t *testing.T) {
	ctx := testContext(t)
	a, b, c := env.data.ThreatActors[1], env.data.ThreatActors[2], env.data.ThreatActors[3]
	got, err := env.store.ThreatActorsByKeys(ctx, []string{a.ActorID, b.Name, c.ActorID, c.Name, "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "by keys", ids(got, actorID), []string{a.ActorID, b.ActorID, c.ActorID})

	got, err = env.store.ThreatActorsByKeys(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("no keys: %v, %v; want empty", got, err)
	}
}

func TestThreatActorsByIOCs(t *testing.T) {
	ctx := testContext(t)
	addrs := []string{env.data.ThreatActors[0].IOCs[0], env.data.HoneypotTriggers[0].IPAddress, "192.0.2.255"}
	want := filter(env.data.ThreatActors, func(a store.ThreatActor) bool {
		return slices.ContainsFunc(a.IOCs, func(ioc string) bool { return slices.Contains(addrs, ioc) })
	})
	got, err := env.store.ThreatActorsByIOCs(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 2 {
		t.Fatalf("seed links too few actors to honeypot addresses: %d", len(want))
	}
	sameSet(t, "by iocs", ids(got, actorID), ids(want, actorID))
}

func TestUnreadableThreatLevelIsLogged(t *testing.T) {
	ctx := testContext(t)
	var bogus string
	for id, over := range env.data.ActorOverrides {
		for _, e := range over {
			if e.Key == "threat_level" && e.Value == "SEVERE" {
				bogus = id
			}
		}
	}
	if bogus == "" {
		t.Fatal("seed has no unreadable threat_level")
	}
	var buf strings.Builder
	st, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: "neko-test", OperationTimeout: time.Minute},
		slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	a, err := st.ThreatActor(ctx, bogus)
	if err != nil {
		t.Fatal(err)
	}
	if a.ThreatLevel != nil || !strings.Contains(buf.String(), "actor_id="+bogus) {
		t.Errorf("threat_level %v, log %q; want nil and a warning naming %s", deref(a.ThreatLevel), buf.String(), bogus)
	}
}

// TestMistypedFieldsReadAsEmpty stores documents whose fields hold values of a type their Go field
// cannot (hand edits and old scripts left such documents in the original's collections): each
// such field reads as empty, and the rest of the document and of the list is read.
func TestMistypedFieldsReadAsEmpty(t *testing.T) {
	ctx := testContext(t)
	db := env.store.Database()
	actor := bson.D{
		{Key: "actor_id", Value: "TA-MISTYPED"}, {Key: "name", Value: "Mistyped Actor"}, {Key: "category", Value: "ransomware"},
		{Key: "iocs", Value: "1.2.3.4"}, {Key: "state_actor", Value: "yes"}, {Key: "metadata", Value: "plain string"},
		{Key: "techniques", Value: bson.A{"phishing", 7, "wiper"}}, {Key: "description", Value: 12.5},
		{Key: "threat_level", Value: 90},
	}
	agent := bson.D{
		{Key: "agent_id", Value: "dina-mistyped"}, {Key: "full_name", Value: "Mistyped Agent"}, {Key: "rank", Value: "Major"},
		{Key: "category", Value: "other"}, {Key: "service_period_start", Value: "1974"},
	}
	if _, err := db.Collection(store.CollThreatActors).InsertOne(ctx, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(store.CollArmyList).InsertOne(ctx, agent); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Collection(store.CollThreatActors).DeleteOne(context.Background(), bson.D{{Key: "actor_id", Value: "TA-MISTYPED"}})
		_, _ = db.Collection(store.CollArmyList).DeleteOne(context.Background(), bson.D{{Key: "agent_id", Value: "dina-mistyped"}})
	})

	got, err := env.store.ThreatActor(ctx, "TA-MISTYPED")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Mistyped Actor" || len(got.IOCs) != 0 || got.StateActor != nil || len(got.Metadata) != 0 || got.Description != "" ||
		!slices.Equal(got.Techniques, []string{"phishing", "", "wiper"}) || deref(got.ThreatLevel) != 90 {
		t.Errorf("mistyped actor read as %+v", got)
	}
	all, err := env.store.ThreatActors(ctx, store.CategoryAll, 1000)
	if err != nil || !slices.ContainsFunc(all, func(a store.ThreatActor) bool { return a.ActorID == "TA-MISTYPED" }) || len(all) < 2 {
		t.Errorf("list with a mistyped actor: %d actors, err %v", len(all), err)
	}
	a, err := env.store.DINAAgent(ctx, "dina-mistyped")
	if err != nil || a.FullName != "Mistyped Agent" || a.ServicePeriodStart != nil {
		t.Errorf("mistyped agent: %+v, err %v", a, err)
	}
}
