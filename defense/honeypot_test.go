package defense

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

func TestMatchTrap(t *testing.T) {
	tests := []struct {
		path, want string // want "" means no trap
	}{
		{"/admin", "admin_panel"},
		{"/ADMIN/", "admin_panel"},
		{"/admin?user=root", "admin_panel"},
		{"/admin/users/1", "admin_panel_deep"},
		{"/Admin/Config", "admin_panel_deep"},
		{"/administrator", "joomla_admin"},
		{"/wp-admin", "wordpress_admin"},
		{"/wp-admin/install.php", "wordpress_admin_deep"},
		{"/wp-login.php", "wordpress_login"},
		{"/phpMyAdmin", "phpmyadmin"},
		{"/pma", "phpmyadmin_short"},
		{"/.env", "env_file"},
		{"/.git/config", "git_config"},
		{"/.aws/credentials", "aws_credentials"},
		{"/passwords.txt", "password_file"},
		{"/api/keys", "api_keys"},
		{"/api/admin", "api_admin"},
		{"/api/user/delete", "api_user_delete"},
		{"/api/exec", "api_exec"},
		{"/eval#frag", "eval_endpoint"},
		{"/api/health", ""},
		{"/api/stats", ""},
		{"/api/threat-actors?category=admin", ""},
		{"/graphql", ""},
		{"/health", ""},
		{"/ready", ""},
		{"/metrics", ""},
		{"/", ""},
		{"", ""},
		{"/administrators", ""},
		{"/adminx", ""},
		{"/api/admin-stats", ""},
		{"/api/keys/rotate", ""},
		{"/.env.example", ""},
		{"/dbx", ""},
		{"/static/admin", ""},
	}
	for _, tc := range tests {
		tr, ok := MatchTrap(tc.path)
		if ok != (tc.want != "") || tr.Name != tc.want {
			t.Errorf("MatchTrap(%q) = %q, %v; want %q", tc.path, tr.Name, ok, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { MatchTrap("/api/threat-actors?category=ransomware") }); n != 0 {
		t.Errorf("MatchTrap allocates %v times on a miss", n)
	}
}

func TestTraps(t *testing.T) {
	traps := Traps()
	if len(traps) != 34 {
		t.Errorf("%d traps, want the original's 34", len(traps))
	}
	names := map[string]bool{}
	for _, tr := range traps {
		if names[tr.Name] {
			t.Errorf("duplicate trap name %s", tr.Name)
		}
		names[tr.Name] = true
		probe := tr.Pattern
		if tr.Prefix {
			probe += "/probe"
		}
		got, ok := MatchTrap(probe)
		if !ok || got.Name != tr.Name {
			t.Errorf("MatchTrap(%q) = %q, want %q", probe, got.Name, tr.Name)
		}
		if tr.Status != 403 || tr.ContentType == "" || len(tr.Body) == 0 {
			t.Errorf("trap %s: status %d, content type %q, %d bytes", tr.Name, tr.Status, tr.ContentType, len(tr.Body))
		}
		if strings.HasPrefix(tr.ContentType, "application/json") && !json.Valid(tr.Body) {
			t.Errorf("trap %s: invalid JSON body %s", tr.Name, tr.Body)
		}
	}
	body := func(name string) (string, string) {
		for _, tr := range traps {
			if tr.Name == name {
				return tr.ContentType, string(tr.Body)
			}
		}
		t.Fatalf("no trap %s", name)
		return "", ""
	}
	tests := []struct {
		name, contentType string
		contains          []string
	}{
		{"wordpress_login", "text/html", []string{"<form", `type="password"`}},
		{"phpmyadmin", "application/json", []string{`{"error":"Access denied for user 'root'@'localhost'"}`}},
		{"env_file", "text/plain", []string{"DB_HOST=", "DB_PASS=", "fake"}},
		{"password_file", "text/plain", []string{"admin:$2y$", "fake"}},
		{"api_keys", "application/json", []string{`"api_key":"sk_live_honeypot_fake`, `"status":"active"`}},
		{"admin_panel", "application/json", []string{"Admin access denied"}},
		{"sql_dump", "application/json", []string{`{"error":"Access Denied","trap":"sql_dump"}`}},
	}
	for _, tc := range tests {
		ct, b := body(tc.name)
		if !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("%s: content type %q, want %s", tc.name, ct, tc.contentType)
		}
		for _, s := range tc.contains {
			if !strings.Contains(b, s) {
				t.Errorf("%s: body %q lacks %q", tc.name, b, s)
			}
		}
	}
	// Callers get copies: changing one does not change the table.
	tr, _ := MatchTrap("/.env")
	tr.Body[0] = 'X'
	if again, _ := MatchTrap("/.env"); again.Body[0] == 'X' {
		t.Error("MatchTrap shares its body")
	}
}

// fakeTriggers records triggers; when gate is set each insert waits for it.
type fakeTriggers struct {
	mu   sync.Mutex // guards got
	got  []store.HoneypotTrigger
	gate chan struct{}
}

func (f *fakeTriggers) InsertHoneypotTrigger(ctx context.Context, tr store.HoneypotTrigger) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, tr)
	return nil
}

func (f *fakeTriggers) triggers() []store.HoneypotTrigger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func newTestHoneypot(t *testing.T, triggers *fakeTriggers, queue int) (*Honeypot, *responderEnv) {
	t.Helper()
	e := newResponderEnv(t, ResponderConfig{})
	h, err := NewHoneypot(HoneypotConfig{Triggers: triggers, Responder: e.r, QueueSize: queue, Now: e.clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h, e
}

func TestHoneypotRecord(t *testing.T) {
	headers := map[string]string{
		"User-Agent": "sqlmap/1.7", "Authorization": "Bearer secret-token", "Cookie": "session=secret",
		"Referer": strings.Repeat("v", 500),
	}
	for i := range 30 {
		headers["x-filler-"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "f"
	}
	tests := []struct {
		name     string
		hit      TrapHit
		level    string
		action   string
		body     any
		playbook []string
	}{
		{
			name: "high score is blocked",
			hit: TrapHit{Path: "/.env", Method: "GET", IP: "203.0.113.50", UserAgent: "sqlmap/1.7", Headers: headers,
				Body: []byte(`{"user":"root","$where":"1==1","a.b":{"$gt":""}}`), ThreatScore: 75},
			level: "HIGH", action: "blocked",
			body:     map[string]any{"user": "root", "_where": "1==1", "a_b": map[string]any{"_gt": ""}},
			playbook: []string{ActCaptureReport, ActBlock, ActUpdateProfile},
		},
		{
			name:  "low score is logged",
			hit:   TrapHit{Path: "/wp-login.php", Method: "POST", IP: "203.0.113.51", Body: []byte("log=admin&pwd=hunter2"), ThreatScore: 20},
			level: "LOW", action: "logged", body: "log=admin&pwd=hunter2",
			playbook: []string{ActCaptureReport, ActInvestigate, ActUpdateProfile},
		},
		{
			name: "NUL bytes stripped",
			hit: TrapHit{Path: "/wp-login.php", Method: "POST", IP: "203.0.113.53",
				Body: []byte(`{"us\u0000er":"ro\u0000ot","list":["a\u0000"]}`), ThreatScore: 20},
			level: "LOW", action: "logged", body: map[string]any{"user": "root", "list": []any{"a"}},
			playbook: []string{ActCaptureReport, ActInvestigate, ActUpdateProfile},
		},
		{
			name:  "NUL bytes stripped from text",
			hit:   TrapHit{Path: "/wp-login.php", Method: "POST", IP: "203.0.113.54", Body: []byte("log=ad\x00min"), ThreatScore: 20},
			level: "LOW", action: "logged", body: "log=admin",
			playbook: []string{ActCaptureReport, ActInvestigate, ActUpdateProfile},
		},
		{
			name:  "long body kept as text",
			hit:   TrapHit{Path: "/upload.php", Method: "POST", IP: "203.0.113.52", Body: []byte(strings.Repeat("A", 5000)), ThreatScore: 85},
			level: "CRITICAL", action: "blocked", body: strings.Repeat("A", 4096),
			playbook: []string{ActCaptureReport, ActBlock, ActUpdateProfile},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeTriggers{}
			h, e := newTestHoneypot(t, st, 0)
			trap, ok := MatchTrap(tc.hit.Path)
			if !ok {
				t.Fatalf("no trap for %s", tc.hit.Path)
			}
			tc.hit.Trap = trap
			doc, queued := h.Record(t.Context(), tc.hit)
			if !queued {
				t.Fatal("not queued")
			}
			_, _, blocked := e.blocks.Blocked(tc.hit.IP)
			if blocked != (tc.action == "blocked") {
				t.Errorf("blocked = %v on return, want %v", blocked, tc.action == "blocked")
			}
			if err := h.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			// The playbook writes its incident on the responder's own queue: drain it too
			// before reading (otherwise the read races the write).
			if err := e.r.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := st.triggers()
			if len(got) != 1 {
				t.Fatalf("%d triggers written", len(got))
			}
			tr := got[0]
			if tr.TrapName != trap.Name || tr.IPAddress != tc.hit.IP || !tr.TriggeredAt.Equal(t0) || tr.RequestPath != tc.hit.Path ||
				tr.RequestMethod != tc.hit.Method || tr.ThreatLevel != tc.level || tr.ActionTaken != tc.action || tr.UserAgent != tc.hit.UserAgent {
				t.Errorf("trigger %+v", tr)
			}
			if tr.TrapName != doc.TrapName || tr.ActionTaken != doc.ActionTaken {
				t.Errorf("returned %+v, written %+v", doc, tr)
			}
			if !equalJSON(tr.RequestBody, tc.body) {
				t.Errorf("body %#v, want %#v", tr.RequestBody, tc.body)
			}
			if tr.Metadata["threat_score"] != tc.hit.ThreatScore || tr.Metadata["playbook"] != PlaybookHoneypot ||
				!incidentID.MatchString(tr.Metadata["incident_id"].(string)) {
				t.Errorf("metadata %+v", tr.Metadata)
			}
			if tc.hit.Headers != nil {
				hd := tr.RequestHeaders
				if len(hd) != maxHeaders {
					t.Errorf("%d headers kept, want %d", len(hd), maxHeaders)
				}
				if hd["authorization"] != "[REDACTED]" || hd["cookie"] != "[REDACTED]" {
					t.Errorf("credentials not redacted: %v %v", hd["authorization"], hd["cookie"])
				}
				if v, _ := hd["referer"].(string); len(v) != 200 {
					t.Errorf("long header kept as %d chars", len(v))
				}
				for k, v := range hd {
					if strings.Contains(v.(string), "secret") || k != strings.ToLower(k) {
						t.Errorf("header %s: %v", k, v)
					}
				}
			}
			stored := e.incidents.incidents()
			if len(stored) != 1 || stored[0].Category != CategoryHoneypot || stored[0].Playbook != PlaybookHoneypot {
				t.Fatalf("incidents %+v", stored)
			}
			var types []string
			for _, a := range stored[0].Actions {
				types = append(types, a.Type)
			}
			if !slices.Equal(types, tc.playbook) {
				t.Errorf("playbook actions %v, want %v", types, tc.playbook)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestHoneypotQueueBounded(t *testing.T) {
	st := &fakeTriggers{gate: make(chan struct{})}
	h, _ := newTestHoneypot(t, st, 2)
	trap, _ := MatchTrap("/.env")
	hit := TrapHit{Trap: trap, IP: "192.0.2.1", Path: "/.env", Method: "GET", At: time.Now()}
	accepted := 0
	for range 10 {
		begin := time.Now()
		if _, ok := h.Record(t.Context(), hit); ok {
			accepted++
		}
		if d := time.Since(begin); d > 100*time.Millisecond {
			t.Fatalf("Record waited %v on a stuck store", d)
		}
	}
	// One in the worker at most, two queued; the rest dropped and counted.
	if accepted < 2 || accepted > 3 || h.Stats().Queue.Dropped != uint64(10-accepted) {
		t.Errorf("accepted %d, stats %+v", accepted, h.Stats())
	}
	close(st.gate)
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(st.triggers()); n != accepted {
		t.Errorf("%d written after Close, want the %d accepted", n, accepted)
	}
}

func TestThreatLevel(t *testing.T) {
	for score, want := range map[int]string{0: "LOW", 29: "LOW", 30: "MEDIUM", 59: "MEDIUM", 60: "HIGH", 79: "HIGH", 80: "CRITICAL", 150: "CRITICAL"} {
		if got := ThreatLevel(score); got != want {
			t.Errorf("ThreatLevel(%d) = %s, want %s", score, got, want)
		}
	}
}

func TestKeepHeaders(t *testing.T) {
	padding := func(n int) map[string]string {
		h := make(map[string]string)
		for i := 1; i <= n; i++ {
			h[fmt.Sprintf("A%d", i)] = "pad" // as a client sends them, canonical case
		}
		return h
	}
	with := func(h map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = kv[i+1]
		}
		return h
	}
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]any // headers that must be kept, with their values
		dropped []string
		n       int
	}{
		{
			name: "padding cannot push out the evidence",
			in: with(padding(20), "User-Agent", "masscan/1.3", "Host", "victim.example", "Referer", "http://x/",
				"X-Forwarded-For", "198.51.100.7", "Cookie", "s=secret"),
			want: map[string]any{"user-agent": "masscan/1.3", "host": "victim.example", "referer": "http://x/",
				"x-forwarded-for": "198.51.100.7", "cookie": "[REDACTED]", "a1": "pad"},
			dropped: []string{"a9"}, // others fill the 15 free slots by name: a1, a10..a19, a2, a20, a3, a4
			n:       maxHeaders,
		},
		{
			name: "others fill the free slots by name",
			in:   with(padding(3), "Accept", "*/*"),
			want: map[string]any{"accept": "*/*", "a1": "pad", "a2": "pad", "a3": "pad"},
			n:    4,
		},
		{
			name: "names differing in case are one header",
			in:   map[string]string{"user-agent": "b", "User-Agent": "a"},
			want: map[string]any{"user-agent": "a"},
			n:    1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := keepHeaders(tc.in)
			if len(got) != tc.n {
				t.Errorf("%d headers kept, want %d: %v", len(got), tc.n, got)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range tc.dropped {
				if _, ok := got[k]; ok {
					t.Errorf("%s kept", k)
				}
			}
		})
	}
}
