package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Word lists for synthetic data. Names are built from syllables so that no
// generated record names a real person.
var (
	syllables = []string{
		"var", "nok", "tel", "zan", "mir", "ko", "dra", "vel", "quo", "ras",
		"tik", "lun", "bor", "sen", "ga", "thu", "rel", "pax", "ori", "den",
		"kal", "vex", "mo", "sil", "tor", "yen", "bri", "dax", "ul", "fen",
	}
	techniques = []string{
		"phishing", "credential stuffing", "social engineering", "grooming", "sextortion",
		"ransomware deployment", "double extortion", "supply chain compromise", "wallet draining",
		"money laundering", "sim swapping", "watering hole", "zero-day exploitation",
		"surveillance", "disinformation", "infrastructure sabotage",
	}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0", "python-requests/2.31",
		"sqlmap/1.8", "Nikto/2.5.0", "masscan/1.3", "Go-http-client/1.1", "zgrab/0.x",
		"Mozilla/5.0 (compatible; Googlebot/2.1)", "",
	}
	huntKeywords = []string{
		"ransom", "wallet", "onion", "forum", "dropper", "botnet", "grooming", "chatroom",
		"exfiltration", "beacon", "loader", "stealer", "phish", "mixer", "escrow", "leak",
		"dump", "credential", "exploit", "c2", "tor", "telegram", "discord", "crypter",
		"payload", "sextortion", "laundering", "extradition", "archive", "informant",
	}
	huntTypes      = []string{"osint", "honeypot_followup", "undercover_chat", "financial_trace", "infrastructure_takedown"}
	patternCats    = []string{"detection", "forensics", "osint", "incident_response", "hardening", "attribution", "evidence", "automation", "monitoring", "legal", "reporting", "deception"}
	patternTags    = []string{"go", "mongodb", "graphql", "regex", "honeypot", "dns", "tls", "osint", "ml", "rate-limit", "cache", "audit"}
	dinaRanks      = []string{"General", "Colonel", "Lieutenant Colonel", "Major", "Captain", "Lieutenant", "Sub-Lieutenant", "Sergeant", "Corporal", "Civilian Agent"}
	dinaBranches   = []string{"Army", "Navy", "Air Force", "Carabineros", "Civilian"}
	dinaRegions    = []string{"Santiago", "Valparaiso", "Concepcion", "Temuco", "Antofagasta", "Punta Arenas", "La Serena", "Talca"}
	dinaBrigades   = []string{"Brigada Caupolican", "Brigada Lautaro", "Brigada Purén", "Brigada Mulchén", "Brigada Tucapel", "Brigada Ongolmo"}
	dinaDepts      = []string{"Operations", "Intelligence", "Logistics", "Foreign Affairs", "Communications", "Personnel"}
	dinaOperations = []string{"Operation Nightfall", "Operation Ashen Bridge", "Operation Silent Tide", "Operation Iron Lantern", "Operation Grey Harbor", "Operation Cold Ember"}
	dinaCrimes     = []string{"kidnapping", "torture", "forced disappearance", "illegal detention", "homicide", "conspiracy"}
	dataSources    = []string{"Synthetic Archive A", "Synthetic Court Registry", "Synthetic Press Digest", "Synthetic Commission Report"}
	perpRoles      = []string{"Director", "Operations Chief", "Interrogation Unit Head", "Brigade Commander", "Foreign Operations Liaison", "Detention Centre Chief"}
)

// namer generates unique synthetic names.
type namer struct {
	r    *rand.Rand
	used map[string]bool
}

func newNamer(r *rand.Rand) *namer { return &namer{r: r, used: make(map[string]bool)} }

func (n *namer) word(parts int) string {
	var b strings.Builder
	for range parts {
		b.WriteString(syllables[n.r.IntN(len(syllables))])
	}
	s := b.String()
	return strings.ToUpper(s[:1]) + s[1:]
}

// name returns a new unique "Given Family" name, with a prefix if not empty.
func (n *namer) name(prefix string) string {
	for i := 0; ; i++ {
		s := n.word(2) + " " + n.word(1+n.r.IntN(2))
		if i > 20 {
			s += fmt.Sprintf(" %d", i)
		}
		if prefix != "" {
			s = prefix + " " + s
		}
		if !n.used[s] {
			n.used[s] = true
			return s
		}
	}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// pickN returns n distinct elements of xs (n capped at len(xs)).
func pickN[T any](r *rand.Rand, xs []T, n int) []T {
	n = min(n, len(xs))
	idx := r.Perm(len(xs))[:n]
	out := make([]T, n)
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
