package main

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigDatabaseDurabilitySwitches(t *testing.T) {
	cases := []struct {
		name              string
		env               map[string]string
		retries, majority bool
		wantErr           bool
	}{
		{"defaults", nil, true, true, false},
		{"both off", map[string]string{"MONGODB_RETRIES": "false", "MONGODB_MAJORITY_WRITES": "0"}, false, false, false},
		{"not a boolean", map[string]string{"MONGODB_RETRIES": "sometimes"}, false, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return c.env[k] })
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && (cfg.MongoRetries != c.retries || cfg.MongoMajority != c.majority) {
				t.Fatalf("retries %v majority %v, want %v %v", cfg.MongoRetries, cfg.MongoMajority, c.retries, c.majority)
			}
		})
	}
}

// Production refuses a missing, short or development-default admin password (the account is
// shared by every instance) and a short JWT secret.
func TestProductionRequiresStrongSecrets(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name, password, secret string
		ok                     bool
	}{
		{"strong", "a-long-admin-password", secret, true},
		{"missing password", "", secret, false},
		{"development default", "change-me", secret, false},
		{"short password", "a", secret, false},
		{"short secret", "a-long-admin-password", "short", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"NEKO_ENV": "production", "ADMIN_PASSWORD": c.password, "JWT_SECRET": c.secret}
			_, err := loadConfig(func(k string) string { return env[k] })
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
		})
	}
	if cfg, err := loadConfig(func(string) string { return "" }); err != nil || cfg.AdminPassword != "change-me" {
		t.Fatalf("development default: %q, %v", cfg.AdminPassword, err)
	}
}

func TestUnknownLogLevelIsRefused(t *testing.T) {
	for level, ok := range map[string]bool{"": true, "debug": true, "WARN": true, "error": true, "verbose": false} {
		env := map[string]string{"NEKO_LOG_LEVEL": level}
		if _, err := loadConfig(func(k string) string { return env[k] }); (err == nil) != ok {
			t.Errorf("NEKO_LOG_LEVEL=%q: err = %v", level, err)
		}
	}
}

// Each bad setting is refused by loadConfig, before anything starts, with an error that names the
// variable and the problem, and never echoes a secret (a password in a URL, a header value).
func TestConfigRefusesBadSettings(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string // in the error
	}{
		{"wildcard origin", map[string]string{"CORS_ORIGIN": "*"}, "CORS_ORIGIN"},
		{"wildcard among origins", map[string]string{"CORS_ORIGIN": "https://a.example, *"}, "CORS_ORIGIN"},
		{"subdomain wildcard", map[string]string{"CORS_ORIGIN": "https://*.example.com"}, "CORS_ORIGIN"},
		{"not an origin", map[string]string{"CORS_ORIGIN": "notanorigin"}, "CORS_ORIGIN"},
		{"origin with path", map[string]string{"CORS_ORIGIN": "https://a.example/app"}, "CORS_ORIGIN"},
		{"origin with bad port", map[string]string{"CORS_ORIGIN": "https://a.example:99999"}, "CORS_ORIGIN"},
		{"origin of another scheme", map[string]string{"CORS_ORIGIN": "ftp://a.example"}, "CORS_ORIGIN"},
		{"redis port", map[string]string{"REDIS_URL": "redis://:secretpw@127.0.0.1:notaport"}, "REDIS_URL"},
		{"redis scheme", map[string]string{"REDIS_URL": "http://user:secretpw@127.0.0.1"}, "REDIS_URL"},
		{"otlp headers", map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team:secretpw"}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{"otlp endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://u:secretpw@127.0.0.1:bad"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"otlp endpoint credentials", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://u:secretpw@collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"mongodb port", map[string]string{"MONGODB_URI": "mongodb://u:secretpw@127.0.0.1:bad/neko"}, "MONGODB_URI"},
		{"mongodb scheme", map[string]string{"MONGODB_URI": "postgres://u:secretpw@127.0.0.1/neko"}, "MONGODB_URI"},
		{"mongodb no host", map[string]string{"MONGODB_URI": "mongodb://u:secretpw@/neko"}, "MONGODB_URI"},
		{"read preference", map[string]string{"MONGODB_READ_PREFERENCE": "closest"}, "MONGODB_READ_PREFERENCE"},
		{"pool sizes", map[string]string{"MONGODB_MIN_POOL_SIZE": "50", "MONGODB_MAX_POOL_SIZE": "10"}, "MONGODB_MIN_POOL_SIZE"},
		{"port too high", map[string]string{"PORT": "65536"}, "PORT"},
		{"host not an address", map[string]string{"NEKO_HOST": "localhost:80"}, "NEKO_HOST"},
		{"negative port", map[string]string{"PORT": "-1"}, "PORT"},
		{"NaN rate", map[string]string{"NEKO_RATE_ANONYMOUS": "NaN/5"}, "NEKO_RATE_ANONYMOUS"},
		{"infinite rate", map[string]string{"NEKO_RATE_USER": "+Inf/5"}, "NEKO_RATE_USER"},
		{"infinite admin rate", map[string]string{"NEKO_RATE_ADMIN": "Inf/5"}, "NEKO_RATE_ADMIN"},
		{"NaN sample ratio", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "NaN"}, "OTEL_TRACES_SAMPLER_ARG"},
		{"infinite sample ratio", map[string]string{"OTEL_TRACES_SAMPLER_ARG": "Inf"}, "OTEL_TRACES_SAMPLER_ARG"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return c.env[k] })
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "secretpw") {
				t.Fatalf("error %q: want it to name %s and not to contain the secret", msg, c.want)
			}
		})
	}
}

func TestConfigAcceptsGoodSettings(t *testing.T) {
	env := map[string]string{
		"CORS_ORIGIN":                 "https://neko.example, http://localhost:3000,,http://[::1]:8080",
		"REDIS_URL":                   "redis://:pw@127.0.0.1:6379/0",
		"MONGODB_URI":                 "mongodb://u:pw@a.example:27017,b.example/neko?replicaSet=rs0",
		"MONGODB_READ_PREFERENCE":     "nearest",
		"MONGODB_MIN_POOL_SIZE":       "10",
		"MONGODB_MAX_POOL_SIZE":       "10",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "https://api.honeycomb.io",
		"PORT":                        "0",
		"NEKO_HOST":                   "::1",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "::1" {
		t.Fatalf("Host = %q, want ::1", cfg.Host)
	}
	if want := []string{"https://neko.example", "http://localhost:3000", "http://[::1]:8080"}; !slices.Equal(cfg.CORSOrigins, want) {
		t.Fatalf("CORSOrigins = %q, want %q", cfg.CORSOrigins, want)
	}
	for _, uri := range []string{"mongodb+srv://u:pw@cluster0.example.mongodb.net/?retryWrites=true", "mongodb://[::1]:27017"} {
		env := map[string]string{"MONGODB_URI": uri}
		if _, err := loadConfig(func(k string) string { return env[k] }); err != nil {
			t.Errorf("%s: %v", uri, err)
		}
	}
}

// Several bad variables are all reported, one per line (main prefixes each with "neko: ").
func TestConfigReportsEveryBadVariable(t *testing.T) {
	env := map[string]string{"PORT": "70000", "CORS_ORIGIN": "*", "NEKO_RATE_ANONYMOUS": "NaN/5"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("accepted")
	}
	var out strings.Builder
	printError(&out, err)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", out.String())
	}
	for i, v := range []string{"CORS_ORIGIN", "NEKO_RATE_ANONYMOUS", "PORT"} {
		if !strings.HasPrefix(lines[i], "neko: ") || !strings.Contains(out.String(), v) {
			t.Errorf("line %d %q: want the prefix \"neko: \"; output %q should name %s", i, lines[i], out.String(), v)
		}
	}
}
