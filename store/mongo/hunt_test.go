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

// Every target gets its own most recent hunts up to the limit, however many
// more recent hunts another target of the same query has.
func TestHuntsByTargets(t *testing.T) {
	ctx := testContext(t)
	target := func(h store.HuntConversation) string { return h.TargetActor }
	targeted := expectedHunts(func(h store.HuntConversation) bool { return h.TargetActor != "" })
	every := append(slices.Compact(slices.Sorted(slices.Values(ids(targeted, target)))), "TA-NONE")
	mixed := busyAndQuiet(targeted, target)
	tests := []struct {
		name    string
		targets []string
		limit   int
	}{
		{"busy and quiet, limit 1", mixed, 1},
		{"busy and quiet, limit 2", mixed, 2},
		{"every target, limit 1", every, 1},
		{"every target, limit 3", every, 3},
		{"every target, limit 1000", every, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := firstPerKey(expectedHunts(func(h store.HuntConversation) bool {
				return h.TargetActor != "" && slices.Contains(tt.targets, h.TargetActor)
			}), target, tt.limit)
			got, err := env.store.HuntsByTargets(ctx, tt.targets, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "hunts", ids(got, sessionID), ids(want, sessionID))
		})
	}
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
