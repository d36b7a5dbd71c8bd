package server

import (
	"testing"
	"time"
)

func TestHammeringEscalatesOnTheThirdRejectionWithinAMinute(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		at   []time.Duration // rejections of one address, after t0
		want []bool
	}{
		{"three quick rejections", []time.Duration{0, time.Second, 2 * time.Second}, []bool{false, false, true}},
		{"spread over more than a minute", []time.Duration{0, 30 * time.Second, 61 * time.Second, 62 * time.Second}, []bool{false, false, false, false}},
		{"counting restarts after an escalation", []time.Duration{0, 1, 2, 3, 4, 5}, []bool{false, false, true, false, false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h hammering
			for i, d := range tc.at {
				if got := h.reject("192.0.2.1", t0.Add(d)); got != tc.want[i] {
					t.Fatalf("rejection %d at +%v: escalate = %v, want %v", i+1, d, got, tc.want[i])
				}
			}
		})
	}
}

func TestHammeringMemoryIsBounded(t *testing.T) {
	var h hammering
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range hammerMaxTracked * 3 {
		h.reject(string(rune('a'+i%26))+time.Duration(i).String(), now)
	}
	if n := len(h.entries); n > hammerMaxTracked {
		t.Fatalf("%d addresses tracked, limit %d", n, hammerMaxTracked)
	}
	// Other addresses' rejections never escalate a fresh one.
	if h.reject("198.51.100.1", now) {
		t.Fatal("first rejection escalated")
	}
}
