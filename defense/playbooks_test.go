package defense

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neko-defense/neko/store"
)

// fakeIncidents records incidents; when gate is set each insert waits for it
// (or for its context).
type fakeIncidents struct {
	mu   sync.Mutex // guards got
	got  []store.Incident
	gate chan struct{}
	err  error
}

func (f *fakeIncidents) InsertIncident(ctx context.Context, in store.Incident) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, in)
	return f.err
}

func (f *fakeIncidents) incidents() []store.Incident {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

type alertRec struct{ level, msg string }

type responderEnv struct {
	clock     *fakeClock
	blocks    *BlockList
	incidents *fakeIncidents
	r         *Responder

	mu     sync.Mutex // guards audits and alerts
	audits []AuditRecord
	alerts []alertRec
}

func newResponderEnv(t *testing.T, cfg ResponderConfig) *responderEnv {
	t.Helper()
	e := &responderEnv{clock: newFakeClock(), incidents: &fakeIncidents{}}
	if cfg.IncidentStore == nil {
		cfg.IncidentStore = e.incidents
	} else {
		e.incidents = cfg.IncidentStore.(*fakeIncidents)
	}
	e.blocks = newTestBlockList(t, BlockListConfig{Now: e.clock.Now})
	cfg.BlockList = e.blocks
	cfg.Now = e.clock.Now
	cfg.Logger = testLogger(t)
	cfg.Audit = func(a AuditRecord) { e.mu.Lock(); e.audits = append(e.audits, a); e.mu.Unlock() }
	cfg.Alert = func(_ context.Context, level, msg string, _ ...any) {
		e.mu.Lock()
		e.alerts = append(e.alerts, alertRec{level, msg})
		e.mu.Unlock()
	}
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	e.r = r
	return e
}

var incidentID = regexp.MustCompile(`^INC-[0-9]{13}-[0-9A-Z]{7}$`)

func TestPlaybooks(t *testing.T) {
	fp := map[string]any{"fingerprint": "fp-1", "user_id": "wakibaka"}
	tests := []struct {
		name, category, severity string
		score                    int
		evidence                 map[string]any
		playbook                 string
		actions                  []string
		block                    time.Duration // 0: not blocked
		temporary                bool
		alert                    string
		quarantined              bool
	}{
		{"critical", "data_exfiltration", "critical", 95, fp, PlaybookCritical,
			[]string{ActBlock, ActQuarantine, ActAlert, ActEvidencePackage}, 24 * time.Hour, false, "CRITICAL", true},
		{"critical without fingerprint", "data_exfiltration", "CRITICAL", 95, nil, PlaybookCritical,
			[]string{ActBlock, ActAlert, ActEvidencePackage}, 24 * time.Hour, false, "CRITICAL", false},
		{"sql injection", CategorySQLInjection, "high", 85, nil, PlaybookActiveAttack,
			[]string{ActBlock, ActForensics, ActAlert, ActInvestigate}, 24 * time.Hour, false, "HIGH", false},
		{"xss", CategoryXSS, "low", 35, nil, PlaybookActiveAttack,
			[]string{ActBlock, ActForensics, ActAlert, ActInvestigate}, 24 * time.Hour, false, "HIGH", false},
		{"command injection", CategoryCommandInjection, "medium", 40, nil, PlaybookActiveAttack,
			[]string{ActBlock, ActForensics, ActAlert, ActInvestigate}, 24 * time.Hour, false, "HIGH", false},
		{"rate limit", CategoryRateLimit, "critical", 70, nil, PlaybookRateLimit,
			[]string{ActTemporaryBlock, ActLog, ActInvestigate}, time.Hour, true, "", false},
		{"automation below 70", CategoryAutomation, "medium", 69, fp, PlaybookAutomation,
			[]string{ActQuarantine, ActLog}, 0, false, "", true},
		{"bot at 70", CategoryBot, "high", 70, nil, PlaybookAutomation,
			[]string{ActQuarantine, ActLog, ActBlock}, 24 * time.Hour, false, "", false},
		{"honeypot below 60", CategoryHoneypot, "medium", 59, nil, PlaybookHoneypot,
			[]string{ActCaptureReport, ActInvestigate, ActUpdateProfile}, 0, false, "", false},
		{"honeypot at 60", CategoryHoneypot, "high", 60, nil, PlaybookHoneypot,
			[]string{ActCaptureReport, ActBlock, ActUpdateProfile}, 24 * time.Hour, false, "", false},
		{"anomaly below 80", CategoryAnomaly, "high", 79, nil, PlaybookAnomaly,
			[]string{ActInvestigate, ActLog}, 0, false, "", false},
		{"anomaly at 80", CategoryAnomaly, "high", 80, nil, PlaybookAnomaly,
			[]string{ActInvestigate, ActLog, ActBlock}, 24 * time.Hour, false, "", false},
		{"high threat", "unusual", "high", 75, nil, PlaybookHighThreat,
			[]string{ActTemporaryBlock, ActAlert, ActInvestigate}, 2 * time.Hour, true, "MEDIUM", false},
		{"standard", "unusual", "medium", 45, nil, PlaybookStandardMonitor, []string{ActLog}, 0, false, "", false},
		{"unknown severity", "", "bogus", 10, nil, PlaybookStandardMonitor, []string{ActLog}, 0, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newResponderEnv(t, ResponderConfig{})
			const ip = "203.0.113.66"
			in, err := e.r.Handle(t.Context(), tc.category, tc.severity, ip, tc.score, tc.evidence)
			if err != nil {
				t.Fatal(err)
			}
			if in.Playbook != tc.playbook || SelectPlaybook(in.Category, in.Severity) != tc.playbook {
				t.Errorf("playbook %s, want %s", in.Playbook, tc.playbook)
			}
			types := make([]string, len(in.Actions))
			for i, a := range in.Actions {
				types[i] = a.Type
				if !a.At.Equal(t0) {
					t.Errorf("action %s at %v", a.Type, a.At)
				}
			}
			if !slices.Equal(types, tc.actions) {
				t.Errorf("actions %v, want %v", types, tc.actions)
			}
			if !incidentID.MatchString(in.IncidentID) || !in.Timestamp.Equal(t0) || in.Actor.IP != ip || in.ThreatScore != tc.score {
				t.Errorf("incident %+v", in)
			}
			if tc.severity == "bogus" && in.Severity != "low" {
				t.Errorf("severity %q, want low", in.Severity)
			}
			if tc.evidence != nil && (in.Actor.Fingerprint != "fp-1" || in.Actor.UserID != "wakibaka") {
				t.Errorf("actor %+v", in.Actor)
			}

			until, _, blocked := e.blocks.Blocked(ip)
			if blocked != (tc.block > 0) || in.AutoBlocked != blocked {
				t.Fatalf("blocked %v (auto %v), want %v", blocked, in.AutoBlocked, tc.block > 0)
			}
			if blocked {
				if !until.Equal(t0.Add(tc.block)) {
					t.Errorf("blocked until %v, want now+%v", until, tc.block)
				}
				if l := e.blocks.List(); len(l) != 1 || l[0].Temporary != tc.temporary {
					t.Errorf("block %+v, want temporary %v", l, tc.temporary)
				}
				e.clock.Advance(tc.block)
				if _, _, still := e.blocks.Blocked(ip); still {
					t.Errorf("still blocked after %v", tc.block)
				}
			}
			if got := e.r.Quarantined("fp-1"); got != tc.quarantined {
				t.Errorf("quarantined %v, want %v", got, tc.quarantined)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			var levels []string
			for _, a := range e.alerts {
				levels = append(levels, a.level)
			}
			if want := []string{tc.alert}; tc.alert != "" && !slices.Equal(levels, want) || tc.alert == "" && len(levels) != 0 {
				t.Errorf("alerts %v, want %q", levels, tc.alert)
			}

			stored := e.incidents.incidents()
			if len(stored) != 1 || stored[0].IncidentID != in.IncidentID {
				t.Fatalf("stored %+v", stored)
			}
			if len(e.audits) != 1 {
				t.Fatalf("audits %+v", e.audits)
			}
			a := e.audits[0]
			result := "allowed"
			if blocked {
				result = "blocked"
			}
			if a.Action != "incident_"+in.Category || a.IP != ip || a.Score != tc.score || a.Result != result ||
				a.Details["incidentId"] != in.IncidentID || a.Details["playbook"] != tc.playbook ||
				!slices.Equal(a.Details["actions"].([]string), tc.actions) {
				t.Errorf("audit %+v", a)
			}
		})
	}
}

func TestHandleStoreError(t *testing.T) {
	boom := errors.New("boom")
	e := newResponderEnv(t, ResponderConfig{IncidentStore: &fakeIncidents{err: boom}})
	in, err := e.r.Handle(t.Context(), CategorySQLInjection, "high", "192.0.2.9", 90, nil)
	if !errors.Is(err, boom) || in.IncidentID == "" {
		t.Errorf("Handle = %v, %v; want the incident and the store error", in.IncidentID, err)
	}
	if _, _, ok := e.blocks.Blocked("192.0.2.9"); !ok {
		t.Error("a store failure undid the block")
	}
	if e.r.Stats().WriteErrors != 1 {
		t.Errorf("stats %+v", e.r.Stats())
	}
}

func TestHandleAsync(t *testing.T) {
	gate := make(chan struct{})
	inc := &fakeIncidents{gate: gate}
	e := newResponderEnv(t, ResponderConfig{IncidentStore: inc, QueueSize: 1, Workers: 1})
	ctx := t.Context()

	// The block is in force when HandleAsync returns, while the write waits.
	in, ok := e.r.HandleAsync(ctx, CategorySQLInjection, "high", "198.51.100.1", 90, nil)
	if !ok || !in.AutoBlocked {
		t.Fatalf("HandleAsync = %+v, %v", in, ok)
	}
	if _, _, blocked := e.blocks.Blocked("198.51.100.1"); !blocked {
		t.Fatal("not blocked on return")
	}
	// The worker holds the first record; the queue holds one more; the next
	// is dropped and counted.
	waitFor(t, func() bool { return e.r.Stats().Queue.Queued == 0 })
	if _, ok := e.r.HandleAsync(ctx, CategoryRateLimit, "high", "198.51.100.2", 70, nil); !ok {
		t.Fatal("second record refused with room in the queue")
	}
	if _, ok := e.r.HandleAsync(ctx, CategoryRateLimit, "high", "198.51.100.3", 70, nil); ok {
		t.Fatal("third record accepted by a full queue")
	}
	if _, _, blocked := e.blocks.Blocked("198.51.100.3"); !blocked {
		t.Error("a dropped record also dropped the block")
	}
	if st := e.r.Stats(); st.Queue.Dropped != 1 || st.Handled != 3 || st.Blocked != 3 {
		t.Errorf("stats %+v", st)
	}
	close(gate)
	if err := e.r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := inc.incidents(); len(got) != 2 {
		t.Errorf("written %d incidents after Close, want the 2 queued", len(got))
	}
	if len(e.audits) != 2 {
		t.Errorf("%d audits, want 2", len(e.audits))
	}
	if _, ok := e.r.HandleAsync(ctx, CategoryRateLimit, "high", "198.51.100.4", 70, nil); ok {
		t.Error("accepted after Close")
	}
}

func TestResponderCloseDeadline(t *testing.T) {
	inc := &fakeIncidents{gate: make(chan struct{})} // never opens
	e := newResponderEnv(t, ResponderConfig{IncidentStore: inc, QueueSize: 8, Workers: 1, WriteTimeout: time.Minute})
	for range 3 {
		e.r.HandleAsync(t.Context(), CategoryAnomaly, "low", "192.0.2.1", 10, nil)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := e.r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want deadline exceeded", err)
	}
}

func TestQuarantineBounded(t *testing.T) {
	e := newResponderEnv(t, ResponderConfig{MaxQuarantined: 2})
	for _, fp := range []string{"a", "b", "c"} {
		e.r.Handle(t.Context(), CategoryAutomation, "low", "192.0.2.1", 10, map[string]any{"fingerprint": fp})
	}
	if e.r.Quarantined("a") || !e.r.Quarantined("b") || !e.r.Quarantined("c") || e.r.Stats().Quarantined != 2 {
		t.Errorf("quarantine kept a=%v b=%v c=%v", e.r.Quarantined("a"), e.r.Quarantined("b"), e.r.Quarantined("c"))
	}
}

func TestNewResponderValidates(t *testing.T) {
	if _, err := NewResponder(ResponderConfig{}); err == nil {
		t.Error("accepted without a BlockList")
	}
}

// waitFor waits for a worker to reach a state it does not signal (picking a
// job from the queue).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestVerdictPlaybooks follows scored requests into the playbooks: every
// playbook the scorer can lead to, from the category and severity of its
// verdict (HONEYPOT_CAPTURE is the honeypot's, RATE_LIMIT_VIOLATION also
// the rate limiter's).
func TestVerdictPlaybooks(t *testing.T) {
	with := func(r RequestInfo, f func(*RequestInfo)) RequestInfo { f(&r); return r }
	tests := []struct {
		name     string
		req      RequestInfo
		playbook string
		block    time.Duration
	}{
		{"probing path, critical", browser("ip", "/admin/../../.env", t0), PlaybookCritical, 24 * time.Hour},
		{"probing path, high", browser("ip", "/files/../.git/config", t0), PlaybookHighThreat, 2 * time.Hour},
		{"injection", browser("ip", "/api/x?q=union+select+a+from+b&f=../x", t0), PlaybookActiveAttack, 24 * time.Hour},
		{"attack tool", with(browser("ip", "/", t0), func(r *RequestInfo) { r.UserAgent = "sqlmap/1.7" }), PlaybookAutomation, 24 * time.Hour},
		{"anomaly", with(RequestInfo{IP: "ip", Method: "POST", Path: "/graphql", Now: t0}, func(r *RequestInfo) { r.PayloadSize = 11 << 20 }),
			PlaybookAnomaly, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestScorer(t, ScorerConfig{}).Score(tc.req)
			if v.Action != ActionBlock {
				t.Fatalf("verdict %+v, want a block", v)
			}
			e := newResponderEnv(t, ResponderConfig{})
			in, _ := e.r.HandleAsync(context.Background(), v.Category, v.Severity(), "203.0.113.9", v.Score, nil)
			if in.Playbook != tc.playbook {
				t.Errorf("category %q severity %q (raw %d): playbook %s, want %s", v.Category, v.Severity(), v.Raw, in.Playbook, tc.playbook)
			}
			_, _, blocked := e.blocks.Blocked("203.0.113.9")
			if blocked != (tc.block > 0) {
				t.Errorf("blocked = %v, want %v", blocked, tc.block > 0)
			}
		})
	}
}

func TestMonitor(t *testing.T) {
	e := newResponderEnv(t, ResponderConfig{MonitorInterval: time.Minute, MonitorRate: 3})
	if !e.r.ClaimMonitor("203.0.113.1") {
		t.Fatal("first challenge of an address not claimed")
	}
	// A severe score does not change the playbook: the request was served.
	in := e.r.Monitor(context.Background(), "203.0.113.1", 75, "high", map[string]any{"signal": CategoryAutomation})
	if in.Playbook != PlaybookStandardMonitor || in.Category != CategorySuspicious || in.Severity != "high" ||
		len(in.Actions) != 1 || in.Actions[0].Type != ActLog || in.AutoBlocked {
		t.Errorf("monitoring incident %+v", in)
	}
	if _, _, blocked := e.blocks.Blocked("203.0.113.1"); blocked {
		t.Error("monitoring blocked the address")
	}
	waitFor(t, func() bool { return len(e.incidents.incidents()) == 1 })

	if e.r.ClaimMonitor("203.0.113.1") {
		t.Error("second challenge within the interval claimed")
	}
	// Other addresses share MonitorRate (3 a second, one used).
	if !e.r.ClaimMonitor("203.0.113.2") || !e.r.ClaimMonitor("203.0.113.3") {
		t.Error("other addresses not claimed within the rate")
	}
	if e.r.ClaimMonitor("203.0.113.4") {
		t.Error("claimed beyond MonitorRate")
	}
	e.clock.Advance(time.Minute)
	if !e.r.ClaimMonitor("203.0.113.1") {
		t.Error("address not claimed again after the interval")
	}
}

// A playbook block of an address the list refuses (a trusted proxy's, loopback) is not applied:
// the incident records the block action as not applied, and nobody is blocked.
func TestPlaybookBlockOfUnblockableAddress(t *testing.T) {
	clock := newFakeClock()
	blocks := newTestBlockList(t, BlockListConfig{Now: clock.Now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}})
	r, err := NewResponder(ResponderConfig{BlockList: blocks, Now: clock.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	for _, ip := range []string{"172.16.5.4", "127.0.0.1", "::1"} {
		in, err := r.Handle(t.Context(), CategoryHoneypot, "high", ip, 90, nil)
		if err != nil {
			t.Fatal(err)
		}
		var blockAction *store.IncidentAction
		for i, a := range in.Actions {
			if a.Type == ActBlock {
				blockAction = &in.Actions[i]
			}
		}
		if blockAction == nil || !strings.HasPrefix(blockAction.Detail, "not applied") {
			t.Errorf("%s: actions %+v, want the block recorded as not applied", ip, in.Actions)
		}
		if _, _, blocked := blocks.Blocked(ip); blocked || in.AutoBlocked {
			t.Errorf("%s: blocked %v (auto %v), want neither", ip, blocked, in.AutoBlocked)
		}
	}
}

// TestPlaybookBlocksIPv6Prefix checks that a playbook's block of an IPv6 client covers its /64,
// which the client can rotate through, while the incident keeps the exact address as evidence.
func TestPlaybookBlocksIPv6Prefix(t *testing.T) {
	e := newResponderEnv(t, ResponderConfig{})
	in, err := e.r.Handle(t.Context(), CategoryHoneypot, "high", "2001:db8:1:2::1", 80, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !in.AutoBlocked || in.Actor.IP != "2001:db8:1:2::1" {
		t.Fatalf("incident actor %q, auto-blocked %v: want the exact address, blocked", in.Actor.IP, in.AutoBlocked)
	}
	if _, _, ok := e.blocks.BlockedClient("2001:db8:1:2::/64", "2001:db8:1:2::2"); !ok {
		t.Error("another address of the /64 is not blocked")
	}
	if _, _, ok := e.blocks.BlockedClient("2001:db8:1:3::/64", "2001:db8:1:3::1"); ok {
		t.Error("the next /64 is blocked")
	}
	if l := e.blocks.List(); len(l) != 1 || l[0].IP != "2001:db8:1:2::/64" {
		t.Errorf("block list %+v, want the /64", l)
	}
}
