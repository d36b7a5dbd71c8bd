package mongo_test

import (
	"errors"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

func TestDINAAgentLifecycle(t *testing.T) {
	ctx := testContext(t)
	const id = "dina-test-agent-lifecycle"
	before, err := env.store.DINAStatistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created, err := env.store.CreateDINAAgent(ctx, store.DINAAgent{
		AgentID: id, FullName: "Testo Vrenkal", Rank: "Major", Category: store.DINACategoryOther,
		Region: "Talca", Aliases: []string{"El Zorrito"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = env.store.DeleteDINAAgent(t.Context(), id) })
	if created.CreatedAt.IsZero() || created.LegalStatus != store.LegalStatusUnknown ||
		created.VerificationStatus != store.VerificationPending || created.ID.IsZero() {
		t.Errorf("defaults not applied: %+v", created)
	}
	read, err := env.store.DINAAgent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if read.FullName != created.FullName || !read.CreatedAt.Equal(created.CreatedAt) || read.ID != created.ID || read.DataSources == nil {
		t.Errorf("read back %+v\nwant %+v", read, created)
	}
	found, err := env.store.SearchDINAAgents(ctx, "zorrito", 10)
	if err != nil || len(found) != 1 || found[0].AgentID != id {
		t.Errorf("search by alias: %v, %v", found, err)
	}

	if _, err := env.store.CreateDINAAgent(ctx, store.DINAAgent{AgentID: id, FullName: "Dup", Rank: "Major", Category: store.DINACategoryOther}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate agent_id: err = %v, want ErrConflict", err)
	}
	if _, err := env.store.CreateDINAAgent(ctx, store.DINAAgent{FullName: "No ID"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty agent_id: err = %v, want ErrInvalid", err)
	}

	time.Sleep(2 * time.Millisecond) // updated_at has millisecond precision
	verified, notes := store.VerificationVerified, "Updated synthetic notes"
	updated, err := env.store.UpdateDINAAgent(ctx, id, store.DINAAgentPatch{VerificationStatus: &verified, BiographicalNotes: &notes})
	if err != nil {
		t.Fatal(err)
	}
	if updated.VerificationStatus != verified || updated.BiographicalNotes != notes || updated.FullName != created.FullName ||
		!updated.UpdatedAt.After(created.UpdatedAt) || !updated.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("updated %+v", updated)
	}
	after, err := env.store.DINAStatistics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Total != before.Total+1 || after.Verified != before.Verified+1 {
		t.Errorf("statistics after create+verify: total %d verified %d, want %d %d", after.Total, after.Verified, before.Total+1, before.Verified+1)
	}
	if _, err := env.store.UpdateDINAAgent(ctx, "dina-missing", store.DINAAgentPatch{FullName: &notes}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update missing: err = %v, want ErrNotFound", err)
	}

	deleted, err := env.store.DeleteDINAAgent(ctx, id)
	if err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	deleted, err = env.store.DeleteDINAAgent(ctx, id)
	if err != nil || deleted {
		t.Errorf("second delete: %v, %v; want false", deleted, err)
	}
	if _, err := env.store.DINAAgent(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
}
