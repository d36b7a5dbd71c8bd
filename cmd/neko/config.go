package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is everything neko reads from its environment, in one place. Each field documents its
// variable and default; the README's configuration table lists the same.
type Config struct {
	Port          int    // PORT, default 8080
	Env           string // NEKO_ENV: development (default) or production
	LogLevel      string // NEKO_LOG_LEVEL: debug, info (default), warn, error
	Region        string // FLY_REGION, default "local"
	MongoURI      string // MONGODB_URI; empty starts the embedded database
	MongoDatabase string // MONGODB_DATABASE, default neko-defense-system
	DataDir       string // NEKO_DATA_DIR, default ./data (embedded database files)
	SeedSize      string // NEKO_SEED_SIZE: small (default), medium, large; seeds an empty embedded database

	MongoMaxPool        uint64        // MONGODB_MAX_POOL_SIZE, default 100
	MongoMinPool        uint64        // MONGODB_MIN_POOL_SIZE, default 0
	MongoTimeout        time.Duration // MONGODB_TIMEOUT (per operation), default 5s
	MongoReadPreference string        // MONGODB_READ_PREFERENCE, default primary

	JWTSecret     string        // JWT_SECRET; required in production, random per process in development
	JWTTTL        time.Duration // JWT_EXPIRATION, default 168h (7 days)
	AdminUsername string        // ADMIN_USERNAME, default wakibaka
	AdminPassword string        // ADMIN_PASSWORD; required in production, "change-me" in development

	CORSOrigins       []string      // CORS_ORIGIN, comma-separated, default http://localhost:3000
	Introspection     bool          // NEKO_INTROSPECTION; default true in development, false in production
	BodyLimit         int           // NEKO_BODY_LIMIT bytes, default 1048576
	RequestTimeout    time.Duration // NEKO_REQUEST_TIMEOUT, default 10s
	ShutdownTimeout   time.Duration // NEKO_SHUTDOWN_TIMEOUT, default 20s
	DocumentCacheSize int           // NEKO_DOCUMENT_CACHE_SIZE, default 1000
}

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
	c.CORSOrigins = strings.Split(env("CORS_ORIGIN", "http://localhost:3000"), ",")
	if c.Env != "development" && c.Env != "production" {
		errs = append(errs, fmt.Errorf("NEKO_ENV: %q must be development or production", c.Env))
	}
	introspection, err := strconv.ParseBool(env("NEKO_INTROSPECTION", strconv.FormatBool(!c.Production())))
	if err != nil {
		errs = append(errs, fmt.Errorf("NEKO_INTROSPECTION: %w", err))
	}
	c.Introspection = introspection
	switch c.SeedSize {
	case "small", "medium", "large":
	default:
		errs = append(errs, fmt.Errorf("NEKO_SEED_SIZE: %q must be small, medium or large", c.SeedSize))
	}
	if c.Production() {
		if len(c.JWTSecret) < 32 {
			errs = append(errs, errors.New("JWT_SECRET: required in production, at least 32 characters"))
		}
		if c.AdminPassword == "" {
			errs = append(errs, errors.New("ADMIN_PASSWORD: required in production"))
		}
	} else {
		if c.JWTSecret == "" {
			var b [32]byte
			_, _ = rand.Read(b[:])
			c.JWTSecret = hex.EncodeToString(b[:])
		}
		if c.AdminPassword == "" {
			c.AdminPassword = "change-me"
		}
	}
	return c, errors.Join(errs...)
}

// LogValue logs the configuration with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port), slog.String("env", c.Env), slog.String("region", c.Region),
		slog.Bool("embedded_database", c.MongoURI == ""), slog.String("database", c.MongoDatabase),
		slog.String("mongodb_uri", maskURI(c.MongoURI)), slog.String("data_dir", c.DataDir),
		slog.String("admin_username", c.AdminUsername), slog.String("jwt_secret", "***"),
		slog.String("admin_password", "***"), slog.Bool("introspection", c.Introspection),
		slog.Int("body_limit", c.BodyLimit), slog.Duration("request_timeout", c.RequestTimeout),
	)
}

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
