package defense

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/neko-defense/neko/store"
)

// Trap is a honeypot route: a path no legitimate client asks for, answered
// with a decoy.
type Trap struct {
	// Name is stored as honeypot_triggers.trap_name.
	Name string
	// Pattern is the path, lower case; with Prefix it matches Pattern + "/"
	// and anything below it.
	Pattern string
	Prefix  bool
	// Status, ContentType and Body are the decoy response.
	Status      int
	ContentType string
	Body        []byte
}

const (
	ctJSON = "application/json; charset=utf-8"
	ctHTML = "text/html; charset=utf-8"
	ctText = "text/plain; charset=utf-8"
)

// Decoy bodies. Every credential in them is fake and says so to a human
// reader; they only need to look plausible to a scanner.
const (
	decoyWPLogin = `<!DOCTYPE html><html><head><title>Log In &lsaquo; WordPress</title></head><body class="login">` +
		`<h1>WordPress</h1><form name="loginform" id="loginform" action="/wp-login.php" method="post">` +
		`<p><label for="user_login">Username or Email Address</label><input type="text" name="log" id="user_login"></p>` +
		`<p><label for="user_pass">Password</label><input type="password" name="pwd" id="user_pass"></p>` +
		`<p><input type="submit" name="wp-submit" id="wp-submit" value="Log In"></p></form></body></html>`
	decoyEnv = "APP_ENV=production\nDB_HOST=db.internal.example\nDB_PORT=5432\nDB_USER=admin\n" +
		"DB_PASS=not-a-real-password-honeypot\nAPI_KEY=sk_test_honeypot_fake_0000000000\n"
	decoyPasswords = "admin:$2y$10$honeypotfakehashhoneypotfakehashhoneypotfakehash0\n" +
		"root:$2y$10$honeypotfakehashhoneypotfakehashhoneypotfakehash1\n"
	decoyAPIKeys     = `{"api_key":"sk_live_honeypot_fake_key_0000000000","status":"active"}`
	decoyPhpMyAdmin  = `{"error":"Access denied for user 'root'@'localhost'"}`
	decoyAdminPanel  = `{"error":"Unauthorized","message":"Admin access denied"}`
	honeypotStatus   = 403
	maxHeaderValue   = 200
	maxHeaders       = 20
	maxBodyKept      = 4 << 10
	maxBodyJSONDepth = 16
)

// traps returns the trap table of reference §4.3, in the original's route
// order (an exact trap is tried before a prefix trap of the same path).
func traps() []Trap {
	denied := func(name string) []byte { return []byte(`{"error":"Access Denied","trap":"` + name + `"}`) }
	t := func(pattern, name string) Trap {
		return Trap{Name: name, Pattern: pattern, Status: honeypotStatus, ContentType: ctJSON, Body: denied(name)}
	}
	with := func(tr Trap, ct, body string) Trap {
		tr.ContentType, tr.Body = ct, []byte(body)
		return tr
	}
	prefix := func(tr Trap) Trap {
		tr.Prefix = true
		return tr
	}
	return []Trap{
		with(t("/admin", "admin_panel"), ctJSON, decoyAdminPanel),
		prefix(t("/admin", "admin_panel_deep")),
		t("/administrator", "joomla_admin"),
		t("/wp-admin", "wordpress_admin"),
		prefix(t("/wp-admin", "wordpress_admin_deep")),
		with(t("/wp-login.php", "wordpress_login"), ctHTML, decoyWPLogin),
		with(t("/phpmyadmin", "phpmyadmin"), ctJSON, decoyPhpMyAdmin),
		t("/pma", "phpmyadmin_short"),
		t("/mysql", "mysql_admin"),
		t("/database", "database_access"),
		t("/db", "database_short"),
		t("/backup.sql", "sql_backup"),
		t("/dump.sql", "sql_dump"),
		t("/users.sql", "users_sql"),
		with(t("/.env", "env_file"), ctText, decoyEnv),
		t("/config.php", "php_config"),
		t("/wp-config.php", "wordpress_config"),
		t("/configuration.php", "joomla_config"),
		t("/.git/config", "git_config"),
		t("/.aws/credentials", "aws_credentials"),
		with(t("/passwords.txt", "password_file"), ctText, decoyPasswords),
		t("/users.txt", "users_file"),
		t("/credentials.json", "credentials_json"),
		t("/secrets", "secrets_endpoint"),
		with(t("/api/keys", "api_keys"), ctJSON, decoyAPIKeys),
		t("/private", "private_area"),
		t("/shell.php", "php_shell"),
		t("/cmd.php", "php_cmd"),
		t("/execute", "execute_endpoint"),
		t("/eval", "eval_endpoint"),
		t("/upload.php", "file_upload"),
		t("/api/admin", "api_admin"),
		t("/api/user/delete", "api_user_delete"),
		t("/api/exec", "api_exec"),
	}
}

// trapTable indexes traps() for MatchTrap. It is built once and never
// written; MatchTrap hands out copies.
var trapTable = func() (tt struct {
	exact  map[string]Trap
	prefix []Trap
	maxLen int
},
) {
	tt.exact = make(map[string]Trap)
	for _, tr := range traps() {
		if tr.Prefix {
			tt.prefix = append(tt.prefix, tr)
			continue
		}
		tt.exact[tr.Pattern] = tr
		tt.maxLen = max(tt.maxLen, len(tr.Pattern))
	}
	return tt
}()

// Traps returns the trap table (a fresh copy), exact traps and the two
// prefix traps (/admin/*, /wp-admin/*), for registering routes.
func Traps() []Trap { return traps() }

// MatchTrap returns the trap for a request path: case-insensitive, query
// string ignored, one trailing slash ignored for exact traps (as Express's
// non-strict routing), prefix traps matching anything below their path.
// It does not allocate when nothing matches.
func MatchTrap(path string) (Trap, bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	trimmed := path
	if len(trimmed) > 1 && trimmed[len(trimmed)-1] == '/' {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if len(trimmed) <= trapTable.maxLen {
		var buf [64]byte
		low := appendLower(buf[:0], trimmed)
		if tr, ok := trapTable.exact[string(low)]; ok {
			return cloneTrap(tr), true
		}
	}
	for _, tr := range trapTable.prefix {
		p := tr.Pattern
		if len(path) > len(p) && path[len(p)] == '/' && strings.EqualFold(path[:len(p)], p) {
			return cloneTrap(tr), true
		}
	}
	return Trap{}, false
}

func cloneTrap(tr Trap) Trap {
	tr.Body = slices.Clone(tr.Body)
	return tr
}

// TrapHit is one request that hit a trap.
type TrapHit struct {
	Trap      Trap
	IP        string
	Method    string
	Path      string
	UserAgent string
	// Headers are the request headers; Record keeps at most 20 (those that
	// identify the client first, then by name), values cut to 200 characters, and never the values of credentials
	// (Authorization, Proxy-Authorization, Cookie, X-Api-Key).
	Headers map[string]string
	// Body is the request body; Record keeps at most 4 KiB, as a JSON
	// object when it is one, else as text.
	Body []byte
	// ThreatScore is the request's score (Scorer.Score). It selects the
	// stored threat_level and whether HONEYPOT_CAPTURE blocks (from 60).
	ThreatScore int
	// At is when the hit happened; zero means now.
	At time.Time
}

// TriggerStore persists trap hits; store/mongo's Store satisfies it.
type TriggerStore interface {
	InsertHoneypotTrigger(ctx context.Context, t store.HoneypotTrigger) error
}

// HoneypotConfig configures a Honeypot. Every zero value is a working
// default.
type HoneypotConfig struct {
	// Triggers receives the trigger documents. Nil: hits are only logged.
	Triggers TriggerStore
	// Responder runs HONEYPOT_CAPTURE for each hit. Nil: no playbook.
	Responder *Responder
	// QueueSize bounds the trigger documents waiting to be written.
	// Default 1024.
	QueueSize int
	// WriteTimeout bounds one write. Default 5s.
	WriteTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one event per hit and the write failures.
	Logger *slog.Logger
}

// Honeypot records trap hits: one honeypot_triggers document each, written
// by an owned worker from a bounded queue, and the HONEYPOT_CAPTURE playbook.
type Honeypot struct {
	cfg         HoneypotConfig
	now         func() time.Time
	log         *slog.Logger
	writes      *queue
	writeErrors atomic.Uint64
}

// NewHoneypot validates cfg and starts the writer.
func NewHoneypot(cfg HoneypotConfig) (*Honeypot, error) {
	if cfg.QueueSize < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("defense: HoneypotConfig.QueueSize and WriteTimeout must not be negative")
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 1024
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Honeypot{cfg: cfg, now: orNow(cfg.Now), log: cfg.Logger, writes: newQueue(cfg.QueueSize, 1, cfg.WriteTimeout)}, nil
}

// ThreatLevel maps a threat score to the stored threat_level of a trigger:
// CRITICAL from 80, HIGH from 60 (the score from which HONEYPOT_CAPTURE
// blocks), MEDIUM from 30, else LOW.
func ThreatLevel(score int) string {
	switch {
	case score >= 80:
		return "CRITICAL"
	case score >= 60:
		return "HIGH"
	case score >= 30:
		return "MEDIUM"
	}
	return "LOW"
}

// Record handles one hit: it runs HONEYPOT_CAPTURE (whose block, from score
// 60, is in force when Record returns), then queues the trigger document.
// It never waits on the database; it returns the document and whether it
// was queued (false: the queue was full, the drop is counted).
func (h *Honeypot) Record(ctx context.Context, hit TrapHit) (store.HoneypotTrigger, bool) {
	at := hit.At
	if at.IsZero() {
		at = h.now()
	}
	doc := store.HoneypotTrigger{
		TrapName:       hit.Trap.Name,
		IPAddress:      hit.IP,
		TriggeredAt:    at.UTC(),
		UserAgent:      truncate(hit.UserAgent, maxHeaderValue),
		RequestPath:    truncate(hit.Path, 2*maxHeaderValue),
		RequestMethod:  hit.Method,
		RequestHeaders: keepHeaders(hit.Headers),
		RequestBody:    keepBody(hit.Body),
		ThreatLevel:    ThreatLevel(hit.ThreatScore),
		ActionTaken:    "logged",
		Metadata:       map[string]any{"trap_pattern": hit.Trap.Pattern, "threat_score": hit.ThreatScore, "source": "neko"},
	}
	if r := h.cfg.Responder; r != nil {
		evidence := map[string]any{"trap": hit.Trap.Name, "path": doc.RequestPath, "method": hit.Method, "user_agent": doc.UserAgent}
		in, _ := r.HandleAsync(ctx, CategoryHoneypot, strings.ToLower(doc.ThreatLevel), hit.IP, hit.ThreatScore, evidence)
		if in.AutoBlocked {
			doc.ActionTaken = "blocked"
		}
		doc.Metadata["incident_id"] = in.IncidentID
		doc.Metadata["playbook"] = in.Playbook
	}
	h.log.Warn("honeypot triggered", "trap", doc.TrapName, "ip", doc.IPAddress, "path", doc.RequestPath,
		"threat_level", doc.ThreatLevel, "action", doc.ActionTaken)
	if h.cfg.Triggers == nil {
		return doc, true
	}
	ok := h.writes.push(func(ctx context.Context) {
		if err := h.cfg.Triggers.InsertHoneypotTrigger(ctx, doc); err != nil {
			h.writeErrors.Add(1)
			h.log.Error("defense: store honeypot trigger", "trap", doc.TrapName, "ip", doc.IPAddress, "err", err)
		}
	})
	if !ok {
		h.log.Warn("defense: honeypot queue full, trigger dropped", "trap", doc.TrapName, "ip", doc.IPAddress)
	}
	return doc, ok
}

// HoneypotStats counts the honeypot's writes.
type HoneypotStats struct {
	WriteErrors uint64
	Queue       QueueStats
}

// Stats returns counters for metrics.
func (h *Honeypot) Stats() HoneypotStats {
	return HoneypotStats{WriteErrors: h.writeErrors.Load(), Queue: h.writes.stats()}
}

// Close stops intake and waits until the queued triggers are written or ctx
// ends.
func (h *Honeypot) Close(ctx context.Context) error { return h.writes.close(ctx) }

// truncate cuts s to at most n bytes, dropping a split UTF-8 sequence.
func truncate(s string, n int) string {
	s = stripNUL(s)
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// stripNUL removes NUL bytes, as from every string input: a recorded request is the attacker's
// text, and NULs in it break tools that read the collection as C strings.
func stripNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func isCredentialHeader(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key":
		return true
	}
	return false
}

// evidenceHeaders lists, in order, the headers that identify a client, its
// tool and its route. keepHeaders records these before any other, so that a
// scanner cannot push them out of the evidence with padding headers.
func evidenceHeaders() []string {
	return []string{
		"host", "user-agent", "referer", "origin",
		"x-forwarded-for", "x-real-ip", "forwarded", "fly-client-ip", "via",
		"content-type", "content-length", "accept", "accept-language",
		"authorization", "cookie", "x-requested-with",
	}
}

// keepHeaders bounds the recorded headers: lower-case names, at most 20,
// the evidence headers first, then the others by name; values cut,
// credentials redacted, keys safe for MongoDB. Names differing only in case
// are one header (the lexically first spelling's value is kept).
func keepHeaders(h map[string]string) map[string]any {
	if len(h) == 0 {
		return nil
	}
	byName := make(map[string]string, len(h)) // lower-case name -> original key
	for k := range h {
		name := safeKey(strings.ToLower(truncate(k, 64)))
		if prev, ok := byName[name]; !ok || k < prev {
			byName[name] = k
		}
	}
	out := make(map[string]any, min(len(byName), maxHeaders))
	keep := func(name string) {
		if isCredentialHeader(name) {
			out[name] = "[REDACTED]"
			return
		}
		out[name] = truncate(h[byName[name]], maxHeaderValue)
	}
	for _, name := range evidenceHeaders() {
		if _, ok := byName[name]; ok && len(out) < maxHeaders {
			keep(name)
		}
	}
	others := make([]string, 0, len(byName))
	for name := range byName {
		if _, kept := out[name]; !kept {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range others[:min(len(others), maxHeaders-len(out))] {
		keep(name)
	}
	return out
}

// keepBody returns the body as a JSON object when it is one and fits in
// 4 KiB, else as text cut to 4 KiB; nil when empty.
func keepBody(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if len(b) <= maxBodyKept {
		var obj map[string]any
		if json.Unmarshal(b, &obj) == nil && obj != nil {
			return sanitizeJSON(obj, 0)
		}
	}
	return truncate(string(b[:min(len(b), maxBodyKept)]), maxBodyKept)
}

// sanitizeJSON renames keys MongoDB would treat as operators or paths
// ('$' and '.' become '_', as the original's sanitizer), strips NUL bytes
// and flattens nesting deeper than 16 levels to text.
func sanitizeJSON(v any, depth int) any {
	if depth > maxBodyJSONDepth {
		s, _ := json.Marshal(v)
		return string(s)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[safeKey(stripNUL(k))] = sanitizeJSON(e, depth+1)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = sanitizeJSON(e, depth+1)
		}
		return x
	case string:
		return stripNUL(x)
	}
	return v
}

func safeKey(k string) string {
	if !strings.ContainsAny(k, "$.") && k != "" {
		return k
	}
	if k == "" {
		return "_"
	}
	return strings.NewReplacer("$", "_", ".", "_").Replace(k)
}
