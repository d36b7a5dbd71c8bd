package mongo_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/store"
	nekomongo "github.com/neko-defense/neko/store/mongo"
)

// The defense layer's consumer interfaces are satisfied by the Store.
var (
	_ defense.IncidentStore = (*nekomongo.Store)(nil)
	_ defense.BlockStore    = (*nekomongo.Store)(nil)
	_ defense.TriggerStore  = (*nekomongo.Store)(nil)
)

// clearDefense empties the defense collections before and after a test.
func clearDefense(t *testing.T) {
	t.Helper()
	clear := func() {
		for _, c := range []string{"security_incidents", "blocked_ips"} {
			if _, err := env.store.Database().Collection(c).DeleteMany(context.Background(), bson.D{}); err != nil {
				t.Error(err)
			}
		}
	}
	clear()
	t.Cleanup(clear)
}

func TestIncidents(t *testing.T) {
	clearDefense(t)
	ctx := testContext(t)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := []store.Incident{
		{IncidentID: "INC-1-AAAAAAA", Timestamp: base, Severity: store.SeverityHigh, Category: "sql_injection",
			Actor: store.IncidentActor{IP: "192.0.2.1"}, Evidence: map[string]any{"path": "/x?q=union select"},
			ThreatScore: 85, AutoBlocked: true, Playbook: "ACTIVE_ATTACK_DETECTED",
			Actions: []store.IncidentAction{{Type: "block_ip", Detail: "24h", At: base}}},
		{IncidentID: "INC-2-BBBBBBB", Timestamp: base.Add(time.Minute), Severity: store.SeverityLow, Category: "anomaly_detected",
			Actor: store.IncidentActor{IP: "192.0.2.2", Fingerprint: "fp"}, ThreatScore: 45, Playbook: "BEHAVIORAL_ANOMALY"},
		{IncidentID: "INC-3-CCCCCCC", Timestamp: base.Add(-time.Hour), Severity: store.SeverityHigh, Category: "sql_injection",
			Actor: store.IncidentActor{IP: "192.0.2.3"}, ThreatScore: 90, AutoBlocked: true, Playbook: "ACTIVE_ATTACK_DETECTED"},
	}
	for _, i := range in {
		if err := env.store.InsertIncident(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	got, err := env.store.Incidents(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	equalIDs(t, "incident order", ids(got, func(i store.Incident) string { return i.IncidentID }),
		[]string{"INC-2-BBBBBBB", "INC-1-AAAAAAA", "INC-3-CCCCCCC"})
	first := got[1]
	if !first.Timestamp.Equal(base) || first.Actor.IP != "192.0.2.1" || !first.AutoBlocked || first.ThreatScore != 85 ||
		first.Evidence["path"] != "/x?q=union select" || len(first.Actions) != 1 || first.Actions[0].Type != "block_ip" {
		t.Errorf("read back %+v", first)
	}
	if got[0].Actions == nil {
		t.Error("Actions of an incident without actions decoded as nil, want empty")
	}
	got, err = env.store.Incidents(ctx, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("limit 1: %d incidents, %v", len(got), err)
	}

	st, err := env.store.SecurityStats(ctx, base.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Incidents != 2 || st.AutoBlocked != 1 {
		t.Errorf("stats totals = %d incidents, %d auto blocked; want 2, 1", st.Incidents, st.AutoBlocked)
	}
	wantSev := []store.KeyCount{{Key: "high", Count: 1}, {Key: "low", Count: 1}}
	if !slices.Equal(st.BySeverity, wantSev) {
		t.Errorf("by severity = %v, want %v", st.BySeverity, wantSev)
	}
	wantCat := []store.KeyCount{{Key: "anomaly_detected", Count: 1}, {Key: "sql_injection", Count: 1}}
	if !slices.Equal(st.ByCategory, wantCat) {
		t.Errorf("by category = %v, want %v", st.ByCategory, wantCat)
	}
	st, err = env.store.SecurityStats(ctx, base.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if st.Incidents != 3 || st.AutoBlocked != 2 || !slices.Equal(st.BySeverity, []store.KeyCount{{Key: "high", Count: 2}, {Key: "low", Count: 1}}) {
		t.Errorf("stats over 2h = %+v", st)
	}
}

func TestBlockedIPs(t *testing.T) {
	clearDefense(t)
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	active := store.BlockedIP{IP: "198.51.100.1", Reason: "ACTIVE_ATTACK_DETECTED", BlockedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}
	expired := store.BlockedIP{IP: "198.51.100.2", Reason: "Temporary block", BlockedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour), Temporary: true}
	for _, b := range []store.BlockedIP{active, expired} {
		if err := env.store.UpsertBlockedIP(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Re-blocking replaces the document instead of adding one.
	active.Reason = "re-blocked"
	active.BlockedAt = now
	if err := env.store.UpsertBlockedIP(ctx, active); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertBlockedIP(ctx, store.BlockedIP{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty ip: err = %v, want ErrInvalid", err)
	}
	got, err := env.store.BlockedIPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != active || got[1] != expired {
		t.Fatalf("BlockedIPs = %+v\nwant %+v, %+v", got, active, expired)
	}
	if !got[0].Active(now) || got[1].Active(now) {
		t.Error("Active disagrees with ExpiresAt")
	}
	st, err := env.store.SecurityStats(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.ActiveBlocks != 1 {
		t.Errorf("ActiveBlocks = %d, want 1", st.ActiveBlocks)
	}

	// The unique index refuses a second document for the same address.
	_, err = env.store.Database().Collection("blocked_ips").InsertOne(ctx, active)
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("duplicate insert: err = %v, want a duplicate key error", err)
	}

	if err := env.store.DeleteBlockedIP(ctx, active.IP); err != nil {
		t.Fatal(err)
	}
	if err := env.store.DeleteBlockedIP(ctx, "203.0.113.250"); err != nil {
		t.Errorf("deleting an unknown address: %v", err)
	}
	got, err = env.store.BlockedIPs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].IP != expired.IP {
		t.Errorf("after delete: %+v", got)
	}
}
