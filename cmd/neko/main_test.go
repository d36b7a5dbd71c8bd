package main

import (
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/neko-defense/neko/store/seed"
)

// -h, --help and help print every subcommand to stdout and succeed; an unknown command prints
// the same usage to stderr and exits 2; a command given an argument it does not take, or a flag
// it does not know, is a usage error too.
func TestCommandLine(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"-h", []string{"-h"}, 0, "healthcheck", ""},
		{"--help", []string{"--help"}, 0, "healthcheck", ""},
		{"help", []string{"help"}, 0, "healthcheck", ""},
		{"version", []string{"version"}, 0, "neko dev", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", "usage: neko"},
		{"version with an argument", []string{"version", "now"}, 2, "", "unexpected argument"},
		{"healthcheck with an argument", []string{"healthcheck", "now"}, 2, "", "unexpected argument"},
		{"serve with an argument", []string{"serve", "now"}, 2, "", "unexpected argument"},
		{"seed with an argument", []string{"seed", "now"}, 2, "", "unexpected argument"},
		{"db with an argument", []string{"db", "now"}, 2, "", "unexpected argument"},
		{"unknown flag", []string{"serve", "--bogus"}, 2, "", "flag provided but not defined"},
		{"subcommand help", []string{"seed", "-h"}, 0, "", "-size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(context.Background(), c.args, func(string) string { return "" }, &stdout, &stderr)
			if got := exitCode(err); got != c.code {
				t.Fatalf("exit code %d (err %v), want %d", got, err, c.code)
			}
			if !strings.Contains(stdout.String(), c.inStdout) || !strings.Contains(stderr.String()+errText(err), c.inStderr) {
				t.Fatalf("stdout %q, stderr %q, err %v: want %q and %q", stdout.String(), stderr.String(), err, c.inStdout, c.inStderr)
			}
			if c.inStdout == "healthcheck" {
				for _, cmd := range []string{"serve", "seed", "db", "healthcheck", "version"} {
					if !strings.Contains(stdout.String(), "\n  "+cmd+" ") {
						t.Errorf("usage lacks a line for %s: %q", cmd, stdout.String())
					}
				}
			}
		})
	}
	if exitCode(flag.ErrHelp) != 0 {
		t.Error("an explicit -h must exit 0")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// `neko seed` writes NEKO_SEED_SIZE's size unless --size says otherwise.
func TestSeedSizeDefaultsToNekoSeedSize(t *testing.T) {
	cases := []struct {
		name string
		env  string
		args []string
		want seed.Size
	}{
		{"neither", "", nil, seed.Small},
		{"environment", "medium", nil, seed.Medium},
		{"flag wins", "medium", []string{"--size", "large"}, seed.Large},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"NEKO_SEED_SIZE": c.env}
			var stderr strings.Builder
			got, err := parseSeedArgs(c.args, func(k string) string { return env[k] }, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if got.size != c.want {
				t.Fatalf("size %q, want %q", got.size, c.want)
			}
		})
	}
}
