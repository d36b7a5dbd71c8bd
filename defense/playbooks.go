package defense

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/neko-defense/neko/internal/slotcache"
	"github.com/neko-defense/neko/store"
)

// Playbook names (reference §4.2), as stored in security_incidents.playbook.
const (
	PlaybookCritical        = "CRITICAL_THREAT_RESPONSE"
	PlaybookActiveAttack    = "ACTIVE_ATTACK_DETECTED"
	PlaybookRateLimit       = "RATE_LIMIT_VIOLATION"
	PlaybookAutomation      = "AUTOMATION_DETECTED"
	PlaybookHoneypot        = "HONEYPOT_CAPTURE"
	PlaybookAnomaly         = "BEHAVIORAL_ANOMALY"
	PlaybookHighThreat      = "HIGH_THREAT_RESPONSE"
	PlaybookStandardMonitor = "STANDARD_MONITORING"
)

// Action types recorded in store.Incident.Actions.
const (
	ActBlock           = "block_ip"
	ActTemporaryBlock  = "temporary_block"
	ActQuarantine      = "quarantine"
	ActAlert           = "alert"
	ActEvidencePackage = "evidence_package"
	ActForensics       = "forensics"
	ActInvestigate     = "investigate"
	ActLog             = "log"
	ActCaptureReport   = "capture_report"
	ActUpdateProfile   = "update_threat_profile"
)

// IncidentStore persists incidents; store/mongo's Store satisfies it.
type IncidentStore interface {
	InsertIncident(ctx context.Context, in store.Incident) error
}

// AuditRecord is what the Responder reports to the audit log for each
// incident: Action "incident_<category>", Result "blocked" when the
// playbook blocked the address else "allowed", Details {incidentId,
// playbook, actions (their types)}.
type AuditRecord struct {
	At      time.Time
	Action  string
	IP      string
	Score   int
	Result  string
	Details map[string]any
}

// ResponderConfig configures a Responder. BlockList is required; every other
// zero value is a working default.
type ResponderConfig struct {
	// BlockList receives the playbooks' blocks. Required.
	BlockList *BlockList
	// IncidentStore receives every incident. Nil: incidents are only logged.
	IncidentStore IncidentStore
	// Alert raises an alert (level CRITICAL, HIGH or MEDIUM). Default: a
	// structured log event, ERROR for CRITICAL and HIGH, else WARN.
	Alert func(ctx context.Context, level, msg string, attrs ...any)
	// Audit receives one record per incident, after it is stored. Nil: none.
	Audit func(AuditRecord)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the playbooks' log, investigate and forensics events.
	Logger *slog.Logger
	// DefaultBlock is the length of a playbook's blockIP. Default 24h.
	DefaultBlock time.Duration
	// RateLimitBlock is RATE_LIMIT_VIOLATION's temporary block. Default 1h
	// (the original's 3600 s).
	RateLimitBlock time.Duration
	// HighThreatBlock is HIGH_THREAT_RESPONSE's temporary block. Default 2h
	// (7200 s).
	HighThreatBlock time.Duration
	// QueueSize bounds the incidents waiting to be written by HandleAsync.
	// Default 1024.
	QueueSize int
	// Workers is the number of goroutines writing them. Default 2.
	Workers int
	// WriteTimeout bounds one incident write. Default 5s.
	WriteTimeout time.Duration
	// MaxQuarantined bounds the quarantined fingerprints; the oldest is
	// released first. Default 100,000.
	MaxQuarantined int
	// MonitorInterval is how often Monitor records one address's
	// challenged requests: one STANDARD_MONITORING incident per address
	// per interval. Default 10 minutes.
	MonitorInterval time.Duration
	// MonitorRate bounds the monitoring incidents of all addresses, per
	// second. Default 10.
	MonitorRate float64
}

// Responder runs the incident playbooks of reference §4.2: it picks a
// playbook for an incident, applies its blocks through the BlockList,
// quarantines fingerprints, raises alerts, stores the incident and reports
// it to the audit hook. HandleAsync is the request-path form: the block is
// applied before it returns, the write and the audit run on owned workers.
type Responder struct {
	cfg    ResponderConfig
	now    func() time.Time
	log    *slog.Logger
	alert  func(ctx context.Context, level, msg string, attrs ...any)
	writes *queue

	quarMu    sync.Mutex // guards quar and quarOrder
	quar      map[string]struct{}
	quarOrder []string // FIFO ring of quar's keys, for eviction
	quarNext  int

	// monitored remembers when Monitor last recorded a client key; monitors
	// bounds the recording rate of all addresses together.
	monitored *slotcache.Cache[string, time.Time]
	monitors  *rate.Limiter

	handled     atomic.Uint64
	blocked     atomic.Uint64
	writeErrors atomic.Uint64
}

// NewResponder validates cfg and starts the write workers.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.BlockList == nil {
		return nil, errors.New("defense: ResponderConfig.BlockList is required")
	}
	for name, d := range map[string]*time.Duration{
		"DefaultBlock": &cfg.DefaultBlock, "RateLimitBlock": &cfg.RateLimitBlock,
		"HighThreatBlock": &cfg.HighThreatBlock, "WriteTimeout": &cfg.WriteTimeout,
		"MonitorInterval": &cfg.MonitorInterval,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("defense: ResponderConfig.%s must not be negative", name)
		}
	}
	if cfg.QueueSize < 0 || cfg.Workers < 0 || cfg.MaxQuarantined < 0 || cfg.MonitorRate < 0 {
		return nil, errors.New("defense: ResponderConfig sizes must not be negative")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.DefaultBlock, 24*time.Hour)
	def(&cfg.RateLimitBlock, time.Hour)
	def(&cfg.HighThreatBlock, 2*time.Hour)
	def(&cfg.WriteTimeout, 5*time.Second)
	def(&cfg.MonitorInterval, 10*time.Minute)
	if cfg.MonitorRate == 0 {
		cfg.MonitorRate = 10
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 1024
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.MaxQuarantined == 0 {
		cfg.MaxQuarantined = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Responder{
		cfg:    cfg,
		now:    orNow(cfg.Now),
		log:    cfg.Logger,
		alert:  cfg.Alert,
		writes: newQueue(cfg.QueueSize, cfg.Workers, cfg.WriteTimeout),
		quar:   make(map[string]struct{}),

		monitored: slotcache.New[string, time.Time](4096),
		monitors:  rate.NewLimiter(rate.Limit(cfg.MonitorRate), max(1, int(cfg.MonitorRate))),
	}
	if r.alert == nil {
		r.alert = r.logAlert
	}
	return r, nil
}

func (r *Responder) logAlert(ctx context.Context, level, msg string, attrs ...any) {
	l := slog.LevelWarn
	if level == "CRITICAL" || level == "HIGH" {
		l = slog.LevelError
	}
	r.log.Log(ctx, l, msg, append([]any{"alert_level", level}, attrs...)...)
}

// SelectPlaybook returns the playbook for an incident, by the first
// matching rule of reference §4.2: the category decides, then the severity.
func SelectPlaybook(category, severity string) string {
	switch category {
	case CategoryRateLimit:
		return PlaybookRateLimit
	case CategorySQLInjection, CategoryXSS, CategoryCommandInjection:
		return PlaybookActiveAttack
	case CategoryBot, CategoryAutomation:
		return PlaybookAutomation
	case CategoryAnomaly:
		return PlaybookAnomaly
	case CategoryHoneypot:
		return PlaybookHoneypot
	}
	switch severity {
	case store.SeverityCritical:
		return PlaybookCritical
	case store.SeverityHigh:
		return PlaybookHighThreat
	}
	return PlaybookStandardMonitor
}

// Handle runs the playbook for an incident, stores the incident and calls
// the audit hook, all before returning. category and severity are
// lower-cased; an unknown severity is recorded as "low". evidence may carry
// "fingerprint" and "user_id" (or "userId") strings, which identify the
// actor; it is stored as given and must not be modified afterwards. The
// returned incident is complete even when storing it fails (the error).
func (r *Responder) Handle(ctx context.Context, category, severity, ip string, score int, evidence map[string]any) (store.Incident, error) {
	in := r.respond(ctx, "", category, severity, ip, score, evidence)
	return in, r.record(ctx, in)
}

// HandleAsync runs the playbook, blocks included, before returning (so the
// caller's very next request is refused), then queues the incident's write
// and audit for the workers. It reports false when the queue was full and
// the record was dropped (counted in Stats); the playbook ran regardless.
func (r *Responder) HandleAsync(ctx context.Context, category, severity, ip string, score int, evidence map[string]any) (store.Incident, bool) {
	return r.handleAsync(ctx, r.respond(ctx, "", category, severity, ip, score, evidence))
}

func (r *Responder) handleAsync(ctx context.Context, in store.Incident) (store.Incident, bool) {
	ok := r.writes.push(func(ctx context.Context) { _ = r.record(ctx, in) })
	if !ok {
		r.log.Warn("defense: incident queue full, record dropped", "incident", in.IncidentID, "ip", in.Actor.IP)
	}
	return in, ok
}

// ClaimMonitor tells whether a challenged request (served, but suspicious)
// from the client with key (clientkey: an IPv4 address, an IPv6 client's
// /64) should be recorded by Monitor, and if so claims the record. A
// client that keeps being challenged (curl's default user agent scores 40
// on every request) would otherwise write one incident per request, so a
// client is recorded at most once per MonitorInterval, however many
// addresses of its /64 it uses, and all clients together at most
// MonitorRate times a second. It is one hash and one atomic load when the
// client was recorded recently.
func (r *Responder) ClaimMonitor(key string) bool {
	now := r.now()
	if last, ok := r.monitored.Get(key); ok && now.Sub(last) < r.cfg.MonitorInterval {
		return false
	}
	if !r.monitors.AllowN(now, 1) {
		return false
	}
	r.monitored.Put(strings.Clone(key), now)
	return true
}

// Monitor records a challenged request that ClaimMonitor claimed, as a
// suspicious_activity incident under STANDARD_MONITORING, which only logs:
// whatever its severity, a request the scorer let through never blocks.
// The write is queued like HandleAsync's.
func (r *Responder) Monitor(ctx context.Context, ip string, score int, severity string, evidence map[string]any) store.Incident {
	in, _ := r.handleAsync(ctx, r.respond(ctx, PlaybookStandardMonitor, CategorySuspicious, severity, ip, score, evidence))
	return in
}

// Quarantined reports whether a fingerprint has been quarantined by a
// playbook.
func (r *Responder) Quarantined(fingerprint string) bool {
	r.quarMu.Lock()
	defer r.quarMu.Unlock()
	_, ok := r.quar[fingerprint]
	return ok
}

// ResponderStats counts the Responder's work.
type ResponderStats struct {
	Handled     uint64 // incidents handled
	Blocked     uint64 // incidents whose playbook blocked the address
	WriteErrors uint64 // incidents the store refused
	Quarantined int    // fingerprints in quarantine
	Queue       QueueStats
}

// Stats returns counters for metrics and the admin view.
func (r *Responder) Stats() ResponderStats {
	r.quarMu.Lock()
	q := len(r.quar)
	r.quarMu.Unlock()
	return ResponderStats{
		Handled: r.handled.Load(), Blocked: r.blocked.Load(), WriteErrors: r.writeErrors.Load(),
		Quarantined: q, Queue: r.writes.stats(),
	}
}

// Close stops intake and waits until the queued incidents are written or
// ctx ends.
func (r *Responder) Close(ctx context.Context) error { return r.writes.close(ctx) }

// playbookRun is the state of one playbook execution.
type playbookRun struct {
	r   *Responder
	ctx context.Context
	in  *store.Incident
}

func (x *playbookRun) step(typ, detail string) {
	x.in.Actions = append(x.in.Actions, store.IncidentAction{Type: typ, Detail: detail, At: x.r.now().UTC()})
}

func (x *playbookRun) attrs() []any {
	return []any{"incident", x.in.IncidentID, "playbook", x.in.Playbook, "category", x.in.Category,
		"ip", x.in.Actor.IP, "threat_score", x.in.ThreatScore}
}

// block applies a block; temporary blocks carry the reason of the
// original's temporaryBlock.
func (x *playbookRun) block(d time.Duration, temporary bool) {
	now := x.r.now()
	blk := Block{IP: x.in.Actor.IP, BlockedAt: now, Until: now.Add(d), Temporary: temporary,
		Reason: fmt.Sprintf("%s (%s)", x.in.Playbook, x.in.IncidentID)}
	typ := ActBlock
	if temporary {
		blk.Reason = "Temporary block: " + blk.Reason
		typ = ActTemporaryBlock
	}
	if err := x.r.cfg.BlockList.add(x.ctx, blk); err != nil {
		// Not applied: most often an address the list refuses (ErrNotBlockable),
		// such as a trusted proxy whose request lacked the client's address.
		x.r.log.Log(x.ctx, slog.LevelWarn, "defense: playbook block not applied", append(x.attrs(), "err", err)...)
		x.step(typ, "not applied: "+err.Error())
		return
	}
	x.in.AutoBlocked = true
	x.step(typ, d.String())
}

func (x *playbookRun) quarantine() {
	fp := x.in.Actor.Fingerprint
	if fp == "" {
		x.step(ActQuarantine, "no fingerprint")
		return
	}
	x.r.quarantine(fp)
	x.step(ActQuarantine, fp)
}

func (x *playbookRun) alert(level string) {
	msg := fmt.Sprintf("security incident %s: %s", x.in.Playbook, x.in.Description)
	x.r.alert(x.ctx, level, msg, x.attrs()...)
	x.step(ActAlert, level)
}

func (x *playbookRun) note(typ, msg string, extra ...any) {
	x.r.log.Log(x.ctx, slog.LevelWarn, msg, append(x.attrs(), extra...)...)
	x.step(typ, msg)
}

// respond builds the incident and runs its playbook: the given one, or when
// playbook is "" the one SelectPlaybook picks.
func (r *Responder) respond(ctx context.Context, playbook, category, severity, ip string, score int, evidence map[string]any) store.Incident {
	category, severity = strings.ToLower(category), strings.ToLower(severity)
	switch severity {
	case store.SeverityLow, store.SeverityMedium, store.SeverityHigh, store.SeverityCritical:
	default:
		severity = store.SeverityLow
	}
	now := r.now()
	in := store.Incident{
		IncidentID:  newID("INC", now),
		Timestamp:   now.UTC(),
		Severity:    severity,
		Category:    category,
		Description: fmt.Sprintf("%s from %s (threat score %d)", category, ip, score),
		Actor:       store.IncidentActor{IP: ip, Fingerprint: evidenceString(evidence, "fingerprint"), UserID: cmp.Or(evidenceString(evidence, "user_id"), evidenceString(evidence, "userId"))},
		Evidence:    evidence,
		ThreatScore: score,
		Playbook:    cmp.Or(playbook, SelectPlaybook(category, severity)),
		Actions:     make([]store.IncidentAction, 0, 4),
	}
	x := &playbookRun{r: r, ctx: ctx, in: &in}
	switch in.Playbook {
	case PlaybookCritical:
		x.block(r.cfg.DefaultBlock, false)
		if in.Actor.Fingerprint != "" {
			x.quarantine()
		}
		x.alert("CRITICAL")
		x.note(ActEvidencePackage, "evidence package created", "evidence", evidence)
	case PlaybookActiveAttack:
		x.block(r.cfg.DefaultBlock, false)
		x.note(ActForensics, "forensics captured", "forensics", map[string]any{"timestamp": in.Timestamp, "evidence": evidence, "category": category})
		x.alert("HIGH")
		x.note(ActInvestigate, "investigating related activity")
	case PlaybookRateLimit:
		x.block(r.cfg.RateLimitBlock, true)
		x.note(ActLog, "rate limit violation")
		x.note(ActInvestigate, "investigating related activity")
	case PlaybookAutomation:
		x.quarantine()
		x.note(ActLog, "automation detected")
		if score >= 70 {
			x.block(r.cfg.DefaultBlock, false)
		}
	case PlaybookHoneypot:
		x.note(ActCaptureReport, "honeypot capture", "capture", map[string]any{"captureId": newID("CAP", now), "timestamp": in.Timestamp, "evidence": evidence})
		if score >= 60 {
			x.block(r.cfg.DefaultBlock, false)
		} else {
			x.note(ActInvestigate, "investigating related activity")
		}
		x.note(ActUpdateProfile, "update threat actor profile")
	case PlaybookAnomaly:
		x.note(ActInvestigate, "investigating related activity")
		x.note(ActLog, "behavioral anomaly")
		if score >= 80 {
			x.block(r.cfg.DefaultBlock, false)
		}
	case PlaybookHighThreat:
		x.block(r.cfg.HighThreatBlock, true)
		x.alert("MEDIUM")
		x.note(ActInvestigate, "investigating related activity")
	default:
		x.note(ActLog, "security event monitored")
	}
	r.handled.Add(1)
	if in.AutoBlocked {
		r.blocked.Add(1)
	}
	return in
}

// record stores the incident and reports it to the audit hook.
func (r *Responder) record(ctx context.Context, in store.Incident) error {
	var err error
	if r.cfg.IncidentStore != nil {
		if err = r.cfg.IncidentStore.InsertIncident(ctx, in); err != nil {
			r.writeErrors.Add(1)
			r.log.Error("defense: store incident", "incident", in.IncidentID, "err", err)
			err = fmt.Errorf("store incident %s: %w", in.IncidentID, err)
		}
	}
	if r.cfg.Audit != nil {
		types := make([]string, len(in.Actions))
		for i, a := range in.Actions {
			types[i] = a.Type
		}
		result := "allowed"
		if in.AutoBlocked {
			result = "blocked"
		}
		r.cfg.Audit(AuditRecord{
			At: in.Timestamp, Action: "incident_" + in.Category, IP: in.Actor.IP, Score: in.ThreatScore, Result: result,
			Details: map[string]any{"incidentId": in.IncidentID, "playbook": in.Playbook, "actions": types},
		})
	}
	return err
}

func (r *Responder) quarantine(fp string) {
	r.quarMu.Lock()
	defer r.quarMu.Unlock()
	if _, ok := r.quar[fp]; ok {
		return
	}
	if len(r.quarOrder) < r.cfg.MaxQuarantined {
		r.quarOrder = append(r.quarOrder, fp)
	} else {
		delete(r.quar, r.quarOrder[r.quarNext])
		r.quarOrder[r.quarNext] = fp
		r.quarNext = (r.quarNext + 1) % len(r.quarOrder)
	}
	r.quar[fp] = struct{}{}
}

func evidenceString(ev map[string]any, key string) string {
	s, _ := ev[key].(string)
	return s
}
