package mongo

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/unicode/norm"
)

// TestLatinVariants checks the diacritic table against Unicode: every
// letter of Latin-1 Supplement and Latin Extended-A (and ș ț) that
// decomposes to an ASCII letter plus marks folds to that letter, and the
// table lists nothing else.
func TestLatinVariants(t *testing.T) {
	base := func(r rune) (rune, bool) {
		d := []rune(norm.NFD.String(string(r)))
		if len(d) < 2 || d[0] > unicode.MaxASCII || !unicode.IsLetter(d[0]) {
			return 0, false
		}
		return unicode.ToLower(d[0]), true
	}
	runes := []rune("ȘșȚț")
	for r := rune(0xC0); r <= 0x17F; r++ {
		runes = append(runes, r)
	}
	for _, r := range runes {
		if b, ok := base(r); ok && foldRune(r) != b {
			t.Errorf("foldRune(%q) = %q, want %q", r, foldRune(r), b)
		}
	}
	for b := 'a'; b <= 'z'; b++ {
		for _, r := range latinVariants(b) {
			if got, ok := base(r); !ok || got != b {
				t.Errorf("latinVariants(%q) lists %q, which decomposes to %q", b, r, got)
			}
		}
	}
}

func TestParseSearch(t *testing.T) {
	tests := []struct {
		text string
		want textSearch
	}{
		{"Perez  Sepulveda", textSearch{terms: []string{"perez", "sepulveda"}}},
		{"JOSÉ Pérez-Sepúlveda", textSearch{terms: []string{"jose", "perez", "sepulveda"}}},
		{"Sepu\u0301lveda", textSearch{terms: []string{"sepulveda"}}},
		{"JOSE\u0301 -Nu\u0301n\u0303ez", textSearch{terms: []string{"jose"}, negated: []string{"nunez"}}},
		{"\"Jose\u0301 Pe\u0301rez\"", textSearch{phrases: [][]string{{"jose", "perez"}}}},
		{"Hu\u031Bng ΣΟΦΊΑ", textSearch{terms: []string{"hưng", "σοφία"}}}, // diacritics latinVariants does not know stay, composed
		{"x\u0301y \u0301z", textSearch{terms: []string{"xy", "z"}}},       // marks that compose with nothing go
		{"Núñez, Ibáñez; (Oyarzún)", textSearch{terms: []string{"nunez", "ibanez", "oyarzun"}}},
		{"operations executed during interrogating", textSearch{terms: []string{"operation", "execut", "during", "interrogat"}}},
		{"press status is", textSearch{terms: []string{"press", "status", "is"}}},
		{`"Pérez Sepúlveda" chile`, textSearch{terms: []string{"chile"}, phrases: [][]string{{"perez", "sepulveda"}}}},
		{`"unclosed phrase`, textSearch{phrases: [][]string{{"unclosed", "phrase"}}}},
		{`perez -sepulveda -"x"`, textSearch{terms: []string{"perez"}, negated: []string{"sepulveda"}, phrases: [][]string{{"x"}}}},
		{"-Pérez-Sepúlveda", textSearch{negated: []string{"perez", "sepulveda"}}},
		{"a a A á", textSearch{terms: []string{"a"}}},
		{".* $gt {} [", textSearch{terms: []string{"gt"}}},
		{"1 2 3 4 5 6 7 8 9 10", textSearch{terms: []string{"1", "2", "3", "4", "5", "6", "7", "8"}}},
		{strings.Repeat("x", 40), textSearch{terms: []string{strings.Repeat("x", maxSearchTermLen)}}},
		{strings.Repeat(strings.Repeat("y", 30)+"z ", 3) + strings.Repeat("w", 20) + " v", // maxSearchWordRunes cuts "w…", drops "v"
			textSearch{terms: []string{strings.Repeat("y", 30) + "z", strings.Repeat("w", maxSearchWordRunes-3*31)}}},
		{"   ", textSearch{}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := parseSearch(tt.text); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseSearch(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

// TestSearchRegex runs the patterns through Go's regexp as the embedded
// database does; they carry no options.
func TestSearchRegex(t *testing.T) {
	compile := func(re bson.D) *regexp.Regexp {
		if len(re) != 1 {
			t.Fatalf("regex condition %v has options", re)
		}
		return regexp.MustCompile(re[0].Value.(string))
	}
	tests := []struct {
		name  string
		re    bson.D
		match []string
		miss  []string
	}{
		{"accents both ways", anyWordRegex([]string{"sepulveda"}),
			[]string{"José Pérez Sepúlveda", "SEPÚLVEDA", "Sepulveda", "x-Sepúlvedas"},
			[]string{"Sepúlveda"[:3] + "x", "Xsepulveda", "Sep úlveda"}},
		{"ñ", anyWordRegex([]string{"nunez"}), []string{"Núñez", "NÚÑEZ", "nunez"}, []string{"Nuñes"}},
		{"any word", anyWordRegex([]string{"perez", "ibanez"}), []string{"Ibáñez", "Pérez"}, []string{"Lopez"}},
		{"one letter is a whole word", anyWordRegex([]string{"j"}), []string{"J. Pérez", "Pérez J", "Ana j"}, []string{"José"}},
		{"metacharacters are literal", anyWordRegex([]string{"a.b"}), []string{"A.B"}, []string{"axb"}},
		{"case of other scripts", anyWordRegex([]string{"σοφια"}), []string{"ΣΟΦΙΑ", "σοφια"}, []string{"σοφ"}},
		{"separators", anyWordRegex([]string{"perez"}),
			[]string{"(Pérez)", "“Pérez”", "x—Pérez", "x/perez", "x\u00a0Perez", "x\tPEREZ"}, []string{"xPérez", "2Perez", "ñPerez"}},
		{"phrase", phraseRegex([]string{"perez", "sepulveda"}),
			[]string{"José Pérez Sepúlveda", "pérez-sepúlveda", "Perez, Sepulvedas"},
			[]string{"Sepúlveda Pérez", "Pérez Contreras Sepúlveda", "perezsepulveda"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := compile(tt.re)
			for _, s := range tt.match {
				if !re.MatchString(s) {
					t.Errorf("%s does not match %q", re, s)
				}
			}
			for _, s := range tt.miss {
				if re.MatchString(s) {
					t.Errorf("%s matches %q", re, s)
				}
			}
		})
	}
}

// matchesFilter evaluates a search filter on a document of string fields
// as the embedded database does, with Go's regexp: the filter's operators
// are $or, $and, $nor, $regex without options and, in matchNothing,
// $exists: false on the _id every document has.
func matchesFilter(t *testing.T, f bson.D, doc map[string]string) bool {
	t.Helper()
	for _, e := range f {
		var ok bool
		switch e.Key {
		case "$or", "$and", "$nor":
			subs, n := e.Value.(bson.A), 0
			for _, sub := range subs {
				if matchesFilter(t, sub.(bson.D), doc) {
					n++
				}
			}
			ok = e.Key == "$or" && n > 0 || e.Key == "$and" && n == len(subs) || e.Key == "$nor" && n == 0
		default:
			cond := e.Value.(bson.D)
			switch {
			case len(cond) == 1 && cond[0].Key == "$regex":
				v, has := doc[e.Key]
				ok = has && regexp.MustCompile(cond[0].Value.(string)).MatchString(v)
			case e.Key == "_id" && reflect.DeepEqual(cond, bson.D{{Key: "$exists", Value: false}}):
			default:
				t.Fatalf("unexpected condition %v", e)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestSearchDecomposed checks that search matches as MongoDB's $text
// (diacritic-insensitive in text index version 3) does whether stored text
// is precomposed (NFC) or decomposed (NFD, a base letter then combining
// marks), and whether the query is precomposed, decomposed or without
// diacritics: every case runs in all six combinations.
func TestSearchDecomposed(t *testing.T) {
	plain := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
	}
	tests := []struct {
		stored string // precomposed; also stored decomposed
		query  string // precomposed; also asked decomposed and, unless exact, plain
		exact  bool   // the plain query is not asked: its diacritic is not one latinVariants knows
		want   bool
	}{
		{"José Pérez Sepúlveda", "jose", false, true},
		{"José Pérez Sepúlveda", "josé", false, true},
		{"José Pérez Sepúlveda", "pérez", false, true}, // mark inside the word
		{"José Pérez Sepúlveda", "SEPÚLVEDAS", false, true},
		{"Manuel Núñez Oyarzún", "nunez oyarzun", false, true},
		{"José Pérez Sepúlveda", "pereza", false, false},
		{"José Pérez Sepúlveda", "ulveda", false, false}, // a mark does not start a word
		{"JoséLuis Pérez", "luis", false, false},         // nor does a letter after a mark
		{"José-Luis Pérez", "luis", false, true},         // a separator after a mark does
		{"Émile Ávila", "emile avila", false, true},      // words that begin accented
		{"Émile Ávila", "ÉMILE", false, true},
		{"Vamos à Lima", "a", false, true}, // one letter, a whole word with its mark
		{"Émile Ávila", "a", false, false}, // one letter, not a prefix
		{"Émile Ávila", "e", false, false},
		{"José Pérez Sepúlveda", `"jose perez"`, false, true},
		{"José Pérez Sepúlveda", `"perez sepulveda" "josé"`, false, true},
		{"José Pérez Sepúlveda", `"Pérez José"`, false, false},
		{"José Pérez Sepúlveda", `"jose sepulveda"`, false, false},
		{"José Pérez Sepúlveda", "perez -núñez", false, true},
		{"José Pérez Sepúlveda", "perez -sepúlveda", false, false},
		{"José Pérez Sepúlveda", `"jose perez" -josé`, false, false},
		{"José Pérez Sepúlveda", "-josé", false, false},
		{"Trần Hưng Đạo", "hưng", true, true},
		{"Trần Hưng Đạo", "Trần Hưng", true, true},
		{"Σοφία", "σοφία", true, true},
	}
	for _, tt := range tests {
		queries := []string{tt.query, norm.NFD.String(tt.query)}
		if !tt.exact {
			queries = append(queries, plain(tt.query))
		}
		for _, stored := range []string{tt.stored, norm.NFD.String(tt.stored)} {
			for _, q := range queries {
				f, ok := searchFilter(q)
				if !ok {
					t.Fatalf("searchFilter(%+q) does not filter", q)
				}
				if got := matchesFilter(t, f, map[string]string{"full_name": stored}); got != tt.want {
					t.Errorf("search %+q in %+q: %v, want %v", q, stored, got, tt.want)
				}
			}
		}
	}
}

// TestSearchFilterBounded checks that the longest pattern hostile text can
// produce stays small: the embedded database compiles it per document.
func TestSearchFilterBounded(t *testing.T) {
	f, ok := searchFilter(strings.Repeat("ñ", 33) + " " + strings.Repeat("á ", 100) + strings.Repeat(`"é"`, 100))
	if !ok {
		t.Fatal("not ok")
	}
	raw, err := bson.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 8<<10 {
		t.Errorf("filter of hostile text is %d bytes", len(raw))
	}
	if f, ok := searchFilter(" .* "); !ok || !reflect.DeepEqual(f, matchNothing) {
		t.Errorf("text without words: %v, %v; want the match-nothing filter", f, ok)
	}
	if _, ok := searchFilter(" \t "); ok {
		t.Error("blank text filters")
	}
}

// BenchmarkSearchRegex measures what the embedded database pays per
// document and field for the costliest patterns hostile text can produce:
// compiling the pattern, then running it over a field. "unmarked" is the
// reference maxSearchWordRunes was chosen against: the patterns of 8 words
// of 32 runes without combiningMarks, as they were before decomposed text
// was matched.
func BenchmarkSearchRegex(b *testing.B) {
	var ws []string // words of letters with many variants, no common prefix
	for _, r := range "aeiouycz"[:maxSearchTerms] {
		ws = append(ws, string(r)+strings.Repeat("u", maxSearchTermLen-1))
	}
	words := strings.Join(ws, " ")
	field := strings.Repeat("Núñez Sepu\u0301lveda executed raids in Valparaíso; ", 8)
	unmarked := func(re bson.D) bson.D {
		return searchRegex(strings.ReplaceAll(re[0].Value.(string), combiningMarks, ""))
	}
	for _, bb := range []struct {
		name string
		re   bson.D
	}{
		{"terms", anyWordRegex(parseSearch(words).terms)},
		{"phrase", phraseRegex(parseSearch(`"` + words + `"`).phrases[0])},
		{"terms-unmarked", unmarked(anyWordRegex(ws))},
		{"phrase-unmarked", unmarked(phraseRegex(ws))},
	} {
		pattern := bb.re[0].Value.(string)
		b.Run(bb.name+"/compile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				regexp.MustCompile(pattern)
			}
		})
		re := regexp.MustCompile(pattern)
		b.Run(bb.name+"/match", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				re.MatchString(field)
			}
		})
	}
}
