package mongo_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

// expectedPatterns is the database order: usage_count desc, last_used desc
// (missing values last), pattern_id asc.
func expectedPatterns(keep func(store.CasePattern) bool) []store.CasePattern {
	usage := func(p store.CasePattern) int {
		if p.UsageCount == nil {
			return -1
		}
		return *p.UsageCount
	}
	last := func(p store.CasePattern) time.Time {
		if p.LastUsed == nil {
			return time.Time{}
		}
		return *p.LastUsed
	}
	return sorted(filter(env.data.CasePatterns, keep), func(a, b store.CasePattern) int {
		if c := usage(b) - usage(a); c != 0 {
			return c
		}
		if c := compareTimes(last(b), last(a)); c != 0 {
			return c
		}
		return compareStrings(a.PatternID, b.PatternID)
	})
}

func patternID(p store.CasePattern) string { return p.PatternID }

func TestCasePatterns(t *testing.T) {
	ctx := testContext(t)
	for _, r := range []string{"", "high", "medium", "low"} {
		t.Run("reusability "+r, func(t *testing.T) {
			want := expectedPatterns(func(p store.CasePattern) bool { return r == "" || p.Reusability == r })
			got, err := env.store.CasePatterns(ctx, r, 1000)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "patterns", ids(got, patternID), ids(want, patternID))
		})
	}
	t.Run("one and related", func(t *testing.T) {
		want := env.data.CasePatterns[slices.IndexFunc(env.data.CasePatterns, func(p store.CasePattern) bool { return len(p.RelatedPatterns) > 1 })]
		got, err := env.store.CasePattern(ctx, want.PatternID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != want.Title || !slices.Equal(got.RelatedPatterns, want.RelatedPatterns) || !equalInt(got.UsageCount, want.UsageCount) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		related, err := env.store.CasePatternsByIDs(ctx, got.RelatedPatterns)
		if err != nil {
			t.Fatal(err)
		}
		sameSet(t, "related", ids(related, patternID), slices.Compact(sorted(got.RelatedPatterns, compareStrings)))
		_, err = env.store.CasePattern(ctx, "PAT-NONE")
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing pattern: err = %v, want ErrNotFound", err)
		}
	})
}

func TestCasePatternStats(t *testing.T) {
	got, err := env.store.CasePatternStats(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	freq := map[string]int{}
	high := 0
	for _, p := range env.data.CasePatterns {
		freq[p.Category]++
		if p.Reusability == "high" {
			high++
		}
	}
	var cats []string
	for c := range freq {
		cats = append(cats, c)
	}
	cats = sorted(cats, func(a, b string) int {
		if freq[a] != freq[b] {
			return freq[b] - freq[a]
		}
		return compareStrings(a, b)
	})
	if got.Total != len(env.data.CasePatterns) || got.HighReusability != high {
		t.Errorf("total %d high %d, want %d %d", got.Total, got.HighReusability, len(env.data.CasePatterns), high)
	}
	equalIDs(t, "top categories", got.TopCategories, firstN(cats, 5))
	equalIDs(t, "most used", ids(got.MostUsed, patternID),
		ids(firstN(expectedPatterns(func(store.CasePattern) bool { return true }), 10), patternID))
}
