package mongo_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/neko-defense/neko/store"
)

func expectedHunts(keep func(store.HuntConversation) bool) []store.HuntConversation {
	return sorted(filter(env.data.Hunts, keep), func(a, b store.HuntConversation) int {
		if c := compareTimes(*b.StartedAt, *a.StartedAt); c != 0 {
			return c
		}
		return compareObjectIDs(b.ID, a.ID)
	})
}

func sessionID(h store.HuntConversation) string { return h.SessionID }

func TestHuntConversations(t *testing.T) {
	ctx := testContext(t)
	for _, status := range []string{"", "active", "completed", "abandoned", "nonexistent"} {
		t.Run("status "+status, func(t *testing.T) {
			want := firstN(expectedHunts(func(h store.HuntConversation) bool { return status == "" || h.Status == status }), 50)
			got, err := env.store.HuntConversations(ctx, status, 50)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "hunts", ids(got, sessionID), ids(want, sessionID))
		})
	}
	t.Run("by targets", func(t *testing.T) {
		targets := []string{env.data.Hunts[0].TargetActor, env.data.Hunts[1].TargetActor, "TA-NONE"}
		want := expectedHunts(func(h store.HuntConversation) bool {
			return h.TargetActor != "" && slices.Contains(targets, h.TargetActor)
		})
		got, err := env.store.HuntsByTargets(ctx, targets, 1000)
		if err != nil {
			t.Fatal(err)
		}
		equalIDs(t, "hunts", ids(got, sessionID), ids(want, sessionID))
	})
	t.Run("one", func(t *testing.T) {
		want := env.data.Hunts[7]
		got, err := env.store.HuntConversation(ctx, want.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || !slices.Equal(got.Keywords, want.Keywords) || !got.StartedAt.Equal(*want.StartedAt) ||
			got.Status != want.Status || got.TargetActor != want.TargetActor {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if _, ok := got.HuntSummary["channels"].([]any); !ok {
			t.Errorf("hunt_summary.channels = %T, want []any", got.HuntSummary["channels"])
		}
		_, err = env.store.HuntConversation(ctx, "hunt-missing")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing hunt: err = %v, want ErrNotFound", err)
		}
	})
}

func TestHuntStats(t *testing.T) {
	got, err := env.store.HuntStats(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	want := store.HuntStats{Total: len(env.data.Hunts)}
	freq := map[string]int{}
	for _, h := range env.data.Hunts {
		if h.Status == "active" {
			want.Active++
		}
		if h.Status == "completed" {
			want.Completed++
		}
		if h.Outcome == "captured" {
			want.SuccessfulCaptures++
		}
		for _, k := range h.Keywords {
			freq[k]++
		}
	}
	for _, h := range firstN(expectedHunts(func(h store.HuntConversation) bool { return h.TargetActor != "" }), 10) {
		if !slices.Contains(want.RecentTargets, h.TargetActor) {
			want.RecentTargets = append(want.RecentTargets, h.TargetActor)
		}
	}
	var words []string
	for k := range freq {
		words = append(words, k)
	}
	words = sorted(words, func(a, b string) int {
		if freq[a] != freq[b] {
			return freq[b] - freq[a]
		}
		return compareStrings(a, b)
	})
	want.TopKeywords = firstN(words, 10)

	if got.Total != want.Total || got.Active != want.Active || got.Completed != want.Completed ||
		got.SuccessfulCaptures != want.SuccessfulCaptures {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	equalIDs(t, "recent targets", got.RecentTargets, want.RecentTargets)
	equalIDs(t, "top keywords", got.TopKeywords, want.TopKeywords)
}
