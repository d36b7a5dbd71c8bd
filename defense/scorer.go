package defense

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"time"

	"github.com/neko-defense/neko/internal/slotcache"
)

// Action is what a Verdict asks the caller to do with a request.
type Action uint8

// Actions, by increasing severity.
const (
	// ActionAllow serves the request.
	ActionAllow Action = iota
	// ActionChallenge serves the request but logs it (the original's
	// "monitoring").
	ActionChallenge
	// ActionBlock refuses the request (403).
	ActionBlock
)

// String returns "allow", "challenge" or "block".
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionChallenge:
		return "challenge"
	case ActionBlock:
		return "block"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Incident categories a Verdict reports; they select the playbooks of
// Responder.Handle.
const (
	CategorySQLInjection     = "sql_injection"
	CategoryXSS              = "xss_attempt"
	CategoryCommandInjection = "command_injection"
	CategoryAutomation       = "automation_detected"
	CategoryBot              = "bot_detected"
	CategoryRateLimit        = "rate_limit_exceeded"
	CategoryAnomaly          = "anomaly_detected"
	CategoryHoneypot         = "honeypot_triggered"
	// CategoryReconnaissance is a blocked request whose strongest signal is
	// its path (traversal, a sensitive file, an admin page): no playbook
	// names it, so its severity picks CRITICAL_THREAT_RESPONSE or
	// HIGH_THREAT_RESPONSE.
	CategoryReconnaissance = "reconnaissance"
	// CategorySuspicious is a challenged (served but logged) request, which
	// Responder.Monitor records under STANDARD_MONITORING.
	CategorySuspicious = "suspicious_activity"
)

// RequestInfo is what the scorer needs to know of one request, as plain
// values. The scorer copies what it keeps, so the strings may alias buffers
// the caller reuses after Score returns.
type RequestInfo struct {
	// IP is the client's key (clientkey.Of of the address the server
	// resolved, Fly-Client-IP aware): the address for IPv4, the /64 for
	// IPv6. The history is kept per key, so addresses rotated inside one
	// IPv6 /64 add up as one client's requests.
	IP string
	// Method is the HTTP method.
	Method string
	// Path is the request target with its query string (the original's
	// req.url).
	Path string
	// UserAgent is the User-Agent header.
	UserAgent string
	// Headers tells which of the 8 headers the original kept (user-agent,
	// accept, accept-language, accept-encoding, referer, origin,
	// connection, content-type) the request carried: only their presence
	// matters to the rules. A non-empty UserAgent counts as HeaderUserAgent.
	Headers HeaderSet
	// HeaderCount is the total number of headers the request carried, Host
	// included. Zero means "the kept headers plus Host", which reproduces
	// the original's verified scores (curl's default request scores 40, a
	// request with neither User-Agent nor Accept 55).
	HeaderCount int
	// PayloadSize is Content-Length or the body length in bytes.
	PayloadSize int64
	// Authenticated is true when the request carried a valid JWT or API
	// key: such callers get no frequency, scanning or header penalty, so an
	// authenticated TV monitor polling every few seconds, or a dashboard
	// loading many queries, is never blocked for its rate.
	Authenticated bool
	// Now is the time of the request; zero means time.Now(). Tests pass a
	// fake clock here.
	Now time.Time
}

// Verdict is the result of scoring one request.
type Verdict struct {
	// Score is Raw capped at 100, for headers and logs.
	Score int
	// Raw is the sum of the rules' points; the Action is decided on it.
	Raw int
	// Action is ActionBlock when Raw reaches the block threshold,
	// ActionChallenge when it reaches the challenge threshold, else
	// ActionAllow.
	Action Action
	// Reasons names each rule that added points, in rule order; nil when
	// Raw is 0. Verdicts with the same rule hits share it: read only.
	Reasons []string
	// Category is the incident category for Responder.Handle when Action
	// is not ActionAllow, else "": sql_injection, command_injection, xss_attempt,
	// automation_detected (attack tool or endpoint scanning), reconnaissance
	// (a probing path), rate_limit_exceeded, or anomaly_detected.
	Category string
}

// Severity maps the score to an incident severity: critical from 90, high
// from 70, medium from 40, else low.
func (v Verdict) Severity() string { return severityOf(v.Raw) }

func severityOf(score int) string {
	switch {
	case score >= 90:
		return "critical"
	case score >= 70:
		return "high"
	case score >= 40:
		return "medium"
	}
	return "low"
}

// ScorerConfig configures a Scorer. Every zero value is a working default.
type ScorerConfig struct {
	// BlockThreshold is the raw score from which a request is blocked.
	// Default 70 (the original's).
	BlockThreshold int
	// ChallengeThreshold is the raw score from which a request is
	// challenged (logged). Default 40. Must be below BlockThreshold.
	ChallengeThreshold int
	// MaxTracked bounds the addresses whose history is kept; the least
	// recently seen is forgotten first. Default 100,000 (about 350 bytes
	// each, some 40 MB at most).
	MaxTracked int
	// IdleReset forgets the history of an address silent for this long, as
	// the original pruned history older than an hour. Default 1h.
	IdleReset time.Duration
}

// HeaderSet is a set of the headers the scoring rules look at.
type HeaderSet uint8

// The kept headers, as HeaderSet members.
const (
	HeaderUserAgent HeaderSet = 1 << iota
	HeaderAccept
	HeaderAcceptLanguage
	HeaderAcceptEncoding
	HeaderReferer
	HeaderOrigin
	HeaderConnection
	HeaderContentType
)

// KeptHeader returns the member of HeaderSet named by an HTTP header name
// (any case), or 0 for a header the rules ignore.
func KeptHeader(name []byte) HeaderSet {
	for i, kept := range keptHeaders {
		if len(name) == len(kept) && bytes.EqualFold(name, []byte(kept)) {
			return 1 << i
		}
	}
	return 0
}

// Rule constants of reference §4.1.
const (
	defaultBlockThreshold     = 70
	defaultChallengeThreshold = 40
	defaultMaxTracked         = 100_000
	windowSeconds             = 60 // frequency window
	endpointRing              = 20 // scanning looks at the last 20 endpoints
	behaviourRing             = 10 // user agents and methods: the last 10
	timingRing                = 10 // observed response times kept
	maxPayload                = 10 << 20
	maxAnalysed               = 16 << 10 // bytes of a path or UA examined
	scorerShards              = 64
)

// Scorer scores requests with the seven rules of reference §4.1, keeping a
// small fixed-size history per address: a 60-second sliding window of
// one-second buckets, the hashes of the last 20 endpoints and last 10 user
// agents, the last 10 methods and the last 10 observed response times. Work
// per request is constant apart from scanning the path and user agent once.
// Addresses live in 64 shards, each an LRU with its own mutex. It is safe for
// concurrent use and starts no goroutines.
type Scorer struct {
	cfg    ScorerConfig
	seed   maphash.Seed
	shards []scorerShard
	// The rules on the user agent and the path are pure functions of their
	// text, which repeats: a TV monitor or a dashboard sends the same few.
	uas   *slotcache.Cache[string, uaResult]
	paths *slotcache.Cache[string, flags]
	// reasonLists are the Verdict.Reasons of recent rule-hit combinations (reasons).
	reasonLists *slotcache.Cache[reasonKey, []string]
}

type uaResult struct {
	f    flags
	tool int
}

// NewScorer validates cfg and returns a Scorer.
func NewScorer(cfg ScorerConfig) (*Scorer, error) {
	if cfg.BlockThreshold == 0 {
		cfg.BlockThreshold = defaultBlockThreshold
	}
	if cfg.ChallengeThreshold == 0 {
		cfg.ChallengeThreshold = defaultChallengeThreshold
	}
	if cfg.MaxTracked == 0 {
		cfg.MaxTracked = defaultMaxTracked
	}
	if cfg.IdleReset == 0 {
		cfg.IdleReset = time.Hour
	}
	switch {
	case cfg.BlockThreshold < 0 || cfg.ChallengeThreshold < 0:
		return nil, errors.New("defense: negative scorer threshold")
	case cfg.ChallengeThreshold >= cfg.BlockThreshold:
		return nil, fmt.Errorf("defense: ChallengeThreshold %d must be below BlockThreshold %d", cfg.ChallengeThreshold, cfg.BlockThreshold)
	case cfg.MaxTracked < 0:
		return nil, errors.New("defense: negative MaxTracked")
	case cfg.IdleReset < 0:
		return nil, errors.New("defense: negative IdleReset")
	}
	n := scorerShards
	if cfg.MaxTracked < 64*scorerShards {
		n = 1 // small limits: one exact LRU
	}
	s := &Scorer{cfg: cfg, seed: maphash.MakeSeed(), shards: make([]scorerShard, n),
		uas: slotcache.New[string, uaResult](memoSlots), paths: slotcache.New[string, flags](memoSlots),
		reasonLists: slotcache.New[reasonKey, []string](reasonSlots)}
	per := (cfg.MaxTracked + n - 1) / n
	for i := range s.shards {
		s.shards[i] = scorerShard{idx: make(map[string]int32), limit: per, head: -1, tail: -1}
	}
	return s, nil
}

// flags is a set of rule hits; each bit has fixed points and a reason.
type flags uint32

const (
	fHighRate flags = 1 << iota
	fElevatedRate
	fScanning
	fShortUA
	fToolUA
	fTraversal
	fSQL
	fXSS
	fSensitiveFile
	fAdminPath
	fCommand
	fFewHeaders
	fNoUAHeader
	fNoAccept
	fTiming
	fLargePayload
	fManyUAs
	fManyMethods
	// fOffensiveTool adds to fToolUA for tools whose only purpose is attacking (sqlmap, nikto,
	// nmap, masscan, zgrab): with it, such a User-Agent alone reaches the block threshold. The
	// original gave every listed tool the same 40 points, so a lone sqlmap request was only
	// challenged; a scanner announcing itself is blocked here. Generic clients (curl,
	// python-requests) and search engines of the internet (censys, shodan) keep the 40.
	fOffensiveTool
	numFlags = iota
)

// offensiveTools is how many leading entries of toolNames are attack-only tools.
const offensiveTools = 5

var (
	flagPoints = [numFlags]int{30, 15, 25, 20, 40, 35, 35, 35, 35, 35, 35, 15, 10, 10, 10, 20, 15, 10, 30}
	flagReason = [numFlags]string{
		"High request rate", "Elevated request rate", "Endpoint scanning",
		"Missing or short User-Agent", "Known attack tool",
		"Path traversal pattern", "SQL injection pattern", "XSS pattern", "Sensitive file pattern",
		"Admin path probe", "Command injection pattern",
		"Few headers", "Missing User-Agent header", "Missing Accept header",
		"Unusual response timing", "Large payload", "Multiple user agents", "Multiple HTTP methods",
		"Offensive security tool",
	}
	toolNames   = []string{"sqlmap", "nikto", "nmap", "masscan", "zgrab", "censys", "shodan", "python-requests"}
	toolReasons = func() []string {
		out := make([]string, 0, len(toolNames)+1)
		for _, t := range append(toolNames, "curl") {
			out = append(out, "Known attack tool: "+t)
		}
		return out
	}()
	keptHeaders = [...]string{"user-agent", "accept", "accept-language", "accept-encoding", "referer", "origin", "connection", "content-type"}
)

// Score records the request in its address's history and scores it.
func (s *Scorer) Score(r RequestInfo) Verdict {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	ua := r.UserAgent
	u := memoized(s.uas, ua, func(ua string) uaResult { f, tool := uaFlags(ua); return uaResult{f, tool} })
	f, tool := u.f, u.tool
	f |= memoized(s.paths, r.Path, pathFlags)
	if r.PayloadSize > maxPayload {
		f |= fLargePayload
	}
	if !r.Authenticated {
		f |= s.headerFlags(r, ua)
	}
	f |= s.history(r, ua, now)

	raw := 0
	for i := range numFlags {
		if f&(1<<i) != 0 {
			raw += flagPoints[i]
		}
	}
	v := Verdict{Raw: raw, Score: min(raw, 100)}
	switch {
	case raw >= s.cfg.BlockThreshold:
		v.Action = ActionBlock
	case raw >= s.cfg.ChallengeThreshold:
		v.Action = ActionChallenge
	}
	if f != 0 {
		v.Reasons = s.reasons(f, tool)
	}
	if v.Action != ActionAllow {
		v.Category = categoryOf(f)
	}
	return v
}

// reasons lists the reasons of the rule hits f (tool names the attack tool of fToolUA). The lists
// are shared between verdicts with the same hits and must not be modified: the same few
// combinations repeat (a busy client's rate flag), so each is built once.
func (s *Scorer) reasons(f flags, tool int) []string {
	if out, ok := s.reasonLists.Get(reasonKey{f, tool}); ok {
		return out
	}
	out := make([]string, 0, bits.OnesCount32(uint32(f)))
	for i := range numFlags {
		if f&(1<<i) == 0 {
			continue
		}
		if flags(1<<i) == fToolUA {
			out = append(out, toolReasons[tool])
			continue
		}
		out = append(out, flagReason[i])
	}
	s.reasonLists.Put(reasonKey{f, tool}, out)
	return out
}

type reasonKey struct {
	f    flags
	tool int
}

func categoryOf(f flags) string {
	switch {
	case f&fSQL != 0:
		return CategorySQLInjection
	case f&fCommand != 0:
		return CategoryCommandInjection
	case f&fXSS != 0:
		return CategoryXSS
	case f&(fToolUA|fScanning|fOffensiveTool) != 0:
		return CategoryAutomation
	case f&(fTraversal|fSensitiveFile|fAdminPath) != 0:
		return CategoryReconnaissance
	case f&(fHighRate|fElevatedRate) != 0:
		return CategoryRateLimit
	}
	return CategoryAnomaly
}

// headerFlags is rule 4: fewer than 3 headers, no User-Agent, no Accept.
func (s *Scorer) headerFlags(r RequestInfo, ua string) flags {
	present := r.Headers
	if ua != "" {
		present |= HeaderUserAgent
	}
	total := r.HeaderCount
	if total <= 0 {
		total = bits.OnesCount8(uint8(present)) + 1 // Host
	}
	var f flags
	if total < 3 {
		f |= fFewHeaders
	}
	if present&HeaderUserAgent == 0 {
		f |= fNoUAHeader
	}
	if present&HeaderAccept == 0 {
		f |= fNoAccept
	}
	return f
}

// uaFlags is rule 2. tool indexes toolReasons when fToolUA is set.
func uaFlags(ua string) (f flags, tool int) {
	if len(ua) < 10 {
		f |= fShortUA
	}
	if ua == "" {
		return f, 0
	}
	var buf [256]byte
	low := appendLower(buf[:0], ua[:min(len(ua), maxAnalysed)])
	for i, t := range toolNames {
		if bytes.Contains(low, []byte(t)) {
			if i < offensiveTools {
				f |= fOffensiveTool
			}
			return f | fToolUA, i
		}
	}
	for rest := low; ; {
		i := bytes.Index(rest, []byte("curl/"))
		if i < 0 {
			break
		}
		rest = rest[i+5:]
		if len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			return f | fToolUA, len(toolNames)
		}
	}
	return f, 0
}

// pathFlags is rule 3, applied to the target as sent and, when it holds
// percent escapes, once more decoded (the original only looked at the raw
// form, which "%2e%2e%2f" walks past). Each pattern counts once.
func pathFlags(path string) flags {
	path = path[:min(len(path), maxAnalysed)]
	var buf [256]byte
	f := matchPath(appendLower(buf[:0], path))
	if strings.IndexByte(path, '%') >= 0 {
		f |= matchPath(appendDecodedLower(buf[:0], path))
	}
	return f
}

var (
	xssNeedles       = [][]byte{[]byte("<script"), []byte("javascript:"), []byte("onerror=")}
	sensitiveNeedles = [][]byte{[]byte(".env"), []byte(".git"), []byte(".sql"), []byte(".bak"), []byte(".config")}
	adminNeedles     = [][]byte{[]byte("/admin"), []byte("/wp-admin"), []byte("/phpmyadmin")}
	commandNeedles   = [][]byte{[]byte("cmd("), []byte("exec("), []byte("eval("), []byte("system(")}
	sqlVerbs         = [][]byte{[]byte("union"), []byte("select"), []byte("insert"), []byte("update"), []byte("delete"), []byte("drop")}
)

func containsAny(s []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(s, n) {
			return true
		}
	}
	return false
}

// matchPath applies the six path patterns to a lower-cased target.
func matchPath(low []byte) flags {
	var f flags
	if bytes.Contains(low, []byte("../")) {
		f |= fTraversal
	}
	if matchSQL(low) {
		f |= fSQL
	}
	if containsAny(low, xssNeedles) {
		f |= fXSS
	}
	if containsAny(low, sensitiveNeedles) {
		f |= fSensitiveFile
	}
	if containsAny(low, adminNeedles) {
		f |= fAdminPath
	}
	if containsAny(low, commandNeedles) {
		f |= fCommand
	}
	return f
}

// matchSQL is /(union|select|insert|update|delete|drop).*(from|table)/i
// without a regexp: on some line, "from" or "table" follows the end of the
// earliest verb.
func matchSQL(low []byte) bool {
	for len(low) > 0 {
		line := low
		if i := bytes.IndexByte(low, '\n'); i >= 0 {
			line, low = low[:i], low[i+1:]
		} else {
			low = nil
		}
		end := -1
		for _, v := range sqlVerbs {
			if i := bytes.Index(line, v); i >= 0 && (end < 0 || i+len(v) < end) {
				end = i + len(v)
			}
		}
		if end >= 0 && (bytes.Contains(line[end:], []byte("from")) || bytes.Contains(line[end:], []byte("table"))) {
			return true
		}
	}
	return false
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendDecodedLower appends s with %XX escapes decoded and ASCII letters
// lower-cased; malformed escapes are kept as they are.
func appendDecodedLower(dst []byte, s string) []byte {
	unhex := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Observe records how long the response to a request from the client with
// key ip (RequestInfo.IP) took; it
// feeds the timing rule (rule 5), which therefore only ever judges real
// response times: with at least 5 observations, +10 when their average is
// over 100 ms and the latest is under 30% of it. (The original compared
// against the current request's response time, always 0 when scoring, so
// it penalised every client of a slow endpoint.) Unknown addresses are
// ignored. Cheap: one shard lock and a ring write.
func (s *Scorer) Observe(ip string, d time.Duration) {
	sh := s.shard(ip)
	sh.mu.Lock()
	if i, ok := sh.idx[ip]; ok {
		st := &sh.slots[i]
		ms := d.Milliseconds()
		st.durations[st.nDur%timingRing] = uint16(min(max(ms, 0), 65535))
		st.nDur++
	}
	sh.mu.Unlock()
}

// Tracked returns the number of addresses with a history.
func (s *Scorer) Tracked() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.idx)
		sh.mu.Unlock()
	}
	return n
}

func (s *Scorer) shard(ip string) *scorerShard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[maphash.String(s.seed, ip)%uint64(len(s.shards))]
}

func (s *Scorer) hash(v string) uint32 {
	return uint32(maphash.String(s.seed, v))
}

// history appends the request to its address's state and applies the rules
// that need history: 1 (frequency, scanning), 5 (timing) and 7 (behaviour).
// As in the original, the current request is part of the history it is
// judged on, blocked or not.
func (s *Scorer) history(r RequestInfo, ua string, now time.Time) flags {
	ep, uah, m := s.hash(r.Path), s.hash(ua), methodCode(r.Method, s)
	sh := s.shard(r.IP)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(r.IP)
	nowNano := now.UnixNano()
	if st.seen > 0 && nowNano-st.lastSeen > int64(s.cfg.IdleReset) {
		st.reset()
	}
	st.lastSeen = max(st.lastSeen, nowNano)
	recent := st.hit(now.Unix())
	st.endpoints[st.epPos] = ep
	st.epPos = (st.epPos + 1) % endpointRing
	st.uas[st.bPos] = uah
	st.methods[st.bPos] = m
	st.bPos = (st.bPos + 1) % behaviourRing
	if st.seen < 1<<31 {
		st.seen++
	}

	var f flags
	if !r.Authenticated {
		switch {
		case recent > 50:
			f |= fHighRate
		case recent > 30:
			f |= fElevatedRate
		}
		if st.seen > 15 && distinct(st.endpoints[:min(st.seen, endpointRing)]) > 15 {
			f |= fScanning
		}
	}
	if st.nDur >= 5 {
		n := min(st.nDur, timingRing)
		sum := 0
		for _, d := range st.durations[:n] {
			sum += int(d)
		}
		last := int(st.durations[(st.nDur-1)%timingRing])
		if avg := sum / int(n); avg > 100 && last*10 < avg*3 {
			f |= fTiming
		}
	}
	if st.seen >= behaviourRing {
		if distinct(st.uas[:]) > 3 {
			f |= fManyUAs
		}
		if distinct(st.methods[:]) >= 4 {
			f |= fManyMethods
		}
	}
	return f
}

// methodCode maps a method to a small code: the standard methods to fixed
// values, others to a hash.
func methodCode(m string, s *Scorer) uint8 {
	switch m {
	case "GET":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "HEAD":
		return 6
	case "OPTIONS":
		return 7
	case "CONNECT":
		return 8
	case "TRACE":
		return 9
	}
	return 10 + uint8(s.hash(m)%240)
}

// distinct counts the distinct values of a small slice.
func distinct[T comparable](xs []T) int {
	n := 0
outer:
	for i, x := range xs {
		for _, y := range xs[:i] {
			if x == y {
				continue outer
			}
		}
		n++
	}
	return n
}

// addrState is the history of one address. Its size is fixed (about 350
// bytes with its key), which is what bounds the Scorer's memory.
type addrState struct {
	ip         string
	prev, next int32  // LRU links within the shard, -1 at the ends
	lastSeen   int64  // unix nanos
	seen       uint32 // requests in the history, saturating
	epPos      uint8  // next write in endpoints
	bPos       uint8  // next write in uas and methods
	nDur       uint32
	headSec    int64 // the second of the newest bucket
	total      uint32
	buckets    [windowSeconds]uint16
	endpoints  [endpointRing]uint32
	uas        [behaviourRing]uint32
	methods    [behaviourRing]uint8
	durations  [timingRing]uint16 // milliseconds
}

func (st *addrState) reset() {
	ip, prev, next := st.ip, st.prev, st.next
	*st = addrState{ip: ip, prev: prev, next: next}
}

// hit counts a request at second sec in the sliding window and returns the
// requests of the last 60 seconds, this one included.
func (st *addrState) hit(sec int64) uint32 {
	if sec > st.headSec {
		if sec-st.headSec >= windowSeconds {
			st.buckets = [windowSeconds]uint16{}
			st.total = 0
		} else {
			for t := st.headSec + 1; t <= sec; t++ {
				b := &st.buckets[t%windowSeconds]
				st.total -= uint32(*b)
				*b = 0
			}
		}
		st.headSec = sec
	}
	// A request stamped a little earlier than the newest one counts in the
	// newest bucket.
	if b := &st.buckets[st.headSec%windowSeconds]; *b < 1<<16-1 {
		*b++
		st.total++
	}
	return st.total
}

// scorerShard is an LRU of address states in a slab: slots never move, so
// links are indexes and the garbage collector sees one pointer per state.
type scorerShard struct {
	mu         sync.Mutex // guards every field below
	idx        map[string]int32
	slots      []addrState
	limit      int
	head, tail int32 // most and least recently seen
	_          [40]byte
}

// get returns the state of ip, creating it (and evicting the least recently
// seen address when full), and marks it most recently seen.
func (sh *scorerShard) get(ip string) *addrState {
	if i, ok := sh.idx[ip]; ok {
		sh.toFront(i)
		return &sh.slots[i]
	}
	var i int32
	if len(sh.slots) < sh.limit {
		if len(sh.slots) == cap(sh.slots) {
			grown := make([]addrState, len(sh.slots), min(max(2*cap(sh.slots), 16), sh.limit))
			copy(grown, sh.slots)
			sh.slots = grown
		}
		sh.slots = append(sh.slots, addrState{})
		i = int32(len(sh.slots) - 1)
	} else {
		i = sh.tail
		sh.unlink(i)
		delete(sh.idx, sh.slots[i].ip)
	}
	sh.slots[i] = addrState{ip: strings.Clone(ip), prev: -1, next: -1}
	sh.idx[sh.slots[i].ip] = i
	sh.pushFront(i)
	return &sh.slots[i]
}

func (sh *scorerShard) toFront(i int32) {
	if sh.head == i {
		return
	}
	sh.unlink(i)
	sh.pushFront(i)
}

func (sh *scorerShard) unlink(i int32) {
	st := &sh.slots[i]
	if st.prev >= 0 {
		sh.slots[st.prev].next = st.next
	} else {
		sh.head = st.next
	}
	if st.next >= 0 {
		sh.slots[st.next].prev = st.prev
	} else {
		sh.tail = st.prev
	}
	st.prev, st.next = -1, -1
}

func (sh *scorerShard) pushFront(i int32) {
	st := &sh.slots[i]
	st.prev, st.next = -1, sh.head
	if sh.head >= 0 {
		sh.slots[sh.head].prev = i
	}
	sh.head = i
	if sh.tail < 0 {
		sh.tail = i
	}
}

// memoized returns compute(text) through c: the rules on the user agent and on the path are pure
// functions of their text. A text longer than memoMaxText is computed every time rather than kept.
func memoized[V any](c *slotcache.Cache[string, V], text string, compute func(string) V) V {
	if v, ok := c.Get(text); ok {
		return v
	}
	v := compute(text)
	if len(text) <= memoMaxText {
		c.Put(strings.Clone(text), v) // the caller's text may alias a buffer reused after the request
	}
	return v
}

// Sizes of the scorer's memos.
const (
	memoSlots   = 1024
	memoMaxText = 512
	reasonSlots = 256
)
