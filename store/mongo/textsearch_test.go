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
