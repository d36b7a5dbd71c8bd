package mongo_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/neko-defense/neko/store"
)

func statusHas(status, words string) bool {
	return strings.Contains(strings.ToUpper(status), words)
}

func TestPerpetrators(t *testing.T) {
	ctx := testContext(t)
	got, err := env.store.Perpetrators(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := sorted(env.data.Perpetrators, func(a, b store.Perpetrator) int { return compareStrings(a.FullName, b.FullName) })
	name := func(p store.Perpetrator) string { return p.FullName }
	equalIDs(t, "perpetrators", ids(got, name), ids(want, name))
	for _, p := range got {
		if p.LegalStatus == nil || p.LegalStatus.CurrentStatus != p.Status {
			t.Errorf("%s: legalStatus %+v", p.FullName, p.LegalStatus)
		}
		if _, ok := p.Timeline.([]any); !ok {
			t.Errorf("%s: timeline %T, want []any", p.FullName, p.Timeline)
		}
	}
}

func TestDinaStats(t *testing.T) {
	got, err := env.store.DinaStats(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var want store.DinaStats
	for _, p := range env.data.Perpetrators {
		want.Total++
		if p.LegalStatus != nil && p.LegalStatus.Convicted {
			want.Convicted++
		}
		if statusHas(p.Status, "AT LARGE") {
			want.AtLarge++
		}
		if p.Status == "CONVICTED - IMPRISONED" {
			want.Imprisoned++
		}
		if statusHas(p.Status, "DECEASED") {
			want.Deceased++
		}
		if statusHas(p.Status, "NEVER PROSECUTED") {
			want.NeverProsecuted++
		}
	}
	want.Unprosecuted = want.Total - want.Convicted
	if got != want {
		t.Errorf("DinaStats = %+v, want %+v", got, want)
	}
	if want.AtLarge == 0 || want.Imprisoned == 0 || want.Deceased == 0 || want.NeverProsecuted == 0 || want.Convicted == 0 {
		t.Errorf("seed does not exercise every count: %+v", want)
	}
}

// allAgentMatches is reference §3.7 (database filter and in-memory pass) in
// Go.
func allAgentMatches(a store.AllAgent, kind string) bool {
	convicted := a.LegalStatus != nil && a.LegalStatus.Convicted
	switch kind {
	case store.AllAgentsUnprosecuted:
		return !convicted || statusHas(a.Status, "UNPROSECUTED")
	case store.AllAgentsAtLarge:
		return statusHas(a.Status, "AT LARGE")
	case store.AllAgentsConvicted:
		return convicted
	case store.AllAgentsDeceased:
		return statusHas(a.Status, "DECEASED")
	case store.AllAgentsNeverProsecuted:
		return statusHas(a.Status, "NEVER PROSECUTED")
	}
	return true
}

func TestAllAgents(t *testing.T) {
	ctx := testContext(t)
	name := func(a store.AllAgent) string { return a.FullName }
	for _, kind := range []string{"", store.AllAgentsUnprosecuted, store.AllAgentsAtLarge, store.AllAgentsConvicted,
		store.AllAgentsDeceased, store.AllAgentsNeverProsecuted, "bogus"} {
		t.Run("filter "+kind, func(t *testing.T) {
			want := filter(env.data.AllAgents, func(a store.AllAgent) bool { return allAgentMatches(a, kind) })
			if len(want) == 0 || (kind != "" && kind != "bogus" && len(want) == len(env.data.AllAgents)) {
				t.Fatalf("seed does not exercise filter %q: %d matches", kind, len(want))
			}
			for _, page := range []int{1, 2, 99} {
				got, total, err := env.store.AllAgents(ctx, kind, page, 30)
				if err != nil {
					t.Fatal(err)
				}
				if total != len(want) {
					t.Errorf("page %d: total %d, want %d", page, total, len(want))
				}
				lo := min((page-1)*30, len(want))
				equalIDs(t, "page", ids(got, name), ids(want[lo:min(lo+30, len(want))], name))
			}
		})
	}
	t.Run("clamps", func(t *testing.T) {
		got, _, err := env.store.AllAgents(ctx, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 || got[0].AgentNumber != 1 {
			t.Errorf("page 0 limit 1000: %d agents starting at #%d, want 100 from #1", len(got), got[0].AgentNumber)
		}
	})
}

func agentID(a store.DINAAgent) string { return a.AgentID }

// dinaSortKey is the stored value a DINASort field sorts on.
func dinaSortKey(a store.DINAAgent, field string) string {
	switch field {
	case store.DINASortCategory:
		return a.Category
	case store.DINASortLegalStatus:
		return a.LegalStatus
	case store.DINASortRank:
		return a.Rank
	case store.DINASortCreatedAt:
		return a.CreatedAt.UTC().Format("2006-01-02T15:04:05.000")
	}
	return a.FullName
}

func expectedDINA(f store.DINAAgentFilter, s store.DINASort) []store.DINAAgent {
	search := regexp.MustCompile("(?i)" + regexp.QuoteMeta(strings.TrimSpace(f.Search)))
	keep := func(a store.DINAAgent) bool {
		for _, c := range []struct{ want, have string }{
			{f.Category, a.Category}, {f.Region, a.Region}, {f.Brigade, a.Brigade}, {f.LegalStatus, a.LegalStatus},
			{f.Rank, a.Rank}, {f.VerificationStatus, a.VerificationStatus},
		} {
			if c.want != "" && c.want != c.have {
				return false
			}
		}
		if strings.TrimSpace(f.Search) == "" {
			return true
		}
		if search.MatchString(a.FullName) || search.MatchString(a.BiographicalNotes) {
			return true
		}
		for _, al := range a.Aliases {
			if search.MatchString(al) {
				return true
			}
		}
		return false
	}
	return sorted(filter(env.data.DINAAgents, keep), func(a, b store.DINAAgent) int {
		c := compareStrings(dinaSortKey(a, s.Field), dinaSortKey(b, s.Field))
		if s.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return compareStrings(a.AgentID, b.AgentID)
	})
}

func TestDINAAgents(t *testing.T) {
	ctx := testContext(t)
	sample := env.data.DINAAgents[4]
	tests := []struct {
		name string
		f    store.DINAAgentFilter
		s    store.DINASort
	}{
		{"default", store.DINAAgentFilter{}, store.DINASort{}},
		{"category desc", store.DINAAgentFilter{Category: store.DINACategoryStateStaff}, store.DINASort{Field: store.DINASortFullName, Desc: true}},
		{"legal and verification", store.DINAAgentFilter{LegalStatus: store.LegalStatusConvicted, VerificationStatus: store.VerificationVerified}, store.DINASort{Field: store.DINASortCreatedAt, Desc: true}},
		{"region brigade", store.DINAAgentFilter{Region: sample.Region, Brigade: sample.Brigade}, store.DINASort{Field: store.DINASortRank}},
		{"rank by category", store.DINAAgentFilter{Rank: sample.Rank}, store.DINASort{Field: store.DINASortCategory}},
		{"search notes", store.DINAAgentFilter{Search: "operation nightfall"}, store.DINASort{Field: store.DINASortLegalStatus}},
		{"search name and filter", store.DINAAgentFilter{Search: sample.FullName[:4], Category: sample.Category}, store.DINASort{}},
		{"search regex text is literal", store.DINAAgentFilter{Search: ".*"}, store.DINASort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := expectedDINA(tt.f, tt.s)
			for _, page := range []int{1, 2} {
				got, total, err := env.store.DINAAgents(ctx, tt.f, tt.s, page, 20)
				if err != nil {
					t.Fatal(err)
				}
				if total != len(want) {
					t.Errorf("total %d, want %d", total, len(want))
				}
				lo := min((page-1)*20, len(want))
				equalIDs(t, "page", ids(got, agentID), ids(want[lo:min(lo+20, len(want))], agentID))
			}
		})
	}
	t.Run("invalid sort", func(t *testing.T) {
		_, _, err := env.store.DINAAgents(ctx, store.DINAAgentFilter{}, store.DINASort{Field: "$where"}, 1, 10)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("err = %v, want ErrInvalid", err)
		}
	})
}

func TestSearchDINAAgents(t *testing.T) {
	ctx := testContext(t)
	withAlias := env.data.DINAAgents[0]
	for _, a := range env.data.DINAAgents {
		if len(a.Aliases) > 0 {
			withAlias = a
			break
		}
	}
	for _, q := range []string{"SYNTHETIC", withAlias.Aliases[0][3:], "brigada", "(unbalanced[", strings.Repeat("x", 500), "  "} {
		t.Run(q[:min(len(q), 20)], func(t *testing.T) {
			got, err := env.store.SearchDINAAgents(ctx, q, 50)
			if err != nil {
				t.Fatal(err)
			}
			var want []store.DINAAgent
			if strings.TrimSpace(q) != "" {
				want = firstN(expectedDINA(store.DINAAgentFilter{Search: q[:min(len(q), 200)]}, store.DINASort{}), 50)
			}
			equalIDs(t, "search", ids(got, agentID), ids(want, agentID))
		})
	}
	got, err := env.store.SearchDINAAgents(ctx, "synthetic", 500)
	if err != nil || len(got) != 50 {
		t.Errorf("limit 500 gave %d agents (%v), want 50", len(got), err)
	}
}

func TestDINAAgent(t *testing.T) {
	ctx := testContext(t)
	want := env.data.DINAAgents[1]
	got, err := env.store.DINAAgent(ctx, want.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FullName != want.FullName || !got.CreatedAt.Equal(want.CreatedAt) || len(got.DataSources) != 1 ||
		got.DataSources[0].Confidence != want.DataSources[0].Confidence || got.Category != want.Category ||
		len(got.Convictions) != len(want.Convictions) || got.VerificationStatus != want.VerificationStatus {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := env.store.DINAAgent(ctx, "dina-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing agent: err = %v, want ErrNotFound", err)
	}
}

func TestDINAStatistics(t *testing.T) {
	got, err := env.store.DINAStatistics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	counts := func(key func(store.DINAAgent) string) []store.KeyCount {
		m := map[string]int{}
		for _, a := range env.data.DINAAgents {
			if k := key(a); k != "" {
				m[k]++
			}
		}
		var out []store.KeyCount
		for k, n := range m {
			out = append(out, store.KeyCount{Key: k, Count: n})
		}
		return sorted(out, func(a, b store.KeyCount) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return compareStrings(a.Key, b.Key)
		})
	}
	want := store.DINAStatistics{
		Total:         len(env.data.DINAAgents),
		ByCategory:    counts(func(a store.DINAAgent) string { return a.Category }),
		ByLegalStatus: counts(func(a store.DINAAgent) string { return a.LegalStatus }),
		ByRegion:      counts(func(a store.DINAAgent) string { return a.Region }),
		ByBrigade:     counts(func(a store.DINAAgent) string { return a.Brigade }),
	}
	for _, a := range env.data.DINAAgents {
		switch a.VerificationStatus {
		case store.VerificationVerified:
			want.Verified++
		case store.VerificationPending:
			want.Pending++
		}
	}
	if got.Total != want.Total || got.Verified != want.Verified || got.Pending != want.Pending {
		t.Errorf("counts %d/%d/%d, want %d/%d/%d", got.Total, got.Verified, got.Pending, want.Total, want.Verified, want.Pending)
	}
	if len(want.ByCategory) != 6 || len(want.ByLegalStatus) != 7 {
		t.Errorf("seed lacks enum values: %v %v", want.ByCategory, want.ByLegalStatus)
	}
	for _, c := range []struct {
		name      string
		got, want []store.KeyCount
	}{
		{"category", got.ByCategory, want.ByCategory}, {"legal", got.ByLegalStatus, want.ByLegalStatus},
		{"region", got.ByRegion, want.ByRegion}, {"brigade", got.ByBrigade, want.ByBrigade},
	} {
		if !equalKeyCounts(c.got, c.want) {
			t.Errorf("by %s:\n got  %v\n want %v", c.name, c.got, c.want)
		}
	}
}

func equalKeyCounts(a, b []store.KeyCount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
