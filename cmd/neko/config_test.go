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
