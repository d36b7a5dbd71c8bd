package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/neko-defense/neko/telemetry"
)

// Config is everything neko reads from its environment, in one place. Each field documents its
// variable and default; the README's configuration table lists the same.
type Config struct {
	Port          int    // PORT, default 8080
	Host          string // NEKO_HOST, the address to listen on; empty: every interface
	Env           string // NEKO_ENV: development (default) or production
	LogLevel      string // NEKO_LOG_LEVEL: debug, info (default), warn, error
	Region        string // FLY_REGION, default "local"
	PrimaryRegion string // PRIMARY_REGION, where mutations execute, default FLY_REGION (every region writes)
	MachineID     string // FLY_MACHINE_ID, set by Fly; traces' service.instance.id
	MongoURI      string // MONGODB_URI; empty starts the embedded database
	MongoDatabase string // MONGODB_DATABASE, default neko-defense-system
	DataDir       string // NEKO_DATA_DIR, default ./data (embedded database files)
	SeedSize      string // NEKO_SEED_SIZE: small (default), medium, large; seeds an empty embedded database

	MongoMaxPool        uint64        // MONGODB_MAX_POOL_SIZE, default 100
	MongoMinPool        uint64        // MONGODB_MIN_POOL_SIZE, default 0
	MongoTimeout        time.Duration // MONGODB_TIMEOUT (per operation), default 5s
	MongoReadPreference string        // MONGODB_READ_PREFERENCE, default primary
	MongoRetries        bool          // MONGODB_RETRIES: retryable reads and writes, default true
	MongoMajority       bool          // MONGODB_MAJORITY_WRITES: write concern majority, default true

	JWTSecret     string        // JWT_SECRET; required in production, random per process in development
	JWTTTL        time.Duration // JWT_EXPIRATION, default 168h (7 days)
	AdminUsername string        // ADMIN_USERNAME, default wakibaka
	AdminPassword string        // ADMIN_PASSWORD; required in production, "change-me" in development

	CORSOrigins    []string       // CORS_ORIGIN, comma-separated, default http://localhost:3000
	TrustedProxies []netip.Prefix // NEKO_TRUSTED_PROXIES, CIDRs whose Fly-Client-IP/X-Forwarded-For are believed; default none

	RedisURL          string        // REDIS_URL; empty: in-process cache and local rate limits only
	Warm              bool          // NEKO_WARM: keep the TV and dashboard answers cached (default true)
	CacheBytes        int64         // NEKO_CACHE_BYTES, L1 response cache size, default 64 MiB
	MaxBatch          int           // NEKO_MAX_BATCH, operations per HTTP batch, default 10
	MaxCost           int           // NEKO_MAX_COST, default 5000
	MaxDepth          int           // NEKO_MAX_DEPTH, default 12
	MaxAliases        int           // NEKO_MAX_ALIASES, default 30
	MaxRootFields     int           // NEKO_MAX_ROOT_FIELDS, default 20
	MaxTokens         int           // NEKO_MAX_TOKENS, default 10000
	MaxQueryBytes     int           // NEKO_MAX_QUERY_BYTES, default 65536
	RateAnonymous     Rate          // NEKO_RATE_ANONYMOUS, tokens/s and burst per client address, default 50/500
	RateUser          Rate          // NEKO_RATE_USER, per user or API key, default 500/5000
	RateAdmin         Rate          // NEKO_RATE_ADMIN, default 2000/20000
	Introspection     bool          // NEKO_INTROSPECTION; default true in development, false in production
	BodyLimit         int           // NEKO_BODY_LIMIT bytes, default 1048576
	RequestTimeout    time.Duration // NEKO_REQUEST_TIMEOUT, default 10s
	ShutdownTimeout   time.Duration // NEKO_SHUTDOWN_TIMEOUT, default 20s
	DocumentCacheSize int           // NEKO_DOCUMENT_CACHE_SIZE, default 1000

	Resilience Resilience // NEKO_DB_POOL_*, NEKO_DB_QUEUE_TIMEOUT, NEKO_BREAKER_*, NEKO_MAX_IN_FLIGHT, NEKO_DRAIN_DELAY (wire_resilience.go)

	ThreatBlockScore     int           // NEKO_THREAT_BLOCK_SCORE, threat score that blocks a request, default 70
	ThreatChallengeScore int           // NEKO_THREAT_CHALLENGE_SCORE, score logged as suspicious, default 40; below the block score
	AuditBatch           int           // NEKO_AUDIT_BATCH, audit events written at once, default 100
	AuditFlush           time.Duration // NEKO_AUDIT_FLUSH, longest an audit event waits in memory, default 10s

	OTLPEndpoint     string            // OTEL_EXPORTER_OTLP_ENDPOINT, OTLP/HTTP base URL; empty disables tracing
	OTLPHeaders      map[string]string // OTEL_EXPORTER_OTLP_HEADERS, key=value,... (secret: the backend's API key)
	TraceSampleRatio float64           // OTEL_TRACES_SAMPLER_ARG, share of new traces recorded, default 0.1
}

// Rate is a rate limit tier written "RATE/BURST" (tokens per second, bucket size).
type Rate struct {
	PerSecond float64
	Burst     int
}

func parseRate(s string) (Rate, error) {
	a, b, ok := strings.Cut(s, "/")
	r, err1 := strconv.ParseFloat(a, 64)
	burst, err2 := strconv.Atoi(b)
	// ParseFloat accepts "NaN" and "Inf": NaN compares false with everything, so it would slip
	// past r <= 0, and neither is a rate a token bucket can work with.
	if !ok || err1 != nil || err2 != nil || !finite(r) || r <= 0 || burst <= 0 {
		return Rate{}, fmt.Errorf("%q is not RATE/BURST such as 50/500", s)
	}
	return Rate{PerSecond: r, Burst: burst}, nil
}

// finite reports whether f is neither NaN nor ±Inf.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// developmentPassword is the admin password when ADMIN_PASSWORD is unset outside production (the
// README documents it); production refuses it, and any password shorter than
// minProductionPassword.
const (
	developmentPassword   = "change-me"
	minProductionPassword = 12
)

// Production reports whether the production safeguards apply.
func (c Config) Production() bool { return c.Env == "production" }

// loadConfig reads the configuration through getenv and validates it. It generates a random JWT
// secret in development when none is set, so that no secret ever needs to live in the repository.
func loadConfig(getenv func(string) string) (Config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	intVar := func(k string, def int) int {
		v := env(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a non-negative integer", k, v))
		}
		return n
	}
	durVar := func(k string, def time.Duration) time.Duration {
		v := env(k, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 5s", k, v))
		}
		return d
	}
	c := Config{
		Port:                intVar("PORT", 8080),
		Host:                env("NEKO_HOST", ""),
		Env:                 env("NEKO_ENV", "development"),
		LogLevel:            env("NEKO_LOG_LEVEL", "info"),
		Region:              env("FLY_REGION", "local"),
		MongoURI:            env("MONGODB_URI", ""),
		MongoDatabase:       env("MONGODB_DATABASE", "neko-defense-system"),
		DataDir:             env("NEKO_DATA_DIR", "./data"),
		SeedSize:            env("NEKO_SEED_SIZE", "small"),
		MongoMaxPool:        uint64(intVar("MONGODB_MAX_POOL_SIZE", 100)),
		MongoMinPool:        uint64(intVar("MONGODB_MIN_POOL_SIZE", 0)),
		MongoTimeout:        durVar("MONGODB_TIMEOUT", 5*time.Second),
		MongoReadPreference: env("MONGODB_READ_PREFERENCE", "primary"),
		JWTSecret:           env("JWT_SECRET", ""),
		JWTTTL:              durVar("JWT_EXPIRATION", 7*24*time.Hour),
		AdminUsername:       env("ADMIN_USERNAME", "wakibaka"),
		AdminPassword:       env("ADMIN_PASSWORD", ""),
		BodyLimit:           intVar("NEKO_BODY_LIMIT", 1<<20),
		RequestTimeout:      durVar("NEKO_REQUEST_TIMEOUT", 10*time.Second),
		ShutdownTimeout:     durVar("NEKO_SHUTDOWN_TIMEOUT", 20*time.Second),
		DocumentCacheSize:   intVar("NEKO_DOCUMENT_CACHE_SIZE", 1000),
	}
	c.PrimaryRegion = env("PRIMARY_REGION", c.Region)
	c.MachineID = env("FLY_MACHINE_ID", "")
	c.OTLPEndpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if h, err := telemetry.ParseOTLPHeaders(getenv("OTEL_EXPORTER_OTLP_HEADERS")); err != nil {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: %w", err))
	} else {
		c.OTLPHeaders = h
	}
	if err := telemetry.ValidateEndpoint(c.OTLPEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)) // never echoes the URL
	}
	sample := env("OTEL_TRACES_SAMPLER_ARG", strconv.FormatFloat(telemetry.DefaultSampleRatio, 'g', -1, 64))
	if r, err := strconv.ParseFloat(sample, 64); err != nil || !finite(r) || !(r > 0 && r <= 1) {
		errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio in (0, 1]", sample))
	} else {
		c.TraceSampleRatio = r
	}
	c.ThreatBlockScore = intVar("NEKO_THREAT_BLOCK_SCORE", 70)
	c.ThreatChallengeScore = intVar("NEKO_THREAT_CHALLENGE_SCORE", 40)
	if c.ThreatBlockScore < 1 || c.ThreatChallengeScore < 1 || c.ThreatChallengeScore >= c.ThreatBlockScore {
		errs = append(errs, fmt.Errorf("NEKO_THREAT_CHALLENGE_SCORE (%d) must be at least 1 and below NEKO_THREAT_BLOCK_SCORE (%d)", c.ThreatChallengeScore, c.ThreatBlockScore))
	}
	c.AuditBatch = intVar("NEKO_AUDIT_BATCH", 100)
	if c.AuditBatch < 1 {
		errs = append(errs, fmt.Errorf("NEKO_AUDIT_BATCH: must be at least 1"))
	}
	c.AuditFlush = durVar("NEKO_AUDIT_FLUSH", 10*time.Second)
	for _, o := range strings.Split(env("CORS_ORIGIN", "http://localhost:3000"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := checkOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("CORS_ORIGIN: %q %w", o, err))
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	c.RedisURL = env("REDIS_URL", "")
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("REDIS_URL: not a Redis URL such as redis://:password@host:6379/0: %s", scrub(err, c.RedisURL)))
		}
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"MONGODB_RETRIES", &c.MongoRetries}, {"MONGODB_MAJORITY_WRITES", &c.MongoMajority}} {
		v, err := strconv.ParseBool(env(b.key, "true"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.key, err))
		}
		*b.dst = v
	}
	warm, err := strconv.ParseBool(env("NEKO_WARM", "true"))
	if err != nil {
		errs = append(errs, fmt.Errorf("NEKO_WARM: %w", err))
	}
	c.Warm = warm
	c.CacheBytes = int64(intVar("NEKO_CACHE_BYTES", 64<<20))
	c.MaxBatch = intVar("NEKO_MAX_BATCH", 10)
	c.MaxCost = intVar("NEKO_MAX_COST", 5000)
	c.MaxDepth = intVar("NEKO_MAX_DEPTH", 12)
	c.MaxAliases = intVar("NEKO_MAX_ALIASES", 30)
	c.MaxRootFields = intVar("NEKO_MAX_ROOT_FIELDS", 20)
	c.MaxTokens = intVar("NEKO_MAX_TOKENS", 10000)
	c.MaxQueryBytes = intVar("NEKO_MAX_QUERY_BYTES", 64<<10)
	for _, r := range []struct {
		key, def string
		dst      *Rate
	}{{"NEKO_RATE_ANONYMOUS", "50/500", &c.RateAnonymous}, {"NEKO_RATE_USER", "500/5000", &c.RateUser}, {"NEKO_RATE_ADMIN", "2000/20000", &c.RateAdmin}} {
		rate, err := parseRate(env(r.key, r.def))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.key, err))
		}
		*r.dst = rate
	}
	for _, p := range strings.Split(env("NEKO_TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("NEKO_TRUSTED_PROXIES: %q is not a CIDR such as 172.16.0.0/12", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("NEKO_LOG_LEVEL: %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT: %d is not a port in 0..65535 (0 picks a free one)", c.Port))
	}
	if c.Host != "" {
		if _, err := netip.ParseAddr(c.Host); err != nil {
			errs = append(errs, fmt.Errorf("NEKO_HOST: %q is not an IP address such as 127.0.0.1 or ::1 (empty: every interface)", c.Host))
		}
	}
	if c.MongoURI != "" {
		if err := checkMongoURI(c.MongoURI); err != nil {
			errs = append(errs, fmt.Errorf("MONGODB_URI: %s", scrub(err, c.MongoURI)))
		}
	}
	if _, err := readpref.ModeFromString(c.MongoReadPreference); err != nil {
		errs = append(errs, fmt.Errorf("MONGODB_READ_PREFERENCE: %q must be primary, primaryPreferred, secondary, secondaryPreferred or nearest", c.MongoReadPreference))
	}
	if c.MongoMinPool > c.MongoMaxPool && c.MongoMaxPool != 0 { // 0 is the driver's "no limit"
		errs = append(errs, fmt.Errorf("MONGODB_MIN_POOL_SIZE (%d) must not exceed MONGODB_MAX_POOL_SIZE (%d)", c.MongoMinPool, c.MongoMaxPool))
	}
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("NEKO_ENV: %q must be development or production", c.Env))
	}
	introspection, err := strconv.ParseBool(env("NEKO_INTROSPECTION", strconv.FormatBool(!c.Production())))
	if err != nil {
		errs = append(errs, fmt.Errorf("NEKO_INTROSPECTION: %w", err))
	}
	c.Introspection = introspection
	c.Resilience, err = loadResilience(getenv, c.Production())
	errs = append(errs, err)
	switch c.SeedSize {
	case "small", "medium", "large":
	default:
		errs = append(errs, fmt.Errorf("NEKO_SEED_SIZE: %q must be small, medium or large", c.SeedSize))
	}
	if c.Production() {
		if len(c.JWTSecret) < 32 {
			errs = append(errs, errors.New("JWT_SECRET: required in production, at least 32 characters"))
		}
		// The admin account is shared by every instance and written at start-up: a weak or the
		// documented development password here would be the production admin's.
		if len(c.AdminPassword) < minProductionPassword || c.AdminPassword == developmentPassword {
			errs = append(errs, fmt.Errorf("ADMIN_PASSWORD: required in production, at least %d characters, not the development default", minProductionPassword))
		}
	} else {
		if c.JWTSecret == "" {
			var b [32]byte
			_, _ = rand.Read(b[:])
			c.JWTSecret = hex.EncodeToString(b[:])
		}
		if c.AdminPassword == "" {
			c.AdminPassword = developmentPassword
		}
	}
	return c, errors.Join(errs...)
}

// LogValue logs the configuration with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port), slog.String("host", c.Host), slog.String("env", c.Env), slog.String("region", c.Region),
		slog.String("primary_region", c.PrimaryRegion),
		slog.Bool("embedded_database", c.MongoURI == ""), slog.String("database", c.MongoDatabase),
		slog.String("mongodb_uri", maskURI(c.MongoURI)), slog.String("data_dir", c.DataDir),
		slog.String("redis_url", maskURI(c.RedisURL)),
		slog.String("admin_username", c.AdminUsername), slog.String("jwt_secret", "***"),
		slog.String("admin_password", "***"), slog.Bool("introspection", c.Introspection),
		slog.Int("body_limit", c.BodyLimit), slog.Duration("request_timeout", c.RequestTimeout),
		slog.String("otlp_endpoint", maskURI(c.OTLPEndpoint)), slog.Int("otlp_headers", len(c.OTLPHeaders)),
		slog.Float64("trace_sample_ratio", c.TraceSampleRatio),
	)
}

// checkOrigin reports why o is not a browser origin, "scheme://host[:port]" with scheme http or
// https and nothing after the authority: what a browser sends in Origin and the CORS middleware
// compares. "*" is refused because CORS_ORIGIN is allowed with credentials, and a wildcard with
// credentials would let any site act as its visitors.
func checkOrigin(o string) error {
	if strings.Contains(o, "*") {
		return errors.New("is a wildcard: origins are allowed with credentials, so each must be named (https://app.example.com)")
	}
	u, err := url.Parse(o)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		return errors.New("is not an origin such as https://app.example.com or http://localhost:3000")
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return errors.New("must be scheme://host[:port] alone, without credentials, path, query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	return nil
}

// checkMongoURI checks the syntax of a MongoDB connection string without resolving anything
// (a mongodb+srv URI would need DNS, which start-up does): the scheme, a host, and numeric ports.
// The driver validates the options when it connects.
func checkMongoURI(uri string) error {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return errors.New(`scheme must be "mongodb://" or "mongodb+srv://"`)
	}
	hosts := rest
	if i := strings.IndexAny(hosts, "/?"); i >= 0 {
		hosts = hosts[:i]
	}
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		hosts = hosts[at+1:]
	}
	if hosts == "" {
		return errors.New("no host")
	}
	for h := range strings.SplitSeq(hosts, ",") {
		if strings.HasPrefix(h, "[") || strings.HasSuffix(h, ".sock") { // IPv6 literals and Unix sockets: the driver checks
			continue
		}
		name, port, hasPort := strings.Cut(h, ":")
		if name == "" {
			return errors.New("a host is empty")
		}
		if hasPort {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("host %q has an invalid port", name)
			}
			if scheme == "mongodb+srv" {
				return errors.New("a mongodb+srv URI takes no port")
			}
		}
	}
	return nil
}

// scrub returns err's text without the secrets of the connection string raw (its userinfo and
// password, raw and percent-decoded) and without raw itself: url.Error and driver errors quote
// the URL they failed on, and a start-up error lands in logs that many people read.
func scrub(err error, raw string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // "parse <the whole URL>: <problem>": keep the problem
	}
	msg := err.Error()
	secrets := []string{raw}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			userinfo := rest[:at]
			secrets = append(secrets, userinfo)
			if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" {
				secrets = append(secrets, pw)
				if dec, err := url.PathUnescape(pw); err == nil {
					secrets = append(secrets, dec)
				}
			}
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

// scrubbedError is an error whose text is scrubbed of the secrets of the connection string raw;
// errors.Is and errors.As still see the error it wraps.
type scrubbedError struct {
	err error
	raw string
}

func (e scrubbedError) Error() string { return scrub(e.err, e.raw) }
func (e scrubbedError) Unwrap() error { return e.err }

// maskURI hides the credentials of a connection string.
func maskURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://***@" + rest[at+1:]
	}
	return uri
}
