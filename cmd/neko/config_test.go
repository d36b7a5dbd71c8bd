package main

import "testing"

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
