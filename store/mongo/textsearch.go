package mongo

import (
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/unicode/norm"
)

// Bounds on search text, which comes from anonymous clients: at most
// maxSearchLen runes are read, at most maxSearchTerms words (terms, phrase
// words and negations together) are kept, each cut to maxSearchTermLen
// runes, and at most maxSearchWordRunes runes of words in all (the word
// that reaches it is cut, later ones are dropped). They bound the size of
// the regular expressions, which the embedded database compiles once per
// document and field. The combiningMarks between letters almost double
// the cost of a rune; maxSearchWordRunes keeps the costliest pattern no
// dearer than 8 words of 32 runes were without them (BenchmarkSearchRegex).
const (
	maxSearchTerms     = 8
	maxSearchTermLen   = 32
	maxSearchWordRunes = 112
)

// searchFields are the fields a search reads: the two of the original's text
// index, and the aliases neko has always searched.
var searchFields = [...]string{"full_name", "biographical_notes", "aliases"}

// textSearch is parsed search text, every word folded (lower case, no
// diacritics). See searchFilter for what it matches.
type textSearch struct {
	terms   []string   // any may occur; stemmed
	phrases [][]string // all must occur; words in order
	negated []string   // none may occur
}

// parseSearch splits text into words at every rune that is neither a
// letter nor a number. A double-quoted run is a phrase (an unclosed quote
// runs to the end); a whitespace-separated token starting with '-' outside a
// phrase negates its words. The text is first composed (NFC), so decomposed
// input folds like precomposed input; combining marks left over, which
// compose with nothing, are dropped.
func parseSearch(text string) textSearch {
	var (
		ts       textSearch
		word     []rune
		phrase   []string
		inPhrase bool
		negToken bool // the current whitespace-separated token began with '-'
		tokStart = true
		budget   = maxSearchTerms
		runes    = maxSearchWordRunes // left for words
	)
	flush := func() {
		if len(word) == 0 || budget == 0 || runes == 0 {
			word = word[:0]
			return
		}
		n := min(len(word), maxSearchTermLen, runes)
		w := string(word[:n])
		word = word[:0]
		budget--
		runes -= n
		switch {
		case inPhrase:
			phrase = append(phrase, w)
		case negToken:
			if !slices.Contains(ts.negated, w) {
				ts.negated = append(ts.negated, w)
			}
		default:
			if w = stem(w); !slices.Contains(ts.terms, w) {
				ts.terms = append(ts.terms, w)
			}
		}
	}
	endPhrase := func() {
		if len(phrase) > 0 {
			ts.phrases = append(ts.phrases, phrase)
		}
		phrase = nil
	}
	in := []rune(text)
	for _, r := range norm.NFC.String(string(in[:min(len(in), maxSearchLen)])) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if tokStart {
				negToken, tokStart = false, false
			}
			word = append(word, foldRune(r))
			continue
		}
		flush()
		switch {
		case r == '"':
			if inPhrase {
				endPhrase()
			}
			inPhrase, tokStart, negToken = !inPhrase, true, false
		case unicode.IsSpace(r):
			tokStart, negToken = true, false
		case r == '-' && tokStart && !inPhrase:
			negToken, tokStart = true, false
		default:
			tokStart = false
		}
	}
	flush()
	endPhrase()
	return ts
}

// stem strips a plural -s, -ed or -ing from a folded word of English, a
// light stand-in for the stemming of $text. Words match by prefix, so a
// stem only widens what a word finds ("operations" also finds
// "operation", "executed" also "execution").
func stem(w string) string {
	n := len([]rune(w))
	switch {
	case n >= 7 && strings.HasSuffix(w, "ing"):
		return w[:len(w)-3]
	case n >= 5 && strings.HasSuffix(w, "ed"):
		return w[:len(w)-2]
	case n >= 4 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

// latinVariants lists, for each ASCII letter that has them, the letters of
// Latin-1 Supplement and Latin Extended-A (plus Romanian ș and ț) that
// decompose to it with a diacritic, in both cases. A test checks it against
// Unicode decomposition.
func latinVariants(base rune) string {
	switch base {
	case 'a':
		return "ÀÁÂÃÄÅàáâãäåĀāĂăĄą"
	case 'c':
		return "ÇçĆćĈĉĊċČč"
	case 'd':
		return "Ďď"
	case 'e':
		return "ÈÉÊËèéêëĒēĔĕĖėĘęĚě"
	case 'g':
		return "ĜĝĞğĠġĢģ"
	case 'h':
		return "Ĥĥ"
	case 'i':
		return "ÌÍÎÏìíîïĨĩĪīĬĭĮįİ"
	case 'j':
		return "Ĵĵ"
	case 'k':
		return "Ķķ"
	case 'l':
		return "ĹĺĻļĽľ"
	case 'n':
		return "ÑñŃńŅņŇň"
	case 'o':
		return "ÒÓÔÕÖòóôõöŌōŎŏŐő"
	case 'r':
		return "ŔŕŖŗŘř"
	case 's':
		return "ŚśŜŝŞşŠšȘș"
	case 't':
		return "ŢţŤťȚț"
	case 'u':
		return "ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų"
	case 'w':
		return "Ŵŵ"
	case 'y':
		return "ÝýÿŶŷŸ"
	case 'z':
		return "ŹźŻżŽž"
	}
	return ""
}

// foldRune lower-cases r and removes its diacritic if latinVariants knows
// it. A letter with another diacritic keeps it; see letterPattern.
func foldRune(r rune) rune {
	if r >= 0xC0 {
		for base := 'a'; base <= 'z'; base++ {
			if strings.ContainsRune(latinVariants(base), r) {
				return base
			}
		}
	}
	return unicode.ToLower(r)
}

// combiningMarks matches the combining diacritical marks (U+0300-U+036F)
// that follow a base letter in decomposed (NFD) text, such as the U+0301 of
// "Jose\u0301". The patterns allow them after every letter, so decomposed
// text matches like precomposed text. The marks are written as themselves:
// the embedded database parses that faster than \x{300}-\x{36F}.
const combiningMarks = "[\u0300-\u036F]*"

// letterPattern matches the folded rune r in any case and, for the letters
// latinVariants knows, with any diacritic. A letter with a diacritic that
// latinVariants does not know ("ǎ", "ự", "ά") also matches its base letter,
// so that, with the combiningMarks that follow, it finds itself decomposed
// (and the bare base letter, as $text would). Cases are spelled
// out rather than left to the "i" option: how a server folds non-ASCII
// case then does not matter (Go's regexp in the embedded database, PCRE in
// MongoDB), and the embedded database, which compiles the pattern once per
// document and field, compiles it about three times faster.
func letterPattern(r rune) string {
	set := append([]rune(latinVariants(r)), caseVariants(r)...)
	if b, ok := markedBase(r); ok {
		set = append(set, caseVariants(b)...)
	}
	return runeClass(set)
}

// markedBase is the letter r decomposes to followed by combiningMarks, if
// it does.
func markedBase(r rune) (rune, bool) {
	d := []rune(norm.NFD.String(string(r)))
	if len(d) < 2 {
		return 0, false
	}
	for _, m := range d[1:] {
		if m < 0x300 || m > 0x36F {
			return 0, false
		}
	}
	return d[0], true
}

// caseVariants is r and the runes it folds to in other cases.
func caseVariants(r rune) []rune {
	set := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		set = append(set, f)
	}
	return set
}

// runeClass matches any rune of set: the rune itself, quoted, or a
// bracket expression with runs of three or more as ranges.
func runeClass(set []rune) string {
	if len(set) == 1 {
		return regexp.QuoteMeta(string(set[0]))
	}
	slices.Sort(set)
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(set); {
		j := i
		for j+1 < len(set) && set[j+1] == set[j]+1 {
			j++
		}
		b.WriteRune(set[i])
		switch {
		case j-i >= 2:
			b.WriteByte('-')
			b.WriteRune(set[j])
		case j > i:
			b.WriteRune(set[j])
		}
		i = j + 1
	}
	b.WriteByte(']')
	return b.String()
}

// wordSep matches a rune that separates words in stored text: white space,
// ASCII punctuation and symbols, those of Latin-1 (no-break space to ¿, ×,
// ÷) and the General Punctuation block (dashes, curly quotes, ellipsis).
// It stands in for [^\p{L}\p{N}], which Go's regexp takes about ten times
// longer to compile. \b is not used either: MongoDB's is ASCII-only, so it
// would see a word break after "Sep" in "Sepúlveda".
const wordSep = `[\s\x{21}-\x{2F}\x{3A}-\x{40}\x{5B}-\x{60}\x{7B}-\x{7E}\x{A0}-\x{BF}\x{D7}\x{F7}\x{2000}-\x{206F}]`

// wordStart matches the start of a word: the start of the text or a
// separator, then any stray combining marks (a mark after a separator
// belongs to no letter). A combining mark is not a separator: "ulveda" does
// not find "Sepu\u0301lveda", nor "luis" "Jose\u0301Luis".
const wordStart = `(?:^|` + wordSep + `)` + combiningMarks

// wordPattern matches w at the start of a word, with combiningMarks
// between its letters; marks after the last letter are left to what
// follows. A word of one rune must also end there, so "j" does not find
// every word starting with j.
func wordPattern(w string) string {
	var b strings.Builder
	n := 0
	for _, r := range w {
		if n > 0 {
			b.WriteString(combiningMarks)
		}
		b.WriteString(letterPattern(r))
		n++
	}
	if n == 1 {
		b.WriteString(combiningMarks + `(?:` + wordSep + `|$)`)
	}
	return b.String()
}

// searchRegex is a $regex condition on pattern, case-sensitive: the
// patterns spell out cases themselves.
func searchRegex(pattern string) bson.D {
	return bson.D{{Key: "$regex", Value: pattern}}
}

// anyWordRegex matches text in which any of words starts a word.
func anyWordRegex(words []string) bson.D {
	alts := make([]string, len(words))
	for i, w := range words {
		alts[i] = wordPattern(w)
	}
	return searchRegex(wordStart + "(?:" + strings.Join(alts, "|") + ")")
}

// phraseRegex matches text in which the words of phrase follow one another
// from the start of a word, separated by separators.
func phraseRegex(phrase []string) bson.D {
	parts := make([]string, len(phrase))
	for i, w := range phrase {
		parts[i] = wordPattern(w)
	}
	return searchRegex(wordStart + strings.Join(parts, combiningMarks+wordSep+"+"))
}

// inAnyField is a filter matching documents in which a search field matches
// re.
func inAnyField(re bson.D) bson.A {
	a := make(bson.A, len(searchFields))
	for i, f := range searchFields {
		a[i] = bson.D{{Key: f, Value: re}}
	}
	return a
}

// matchNothing is a filter no document satisfies.
var matchNothing = bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}}

// searchFilter is the filter of a search: the semantics of MongoDB's
// $text:{$search: text} over full_name, biographical_notes and aliases, as
// far as regular expressions both the embedded database and MongoDB run
// reach (FerretDB has no $text):
//
//   - text is split into words at every rune that is neither a letter nor a
//     number; matching ignores case and the diacritics of Latin letters,
//     both ways ("perez" finds "Pérez", "nunez" finds "Núñez", "Pérez"
//     finds "Perez"), whether stored text and query are precomposed (NFC)
//     or decomposed (NFD, "Pe\u0301rez"). Other diacritics (outside
//     Latin-1 and Latin Extended-A, or of other scripts) are ignored in
//     the query, and in stored text only where it is decomposed: "hưng"
//     finds "Hưng" in either form and "Hung", "hung" only "Hu\u031Bng";
//   - a document matches if ANY word starts a word of one of the fields
//     (after the start of the field or a wordSep rune): "Contr" finds
//     "Contreras", "ulveda" does not find "Sepúlveda", and a one-letter
//     word must be a whole word. A light English suffix strip (-s, -ed,
//     -ing) stands in for $text's stemming;
//   - "a quoted phrase" must occur as those words in that order; when the
//     text has phrases, a document must contain every phrase and the other
//     words are ignored (as in $text);
//   - -word excludes documents containing word; negations alone match
//     nothing (as in $text);
//   - stop words are not dropped, and results are not ranked by relevance:
//     the caller's sort applies.
//
// The user's words are quoted (regexp.QuoteMeta) and bounded (see
// maxSearchTerms), so text is never a pattern. ok is false for blank text,
// which does not filter; text with no words yields a filter matching
// nothing.
func searchFilter(text string) (filter bson.D, ok bool) {
	if strings.TrimSpace(text) == "" {
		return nil, false
	}
	ts := parseSearch(text)
	var positive bson.D
	switch {
	case len(ts.phrases) > 0:
		all := make(bson.A, len(ts.phrases))
		for i, p := range ts.phrases {
			all[i] = bson.D{{Key: "$or", Value: inAnyField(phraseRegex(p))}}
		}
		positive = bson.D{{Key: "$and", Value: all}}
	case len(ts.terms) > 0:
		positive = bson.D{{Key: "$or", Value: inAnyField(anyWordRegex(ts.terms))}}
	default:
		return matchNothing, true
	}
	if len(ts.negated) > 0 {
		positive = append(positive, bson.E{Key: "$nor", Value: inAnyField(anyWordRegex(ts.negated))})
	}
	return positive, true
}
