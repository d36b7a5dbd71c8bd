package resolvers

import (
	"context"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
)

func TestAgentID(t *testing.T) {
	cases := []struct{ name, full, want string }{
		{"simple", "Tovar Quen", "dina-tovar-quen-"},
		{"punctuation and accents", "  Ñuño  O'Brien-Quil ", "dina-u-o-o-brien-quil-"},
		{"empty slug", "!!!", "dina-agent-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := agentID(c.full, 1_700_000_000_000)
			if !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, "-loyw3v28") {
				t.Fatalf("agentID(%q) = %q, want prefix %q and base36 ms suffix", c.full, got, c.want)
			}
		})
	}
	long := agentID(strings.Repeat("abcdefghij ", 30), 1)
	if len(long) > maxAgentIDLen {
		t.Fatalf("agent id has %d chars, max %d", len(long), maxAgentIDLen)
	}
}

func TestAgentSort(t *testing.T) {
	cases := map[string]store.DINASort{
		"":                 {Field: "full_name"},
		"FULL_NAME_ASC":    {Field: "full_name"},
		"FULL_NAME_DESC":   {Field: "full_name", Desc: true},
		"LEGAL_STATUS_ASC": {Field: "legal_status"},
		"CREATED_AT_DESC":  {Field: "created_at", Desc: true},
	}
	for in, want := range cases {
		if got := agentSort(in); got != want {
			t.Errorf("agentSort(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestEnumMapping(t *testing.T) {
	if categoryEnum.toStored["DINA_STATE_STAFF"] != "DINA_State_Staff" || categoryEnum.name("Regional_Command") != "REGIONAL_COMMAND" {
		t.Fatal("category mapping broken")
	}
	if legalStatusEnum.toStored["AT_LARGE"] != "at_large" || legalStatusEnum.name("") != nil {
		t.Fatal("legal status mapping broken")
	}
}

func TestHumanBytesAndUptime(t *testing.T) {
	for n, want := range map[int64]string{0: "0 Bytes", 512: "512 Bytes", 1536: "1.5 KB", 5 << 20: "5 MB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[float64]string{59: "0m", 3700: "1h 1m", 90061: "1d 1h 1m"} {
		if got := formatUptime(s); got != want {
			t.Errorf("formatUptime(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestPolicies(t *testing.T) {
	schema, err := LoadSchema()
	if err != nil {
		t.Fatal(err)
	}
	p := NewPolicies(schema, 10)
	cases := []struct {
		name        string
		query       string
		requires    security.Role
		invalidates []string
	}{
		{"public", `{ getDINAStatistics { total_agents } }`, security.RoleAnonymous, nil},
		{"viewer", `{ threatCounts { all } getDINAStatistics { total_agents } }`, security.RoleViewer, nil},
		{"analyst via fragment", `{ ...F } fragment F on Query { honeypotTriggers { ip_address } }`, security.RoleAnalyst, nil},
		{"nested relation", `{ threatActors { hunts { session_id } } }`, security.RoleAnalyst, nil},
		{"mutation", `mutation { deleteDINAAgent(agent_id: "x") }`, security.RoleAdmin, []string{"DINAAgent", "DINAAgentsPaginated", "DINAStatistics"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, c.query)
			if errs != nil {
				t.Fatal(errs)
			}
			op := &graphql.Operation{Document: doc, Definition: doc.Operations[0], Kind: doc.Operations[0].Operation}
			copy(op.Hash[:], c.query)
			got := p.For(op)
			if got.Requires != c.requires || strings.Join(got.Invalidates, ",") != strings.Join(c.invalidates, ",") {
				t.Fatalf("policy = %+v, want requires %v invalidates %v", got, c.requires, c.invalidates)
			}
			if op.Kind == ast.Mutation && got.MaxAge != 0 {
				t.Fatal("a mutation must never be cacheable")
			}
		})
	}
}

func TestArgStringStripsNUL(t *testing.T) {
	p := graphql.ResolveParams{Args: map[string]any{"q": "ab\x00c\x00", "n": 3}}
	if got := argString(p, "q"); got != "abc" {
		t.Fatalf("argString = %q, want NUL bytes removed", got)
	}
	if got := argString(p, "missing"); got != "" {
		t.Fatalf("missing argument = %q", got)
	}
}

// loginRecorder is an Authenticator that records what login passed it.
type loginRecorder struct{ username, password, language string }

func (l *loginRecorder) Login(_ context.Context, username, password, language string) (string, security.Identity, error) {
	l.username, l.password, l.language = username, password, language
	return "token", security.Identity{Username: username, Role: security.RoleViewer}, nil
}

// Strings inside input objects lose their NUL bytes as top-level arguments do: the DINA filter
// and the login input.
func TestInputObjectStringsStripNUL(t *testing.T) {
	f, err := agentFilter(map[string]any{"search": "pi\x00no", "rank": "Gen\x00eral", "brigade": "Lau\x00taro", "region": "\x00Santiago"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Search != "pino" || f.Rank != "General" || f.Brigade != "Lautaro" || f.Region != "Santiago" {
		t.Errorf("agentFilter = %+v, want NUL bytes removed", f)
	}

	auth := &loginRecorder{}
	r := &Resolvers{auth: auth}
	in := map[string]any{"username": "waki\x00baka", "password": "pass\x00word", "language": "e\x00n"}
	if _, err := r.login(context.Background(), graphql.ResolveParams{Args: map[string]any{"input": in}}); err != nil {
		t.Fatal(err)
	}
	if auth.username != "wakibaka" || auth.language != "en" {
		t.Errorf("login passed username %q language %q, want NUL bytes removed", auth.username, auth.language)
	}
	if auth.password != "pass\x00word" {
		t.Errorf("login passed password %q, want it as sent", auth.password)
	}
}

// categoryRecorder records the category the REST /api/threat-actors asked the store for.
type categoryRecorder struct {
	Store
	category string
}

func (c *categoryRecorder) ThreatActorDocuments(_ context.Context, category string, _ int) ([]map[string]any, error) {
	c.category = category
	return nil, nil
}

func TestRESTCategoryStripsNUL(t *testing.T) {
	rec := &categoryRecorder{}
	if _, err := NewCompat(rec, nil).ThreatActors(context.Background(), "ransom\x00ware"); err != nil {
		t.Fatal(err)
	}
	if rec.category != "ransomware" {
		t.Fatalf("store asked for category %q, want NUL bytes removed", rec.category)
	}
}

func TestCategoryNameNeverNull(t *testing.T) {
	for stored, want := range map[string]string{
		"Brigade": "BRIGADE", "brigade": "BRIGADE", "DINA_State_Staff": "DINA_STATE_STAFF", "": "OTHER", "weird": "OTHER",
	} {
		if got := categoryName(stored); got != want {
			t.Errorf("categoryName(%q) = %v, want %s", stored, got, want)
		}
	}
}
