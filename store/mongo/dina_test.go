package mongo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

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

// searchWords folds text (lower case, no combining marks after Unicode
// decomposition) and splits it at every rune that is neither a letter nor
// a number.
func searchWords(text string) []string {
	text = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return unicode.ToLower(r)
	}, norm.NFD.String(text))
	return strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// searchMatches is the store's search for text without phrases,
// negations or English suffixes: any of the first 8 words of the first 200
// runes of query, cut to 32 runes and to 112 in all, starts a word of one
// of texts; a word of one rune must be a whole word.
func searchMatches(query string, texts ...string) bool {
	q := []rune(query)
	terms := searchWords(string(q[:min(len(q), 200)]))
	left := 112
	for _, term := range terms[:min(len(terms), 8)] {
		n := min(len([]rune(term)), 32, left)
		left -= n
		term = string([]rune(term)[:n])
		for _, text := range texts {
			for _, w := range searchWords(text) {
				if w == term || len([]rune(term)) > 1 && strings.HasPrefix(w, term) {
					return true
				}
			}
		}
	}
	return false
}

func expectedDINA(f store.DINAAgentFilter, s store.DINASort) []store.DINAAgent {
	keep := func(a store.DINAAgent) bool {
		for _, c := range []struct{ want, have string }{
			{f.Category, a.Category}, {f.Region, a.Region}, {f.Brigade, a.Brigade}, {f.LegalStatus, a.LegalStatus},
			{f.Rank, a.Rank}, {f.VerificationStatus, a.VerificationStatus},
		} {
			if c.want != "" && c.want != c.have {
				return false
			}
		}
		return strings.TrimSpace(f.Search) == "" ||
			searchMatches(f.Search, append([]string{a.FullName, a.BiographicalNotes}, a.Aliases...)...)
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

// TestSearchDINAAgentsLikeText checks the $text-like semantics on agents
// with accented Spanish names (the seed's are ASCII), one of them stored
// decomposed (NFD): any word, ignoring case and diacritics both ways and
// whether text and query are precomposed or decomposed, word prefixes,
// phrases and negations, in searchDINAAgents and in getDINAAgents' filter.
func TestSearchDINAAgentsLikeText(t *testing.T) {
	ctx := testContext(t)
	const region = "Zzregion búsqueda"
	agents := []store.DINAAgent{
		{AgentID: "dina-test-search-jps", FullName: "José Pérez Sepúlveda", Aliases: []string{"El Ñato"},
			BiographicalNotes: "Executed raids in Valparaíso."},
		{AgentID: "dina-test-search-mno", FullName: "Manuel Núñez Oyarzún", BiographicalNotes: "Interrogation of prisoners."},
		{AgentID: "dina-test-search-pjz", FullName: "Perez J. Zzyzx", BiographicalNotes: "Plain ASCII record."},
		{AgentID: "dina-test-search-rim", FullName: norm.NFD.String("Ramón Ibáñez Müller"), Aliases: []string{norm.NFD.String("El Peñón")},
			BiographicalNotes: norm.NFD.String("Dirigió la represión en Concepción.")},
	}
	for _, a := range agents {
		a.Rank, a.Category, a.Region = "Major", store.DINACategoryOther, region
		if _, err := env.store.CreateDINAAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = env.store.DeleteDINAAgent(context.Background(), a.AgentID) })
	}
	const jps, mno, pjz, rim = "dina-test-search-jps", "dina-test-search-mno", "dina-test-search-pjz", "dina-test-search-rim"
	ours := func(as []store.DINAAgent) []string {
		var out []string
		for _, a := range as {
			if strings.HasPrefix(a.AgentID, "dina-test-search-") {
				out = append(out, a.AgentID)
			}
		}
		return out
	}
	tests := []struct {
		query string
		want  []string // in full_name order
	}{
		{"Sepulveda", []string{jps}},
		{"sepúlveda", []string{jps}},
		{"SEPULVEDA", []string{jps}},
		{"Sepu\u0301lveda", []string{jps}}, // decomposed input
		{"Perez Sepulveda", []string{jps, pjz}},
		{"Pérez", []string{jps, pjz}},
		{"nunez", []string{mno}},
		{"NÚÑEZ oyarzun", []string{mno}},
		{"nato", []string{jps}},       // alias, ñ
		{"valparaiso", []string{jps}}, // notes
		{"Sep", []string{jps}},        // word prefix
		{"ulveda", nil},               // not inside a word
		{"raid", []string{jps}},
		{"interrogations", []string{mno}}, // plural stripped
		{"executing", []string{jps}},      // -ing stripped
		{"j", []string{pjz}},              // one letter: a whole word, not José
		{`"Perez Sepulveda"`, []string{jps}},
		{`"Sepulveda Perez"`, nil},
		{`"perez sepulveda" nunez`, []string{jps}}, // a phrase narrows, other words do not widen
		{"perez -sepulveda", []string{pjz}},
		{"-perez", nil},
		{"p*rez .*", nil},
		// Decomposed queries on precomposed text.
		{"Pe\u0301rez", []string{jps, pjz}},
		{"\"Jose\u0301 Pe\u0301rez\"", []string{jps}},
		{"perez -Sepu\u0301lveda", []string{pjz}},
		// Any query on decomposed text.
		{"ramon", []string{rim}},
		{"Ramón", []string{rim}},
		{"Ramo\u0301n", []string{rim}},
		{"ibanez muller", []string{rim}},
		{"IBÁÑEZ", []string{rim}},
		{"penon", []string{rim}},      // alias
		{"represion", []string{rim}},  // notes
		{"concepción", []string{rim}}, // notes, last word before "."
		{"ez", nil},                   // after a mark: not a word start
		{`"ramon ibanez"`, []string{rim}},
		{`"Ramón Müller"`, nil},
		{"ramon -müller", nil},
		{"nunez ramon -represión", []string{mno}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := env.store.SearchDINAAgents(ctx, tt.query, 50)
			if err != nil {
				t.Fatal(err)
			}
			equalIDs(t, "searchDINAAgents", ours(got), tt.want)
			page, total, err := env.store.DINAAgents(ctx, store.DINAAgentFilter{Search: tt.query, Region: region}, store.DINASort{}, 1, 20)
			if err != nil {
				t.Fatal(err)
			}
			if total != len(tt.want) {
				t.Errorf("getDINAAgents filter: total %d, want %d", total, len(tt.want))
			}
			equalIDs(t, "getDINAAgents filter", ids(page, agentID), tt.want)
		})
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
