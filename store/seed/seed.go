// Package seed generates and loads the synthetic demo data of NEKO Defense.
//
// Generate builds a Dataset deterministically from a size and a seed (same
// input, identical output: a fixed base time and math/rand/v2 PCG, never the
// clock). The Dataset uses the domain types of package store, so it has
// exactly the shape store/mongo reads; tests compute expected query results
// from it. Load writes it with insertMany. Every name is generated from
// syllables: no real person's data ships.
package seed

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store"
)

// Size selects how much data Generate produces.
type Size string

// Sizes. Small is the default of `make run`: a few hundred documents per
// collection, fast on the embedded database. Medium is about 3x, large 10x.
const (
	Small  Size = "small"
	Medium Size = "medium"
	Large  Size = "large"
)

// BaseTime returns the fixed "now" of generated data, 2026-01-01T00:00:00Z:
// every generated timestamp lies before it.
func BaseTime() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Dataset is the generated content of every collection.
type Dataset struct {
	ThreatActors []store.ThreatActor
	// ActorOverrides maps an actor_id to fields stored in place of the typed
	// ones: legacy string threat levels ("CRITICAL", "SEVERE") and a
	// non-numeric rank, as real data has them. The matching ThreatActor holds
	// the value a reader must see after coercion (nil for unreadable ones).
	ActorOverrides   map[string]bson.D
	HoneypotTriggers []store.HoneypotTrigger
	Hunts            []store.HuntConversation
	CasePatterns     []store.CasePattern
	DINAAgents       []store.DINAAgent
	Perpetrators     []store.Perpetrator
	AllAgents        []store.AllAgent
	AsciiArt         []store.AsciiArt
}

// counts is the number of documents per collection for a size.
type counts struct {
	actors, triggers, hunts, patterns, agents, perps, allAgents int
}

func sizeCounts(s Size) counts {
	c := counts{actors: 150, triggers: 600, hunts: 200, patterns: 120, agents: 300, perps: 12, allAgents: 400}
	switch s {
	case Medium:
		return counts{c.actors * 3, c.triggers * 3, c.hunts * 3, c.patterns * 3, c.agents * 3, 20, c.allAgents * 3}
	case Large:
		return counts{c.actors * 10, c.triggers * 10, c.hunts * 10, c.patterns * 10, c.agents * 10, 30, c.allAgents * 10}
	}
	return c
}

// ParseSize returns the Size named s, or an error.
func ParseSize(s string) (Size, error) {
	switch Size(s) {
	case Small, Medium, Large:
		return Size(s), nil
	}
	return "", fmt.Errorf("seed: unknown size %q (want small, medium or large)", s)
}

// generator carries the random source and cross-collection references.
type generator struct {
	r     *rand.Rand
	names *namer
	c     counts
	ips   []string // honeypot source addresses; some become actor IOCs
	d     Dataset
}

// Generate returns the dataset of size (an unknown size is Small) for seed.
// The same arguments always give an identical Dataset.
func Generate(size Size, seed int64) Dataset {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6e656b6f))
	g := &generator{r: r, names: newNamer(r), c: sizeCounts(size)}
	g.ips = make([]string, 0, g.c.triggers/4)
	for i := range cap(g.ips) {
		g.ips = append(g.ips, address(i))
	}
	g.d.ActorOverrides = make(map[string]bson.D)
	g.threatActors()
	g.triggers()
	g.hunts()
	g.patterns()
	g.dinaAgents()
	g.perpetrators()
	g.allAgents()
	g.d.AsciiArt = asciiArt()
	return g.d
}

// address returns the i-th synthetic source address: first the three
// documentation ranges (RFC 5737), then the shared address space 100.64/10.
func address(i int) string {
	const perNet = 254
	if i < 3*perNet {
		nets := []string{"192.0.2", "198.51.100", "203.0.113"}
		return fmt.Sprintf("%s.%d", nets[i%3], 1+i/3)
	}
	i -= 3 * perNet
	return fmt.Sprintf("100.64.%d.%d", i/perNet, 1+i%perNet)
}

// oid returns a deterministic ObjectID: the base time, a collection tag and
// the index.
func oid(tag byte, i int) bson.ObjectID {
	var id bson.ObjectID
	ts := uint32(BaseTime().Unix())
	id[0], id[1], id[2], id[3] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	id[4] = tag
	id[8], id[9], id[10], id[11] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return id
}

// before returns a whole-second time up to maxAge before BaseTime.
func (g *generator) before(maxAge time.Duration) time.Time {
	return BaseTime().Add(-time.Duration(1+g.r.Int64N(int64(maxAge/time.Second))) * time.Second)
}

func ptr[T any](v T) *T { return &v }

// actor kinds, each matching a category of reference §3.2 through a
// different field so that every branch of the category predicates is used.
var actorKinds = []struct {
	typ, category, classification, network, targetType, description string
	stateActor, stateSponsored                                      *bool
}{
	{typ: "predator", category: "predator", classification: "INDIVIDUAL_PREDATOR", description: "Predator operating in gaming chat rooms"},
	{typ: "individual", classification: "INDIVIDUAL_PREDATOR", description: "Predator using fake profiles"},
	{typ: "pedophile", category: "pedophile", classification: "PEDOPHILE", targetType: "children", description: "Distributes CSAM through private forums"},
	{typ: "individual", category: "harassment", description: "Known pedophile network moderator"},
	{typ: "individual", category: "dina_network", classification: "DINA_NETWORK", network: "DINA", description: "Former intelligence operative"},
	{typ: "individual", category: "intelligence", network: "DINA", description: "Network logistics contact"},
	{typ: "cybercrime_group", category: "ransomware", classification: "CYBERCRIME_RANSOMWARE", description: "Ransomware affiliate programme"},
	{typ: "individual", category: "ransomware", description: "Initial access broker for ransomware crews"},
	{typ: "cybercrime_group", category: "espionage", classification: "APT_STATE_SPONSORED", stateActor: ptr(true), stateSponsored: ptr(true), description: "State-sponsored intrusion set"},
	{typ: "individual", category: "espionage", stateSponsored: ptr(true), stateActor: ptr(false), description: "Contractor for a foreign service"},
	{typ: "crypto_thief", category: "crypto_crime", classification: "CRYPTO_CRIME", description: "Drains hot wallets after key theft"},
	{typ: "individual", category: "crypto_crime", description: "Runs a mixing service"},
	{typ: "individual", category: "fraud", classification: "FRAUDSTER", description: "Invoice fraud ring"},
}

// legacyLevels are stored instead of a number on some actors, with the value
// a reader must see.
var legacyLevels = []struct {
	stored string
	want   *int
}{
	{"CRITICAL", ptr(100)}, {"HIGH", ptr(75)}, {"MEDIUM", ptr(50)}, {"LOW", ptr(25)},
	{"critical", ptr(100)}, {"SEVERE", nil},
}

func (g *generator) threatActors() {
	n := g.c.actors
	ranks := g.r.Perm(n)
	g.d.ThreatActors = make([]store.ThreatActor, 0, n)
	for i := range n {
		k := actorKinds[i%len(actorKinds)]
		a := store.ThreatActor{
			ID:                  oid(1, i),
			ActorID:             fmt.Sprintf("TA-%04d", i+1),
			Name:                g.names.name(""),
			Description:         k.description,
			Type:                k.typ,
			Category:            k.category,
			ActorClassification: k.classification,
			Network:             k.network,
			TargetType:          k.targetType,
			ThreatLevel:         ptr(g.r.IntN(101)),
			Rank:                ptr(ranks[i] + 1),
			StateActor:          k.stateActor,
			StateSponsored:      k.stateSponsored,
			Techniques:          pickN(g.r, techniques, 1+g.r.IntN(4)),
			Metadata: map[string]any{
				"source":     "synthetic",
				"confidence": float64(g.r.IntN(100)) / 100,
				"first_seen": g.before(3 * 365 * 24 * time.Hour),
				"origin":     map[string]any{"region": pick(g.r, []string{"EU", "NA", "LATAM", "APAC", "AF"})},
				"labels":     []any{"demo", k.typ},
			},
		}
		for range 1 + g.r.IntN(3) {
			a.IOCs = append(a.IOCs, pick(g.r, g.ips))
		}
		if i%5 == 0 {
			a.IOCs = append(a.IOCs, fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256))
		}
		if i%25 == 7 {
			l := legacyLevels[(i/25)%len(legacyLevels)]
			a.ThreatLevel = l.want
			g.d.ActorOverrides[a.ActorID] = bson.D{{Key: "threat_level", Value: l.stored}}
		}
		if i == 3 {
			a.Rank = nil
			g.d.ActorOverrides[a.ActorID] = append(g.d.ActorOverrides[a.ActorID], bson.E{Key: "rank", Value: "n/a"})
		}
		g.d.ThreatActors = append(g.d.ThreatActors, a)
	}
}

// traps are the honeypot trap names with their paths (reference §4.3).
var traps = []struct{ name, path string }{
	{"admin_panel", "/admin"}, {"admin_panel_deep", "/admin/users"}, {"joomla_admin", "/administrator"},
	{"wordpress_admin", "/wp-admin"}, {"wordpress_admin_deep", "/wp-admin/options.php"},
	{"wordpress_login", "/wp-login.php"}, {"phpmyadmin", "/phpmyadmin"}, {"pma", "/pma"},
	{"mysql_admin", "/mysql"}, {"database_admin", "/database"}, {"db_admin", "/db"},
	{"backup_sql", "/backup.sql"}, {"dump_sql", "/dump.sql"}, {"users_sql", "/users.sql"},
	{"env_file", "/.env"}, {"config_php", "/config.php"}, {"wp_config", "/wp-config.php"},
	{"joomla_config", "/configuration.php"}, {"git_config", "/.git/config"},
	{"aws_credentials", "/.aws/credentials"}, {"passwords_file", "/passwords.txt"},
	{"users_file", "/users.txt"}, {"credentials_json", "/credentials.json"}, {"secrets", "/secrets"},
	{"api_keys", "/api/keys"}, {"private_dir", "/private"}, {"shell_php", "/shell.php"},
	{"cmd_php", "/cmd.php"}, {"execute", "/execute"}, {"eval", "/eval"}, {"upload_php", "/upload.php"},
	{"api_admin", "/api/admin"}, {"api_user_delete", "/api/user/delete"}, {"api_exec", "/api/exec"},
}

func (g *generator) triggers() {
	levels := []string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}
	actions := []string{"logged", "blocked", "tarpitted", "fake_response"}
	g.d.HoneypotTriggers = make([]store.HoneypotTrigger, 0, g.c.triggers)
	for i := range g.c.triggers {
		// Skew traps and addresses so that counts differ.
		t := traps[min(g.r.IntN(len(traps)), g.r.IntN(len(traps)))]
		ip := g.ips[min(g.r.IntN(len(g.ips)), g.r.IntN(len(g.ips)))]
		method := pick(g.r, []string{"GET", "GET", "GET", "POST", "PUT"})
		tr := store.HoneypotTrigger{
			ID:            oid(2, i),
			TrapName:      t.name,
			IPAddress:     ip,
			TriggeredAt:   g.before(90 * 24 * time.Hour),
			UserAgent:     pick(g.r, userAgents),
			RequestPath:   t.path,
			RequestMethod: method,
			RequestHeaders: map[string]any{
				"accept": "*/*", "host": "neko.example", "x-forwarded-for": ip,
			},
			ThreatLevel: levels[g.r.IntN(len(levels))],
			ActionTaken: pick(g.r, actions),
			Metadata:    map[string]any{"score": int32(30 + g.r.IntN(70)), "synthetic": true},
		}
		if method != "GET" {
			tr.RequestBody = map[string]any{"username": "admin", "password": "hunter" + strconv.Itoa(g.r.IntN(100))}
		}
		g.d.HoneypotTriggers = append(g.d.HoneypotTriggers, tr)
	}
}

func (g *generator) hunts() {
	statuses := []string{"active", "completed", "abandoned"}
	outcomes := []string{"captured", "escaped", "monitoring"}
	g.d.Hunts = make([]store.HuntConversation, 0, g.c.hunts)
	for i := range g.c.hunts {
		start := g.before(120 * 24 * time.Hour)
		h := store.HuntConversation{
			ID:        oid(3, i),
			SessionID: fmt.Sprintf("hunt-%05d", i+1),
			Keywords:  pickN(g.r, huntKeywords[:min(len(huntKeywords), 8+i%23)], 1+g.r.IntN(5)),
			HuntType:  pick(g.r, huntTypes),
			Status:    statuses[i%len(statuses)],
			Outcome:   outcomes[g.r.IntN(len(outcomes))],
			StartedAt: ptr(start),
			HuntSummary: map[string]any{
				"messages": int32(g.r.IntN(400)),
				"channels": []any{pick(g.r, []string{"forum", "chat", "marketplace"})},
			},
			Metadata: map[string]any{"analyst": "neko-" + strconv.Itoa(1+g.r.IntN(6))},
		}
		if g.r.IntN(5) != 0 {
			h.TargetActor = g.d.ThreatActors[g.r.IntN(len(g.d.ThreatActors))].ActorID
		}
		if h.Status != "active" {
			h.CompletedAt = ptr(start.Add(time.Duration(1+g.r.IntN(72)) * time.Hour))
			h.EvidenceCollected = ptr(g.r.IntN(3) != 0)
			if *h.EvidenceCollected {
				h.EvidencePackageID = fmt.Sprintf("EVP-%05d", i+1)
			}
		}
		g.d.Hunts = append(g.d.Hunts, h)
	}
}

func (g *generator) patterns() {
	reuse := []string{"high", "medium", "low"}
	difficulty := []string{"trivial", "intermediate", "advanced"}
	n := g.c.patterns
	g.d.CasePatterns = make([]store.CasePattern, 0, n)
	for i := range n {
		// Categories are skewed so that the top five are well defined.
		cat := patternCats[min(g.r.IntN(len(patternCats)), g.r.IntN(len(patternCats)))]
		p := store.CasePattern{
			ID:          oid(4, i),
			PatternID:   fmt.Sprintf("PAT-%04d", i+1),
			Title:       fmt.Sprintf("%s %s for %s", pick(g.r, []string{"Layered", "Adaptive", "Minimal", "Resilient", "Deferred"}), pick(g.r, []string{"triage", "correlation", "deception", "containment", "tracing"}), cat),
			Problem:     "Synthetic problem statement " + strconv.Itoa(i+1),
			Solution:    "Synthetic solution outline " + strconv.Itoa(i+1),
			Category:    cat,
			Reusability: reuse[i%len(reuse)],
			Difficulty:  difficulty[g.r.IntN(len(difficulty))],
			Tags:        pickN(g.r, patternTags, 1+g.r.IntN(4)),
			Metadata:    map[string]any{"author": "synthetic", "version": int32(1 + g.r.IntN(5))},
		}
		for range g.r.IntN(4) {
			j := g.r.IntN(n)
			if j != i {
				p.RelatedPatterns = append(p.RelatedPatterns, fmt.Sprintf("PAT-%04d", j+1))
			}
		}
		if i%17 != 5 {
			p.UsageCount = ptr(g.r.IntN(500))
		}
		if i%13 != 2 {
			p.LastUsed = ptr(g.before(365 * 24 * time.Hour))
		}
		g.d.CasePatterns = append(g.d.CasePatterns, p)
	}
}

func (g *generator) dinaAgents() {
	categories := []string{store.DINACategoryBrigade, store.DINACategoryDepartment, store.DINACategoryStateStaff,
		store.DINACategoryEnlisted, store.DINACategoryOther, store.DINACategoryRegionalCommand}
	legal := []string{store.LegalStatusAtLarge, store.LegalStatusConvicted, store.LegalStatusDeceased,
		store.LegalStatusIndicted, store.LegalStatusInvestigated, store.LegalStatusUnknown, store.LegalStatusUnprosecuted}
	verification := []string{store.VerificationPending, store.VerificationVerified, store.VerificationDisputed}
	confidence := []string{store.ConfidenceAlleged, store.ConfidenceConfirmed, store.ConfidenceProbable}
	g.d.DINAAgents = make([]store.DINAAgent, 0, g.c.agents)
	for i := range g.c.agents {
		name := g.names.name("")
		created := g.before(2 * 365 * 24 * time.Hour)
		start := time.Date(1973+g.r.IntN(3), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28), 0, 0, 0, 0, time.UTC)
		a := store.DINAAgent{
			ID:                 oid(5, i),
			AgentID:            fmt.Sprintf("dina-%s-%s", slug(name), strconv.FormatInt(int64(1_700_000_000_000+i), 36)),
			FullName:           name,
			RUT:                fmt.Sprintf("%d.%03d.%03d-%d", 3+g.r.IntN(12), g.r.IntN(1000), g.r.IntN(1000), g.r.IntN(10)),
			Rank:               pick(g.r, dinaRanks),
			Branch:             pick(g.r, dinaBranches),
			ServiceNumber:      fmt.Sprintf("SN-%06d", g.r.IntN(1_000_000)),
			Category:           categories[i%len(categories)],
			Position:           pick(g.r, []string{"Analyst", "Interrogator", "Driver", "Guard", "Commander", "Clerk"}),
			PositionNumber:     ptr(1 + g.r.IntN(200)),
			ServicePeriodStart: ptr(start),
			ServicePeriodText:  fmt.Sprintf("%d-%d", start.Year(), start.Year()+1+g.r.IntN(4)),
			LegalStatus:        legal[i%len(legal)],
			KnownOperations:    pickN(g.r, dinaOperations, g.r.IntN(3)),
			AllegedCrimes:      pickN(g.r, dinaCrimes, g.r.IntN(3)),
			DataSources: []store.DataSource{{
				SourceName:    pick(g.r, dataSources),
				Confidence:    confidence[i%len(confidence)],
				ExtractedDate: g.before(3 * 365 * 24 * time.Hour),
			}},
			BiographicalNotes:  fmt.Sprintf("Synthetic record. Served in %s under %s.", pick(g.r, dinaDepts), pick(g.r, dinaOperations)),
			CreatedAt:          created,
			UpdatedAt:          created.Add(time.Duration(g.r.IntN(1000)) * time.Hour),
			CreatedBy:          "data-migration",
			VerificationStatus: verification[(i/len(categories))%len(verification)],
		}
		if g.r.IntN(5) != 0 {
			a.Region = pick(g.r, dinaRegions)
		}
		if a.Category == store.DINACategoryBrigade || g.r.IntN(4) == 0 {
			a.Brigade = pick(g.r, dinaBrigades)
		}
		if a.Category == store.DINACategoryDepartment {
			a.Department = pick(g.r, dinaDepts)
		}
		if g.r.IntN(2) == 0 {
			a.ServicePeriodEnd = ptr(start.AddDate(1+g.r.IntN(4), 0, 0))
		}
		if g.r.IntN(3) == 0 {
			a.Aliases = []string{"El " + g.names.word(2)}
		}
		if a.LegalStatus == store.LegalStatusConvicted {
			a.Convictions = []store.Conviction{{
				CaseName: "Synthetic case " + strconv.Itoa(1000+i), Verdict: "guilty",
				Sentence: strconv.Itoa(3+g.r.IntN(20)) + " years", Date: ptr(time.Date(2000+g.r.IntN(24), 6, 1, 0, 0, 0, 0, time.UTC)),
			}}
		}
		if a.LegalStatus == store.LegalStatusInvestigated || a.LegalStatus == store.LegalStatusIndicted {
			a.Investigations = []store.Investigation{{CaseName: "Synthetic inquiry " + strconv.Itoa(2000+i), Status: "open", Judge: "Judge " + g.names.word(2)}}
		}
		if g.r.IntN(6) == 0 {
			a.PostDINAPositions = []store.PostDINAPosition{{Institution: "Synthetic Ministry", Rank: a.Rank, Position: "Adviser", PeriodStart: ptr(start.AddDate(6, 0, 0))}}
		}
		g.d.DINAAgents = append(g.d.DINAAgents, a)
	}
}

// perpStatuses cycle through the status texts of reference §3.6.
var perpStatuses = []struct {
	status    string
	convicted bool
}{
	{"DECEASED - CONVICTED", true},
	{"⚠️ AT LARGE - FIGHTING EXTRADITION", false},
	{"CONVICTED - IMPRISONED", true},
	{"NEVER PROSECUTED", false},
	{"DECEASED - NEVER PROSECUTED", false},
	{"CONVICTED - IMPRISONED", true},
	{"AT LARGE", false},
	{"UNDER INVESTIGATION", false},
}

func (g *generator) perpetrators() {
	g.d.Perpetrators = make([]store.Perpetrator, 0, g.c.perps)
	for i := range g.c.perps {
		st := perpStatuses[i%len(perpStatuses)]
		name := g.names.name("")
		p := store.Perpetrator{
			ID:           oid(6, i),
			FullName:     name,
			Codename:     "Condor-" + strconv.Itoa(i+1),
			Alias:        "El " + g.names.word(2),
			Role:         pick(g.r, perpRoles),
			Rank:         pick(g.r, dinaRanks),
			Organization: []string{"DINA (1973-1977)"},
			Status:       st.status,
			LegalStatus: &store.PerpLegalStatus{
				Convicted: st.convicted, CurrentStatus: st.status,
				Sentences: []any{strconv.Itoa(5+g.r.IntN(30)) + " years"},
			},
			CrimesAccused:      pickN(g.r, dinaCrimes, 1+g.r.IntN(3)),
			NotableOperations:  pickN(g.r, dinaOperations, 1+g.r.IntN(2)),
			VerificationStatus: pick(g.r, []string{"VERIFIED", "PARTIALLY VERIFIED"}),
			Significance:       "Synthetic profile for demonstration",
			Tags:               []string{"synthetic", "dina"},
			Timeline:           []any{map[string]any{"year": int32(1974 + g.r.IntN(3)), "event": "Joined " + pick(g.r, dinaDepts)}},
			Priority:           pick(g.r, []string{"HIGH", "MEDIUM", "LOW"}),
		}
		if st.convicted {
			p.LegalStatus.PrisonLocation = "Synthetic Penitentiary " + strconv.Itoa(1+i%3)
		}
		g.d.Perpetrators = append(g.d.Perpetrators, p)
	}
}

// allAgentStatuses cycle through the statuses of dina_all_agents; convicted
// tells legalStatus.convicted, nil meaning no legalStatus at all.
var allAgentStatuses = []struct {
	status    string
	convicted *bool
}{
	{"STATUS UNKNOWN", nil},
	{"DECEASED", ptr(false)},
	{"UNLOCATED", ptr(false)},
	{"UNPROSECUTED", nil},
	{"INVESTIGATION PENDING", ptr(false)},
	{"AT LARGE", ptr(false)},
	{"NEVER PROSECUTED", nil},
	{"CONVICTED - IMPRISONED", ptr(true)},
	{"DECEASED - CONVICTED", ptr(true)},
	{"UNPROSECUTED - RETIRED", ptr(true)},
}

func (g *generator) allAgents() {
	g.d.AllAgents = make([]store.AllAgent, 0, g.c.allAgents)
	for i := range g.c.allAgents {
		st := allAgentStatuses[(i+g.r.IntN(3))%len(allAgentStatuses)]
		a := store.AllAgent{
			ID:          oid(7, i),
			AgentNumber: i + 1,
			FullName:    g.names.name("Agent"),
			Rank:        dinaRanks[i%len(dinaRanks)],
			Role:        pick(g.r, []string{"Operative", "Analyst", "Guard", "Driver", "Interrogator"}),
			Status:      st.status,
		}
		if st.convicted != nil {
			a.LegalStatus = &store.PerpLegalStatus{Convicted: *st.convicted}
		}
		g.d.AllAgents = append(g.d.AllAgents, a)
	}
}

func asciiArt() []store.AsciiArt {
	return []store.AsciiArt{
		{ArtID: 1, Title: "NEKO-ARC DEFENSE", Category: "system", Art: " /\\_/\\\n( o.o )  NEKO DEFENSE\n > ^ <   fortress mode"},
		{ArtID: 2, Title: "THREAT DETECTION", Category: "security", Art: "[!]---[scan]---[!]\n |   threat radar  |\n[!]---[scan]---[!]"},
		{ArtID: 3, Title: "DINA JUSTICE", Category: "dina", Art: "  ___\n |   |  justice\n |___|  remembers"},
		{ArtID: 4, Title: "HONEYPOT", Category: "security", Art: "  _____\n /     \\\n| HONEY |\n \\_____/"},
	}
}
