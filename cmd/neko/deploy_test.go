package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// The deployment files live at the repository root and describe the binary built here; these
// tests keep them in step with the server's configuration defaults and routes, so that a change
// to one side cannot silently break a Fly.io deploy (a health check on a route that moved, a
// kill_timeout shorter than the graceful shutdown, a port mismatch, a secret committed in [env]).

// flyConfig is the part of fly.toml these tests check.
type flyConfig struct {
	App           string            `toml:"app"`
	PrimaryRegion string            `toml:"primary_region"`
	KillSignal    string            `toml:"kill_signal"`
	KillTimeout   any               `toml:"kill_timeout"` // "30s", or seconds as an integer
	Env           map[string]string `toml:"env"`
	Build         struct {
		Dockerfile string `toml:"dockerfile"`
	} `toml:"build"`
	Deploy struct {
		Strategy string `toml:"strategy"`
	} `toml:"deploy"`
	HTTPService struct {
		InternalPort       int  `toml:"internal_port"`
		ForceHTTPS         bool `toml:"force_https"`
		AutoStopMachines   any  `toml:"auto_stop_machines"` // "off"|"stop"|"suspend" or a bool
		AutoStartMachines  bool `toml:"auto_start_machines"`
		MinMachinesRunning int  `toml:"min_machines_running"`
		Concurrency        struct {
			Type      string `toml:"type"`
			SoftLimit int    `toml:"soft_limit"`
			HardLimit int    `toml:"hard_limit"`
		} `toml:"concurrency"`
		Checks []struct {
			Method      string `toml:"method"`
			Path        string `toml:"path"`
			Interval    string `toml:"interval"`
			Timeout     string `toml:"timeout"`
			GracePeriod string `toml:"grace_period"`
		} `toml:"checks"`
	} `toml:"http_service"`
	VM []struct {
		Size   string `toml:"size"`
		Memory string `toml:"memory"`
	} `toml:"vm"`
}

// repoRoot is where go test runs this package from, two levels down.
var repoRoot = filepath.Join("..", "..")

func readFlyConfig(t *testing.T) flyConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "fly.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var fc flyConfig
	if err := toml.Unmarshal(b, &fc); err != nil {
		t.Fatalf("fly.toml: %v", err)
	}
	return fc
}

// flyDuration reads a fly.toml duration: a Go duration string, or an integer number of seconds.
func flyDuration(t *testing.T, key string, v any) time.Duration {
	t.Helper()
	switch v := v.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s = %q: %v", key, v, err)
		}
		return d
	case int64:
		return time.Duration(v) * time.Second
	}
	t.Fatalf("%s = %v (%T): want a duration such as \"30s\"", key, v, v)
	return 0
}

// secretEnv reports whether an [env] key looks like a secret, which belongs in `fly secrets set`.
func secretEnv(key string) bool {
	switch key {
	case "JWT_SECRET", "MONGODB_URI", "REDIS_URL", "ADMIN_PASSWORD", "OTEL_EXPORTER_OTLP_HEADERS":
		return true
	}
	for _, word := range []string{"SECRET", "PASSWORD", "TOKEN", "API_KEY", "CREDENTIAL", "PRIVATE"} {
		if strings.Contains(key, word) {
			return true
		}
	}
	return false
}

func TestSecretEnv(t *testing.T) {
	for key, want := range map[string]bool{
		"JWT_SECRET": true, "MONGODB_URI": true, "REDIS_URL": true, "ADMIN_PASSWORD": true,
		"OTEL_EXPORTER_OTLP_HEADERS": true, "GITHUB_TOKEN": true, "STRIPE_API_KEY": true,
		"PORT": false, "MONGODB_READ_PREFERENCE": false, "PRIMARY_REGION": false, "OTEL_EXPORTER_OTLP_ENDPOINT": false,
	} {
		if got := secretEnv(key); got != want {
			t.Errorf("secretEnv(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestFlyConfig(t *testing.T) {
	fc := readFlyConfig(t)
	defaults, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	// The configuration a Fly Machine actually runs with: [env] plus placeholder secrets (which
	// win, as `fly secrets` do, so a secret wrongly kept in [env] is reported below, not here).
	secrets := map[string]string{
		"JWT_SECRET": strings.Repeat("s", 32), "ADMIN_PASSWORD": "placeholder-password",
		"MONGODB_URI": "mongodb://db.invalid:27017", "REDIS_URL": "redis://redis.invalid:6379",
	}
	deployed, err := loadConfig(func(k string) string {
		if v, ok := secrets[k]; ok {
			return v
		}
		return fc.Env[k]
	})
	if err != nil {
		t.Fatalf("fly.toml [env] (with placeholder secrets) is not a valid configuration: %v", err)
	}

	t.Run("app and region", func(t *testing.T) {
		if fc.App == "" {
			t.Error("app is empty")
		}
		if fc.PrimaryRegion == "" {
			t.Fatal("primary_region is empty")
		}
		if got := fc.Env["PRIMARY_REGION"]; got != fc.PrimaryRegion {
			t.Errorf("[env] PRIMARY_REGION = %q, want primary_region %q", got, fc.PrimaryRegion)
		}
		if got := fc.Env["MONGODB_READ_PREFERENCE"]; got != "nearest" {
			t.Errorf("[env] MONGODB_READ_PREFERENCE = %q, want nearest for regional reads", got)
		}
	})
	t.Run("port", func(t *testing.T) {
		if defaults.Port != 8080 {
			t.Errorf("default PORT = %d, want 8080", defaults.Port)
		}
		if fc.HTTPService.InternalPort != defaults.Port {
			t.Errorf("internal_port = %d, want the server's default PORT %d", fc.HTTPService.InternalPort, defaults.Port)
		}
		if fc.HTTPService.InternalPort != deployed.Port {
			t.Errorf("internal_port = %d, but [env] makes the server listen on %d", fc.HTTPService.InternalPort, deployed.Port)
		}
	})
	t.Run("production", func(t *testing.T) {
		if !deployed.Production() {
			t.Errorf("[env] NEKO_ENV = %q, want production", fc.Env["NEKO_ENV"])
		}
	})
	t.Run("no secrets in env", func(t *testing.T) {
		for k := range fc.Env {
			if secretEnv(k) {
				t.Errorf("[env] %s looks like a secret: set it with `fly secrets set`, not in fly.toml", k)
			}
		}
	})
	t.Run("service", func(t *testing.T) {
		s := fc.HTTPService
		if !s.ForceHTTPS {
			t.Error("force_https is false")
		}
		if s.MinMachinesRunning < 1 {
			t.Errorf("min_machines_running = %d, want at least 1", s.MinMachinesRunning)
		}
		if !s.AutoStartMachines {
			t.Error("auto_start_machines is false: stopped Machines would never come back")
		}
		switch v := s.AutoStopMachines.(type) {
		case string:
			if !slices.Contains([]string{"off", "stop", "suspend"}, v) {
				t.Errorf("auto_stop_machines = %q, want off, stop or suspend", v)
			}
		case bool, nil:
		default:
			t.Errorf("auto_stop_machines = %v (%T)", v, v)
		}
		c := s.Concurrency
		if c.Type != "requests" {
			t.Errorf("concurrency type = %q, want requests", c.Type)
		}
		if c.SoftLimit <= 0 || c.SoftLimit >= c.HardLimit {
			t.Errorf("concurrency soft_limit %d, hard_limit %d: want 0 < soft < hard", c.SoftLimit, c.HardLimit)
		}
	})
	t.Run("checks", func(t *testing.T) {
		var paths []string
		for _, c := range fc.HTTPService.Checks {
			paths = append(paths, c.Path)
			if m := strings.ToUpper(c.Method); m != "" && m != http.MethodGet {
				t.Errorf("check %s: method %q, want GET", c.Path, c.Method)
			}
			interval := flyDuration(t, c.Path+" interval", c.Interval)
			timeout := flyDuration(t, c.Path+" timeout", c.Timeout)
			flyDuration(t, c.Path+" grace_period", c.GracePeriod)
			if timeout <= 0 || timeout >= interval {
				t.Errorf("check %s: timeout %v, interval %v: want 0 < timeout < interval", c.Path, timeout, interval)
			}
		}
		slices.Sort(paths)
		if want := []string{"/health", "/ready"}; !slices.Equal(paths, want) {
			t.Errorf("check paths = %v, want exactly %v", paths, want)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		if fc.KillSignal != "SIGTERM" {
			t.Errorf("kill_signal = %q, want SIGTERM (main stops gracefully on SIGINT or SIGTERM)", fc.KillSignal)
		}
		kill := flyDuration(t, "kill_timeout", fc.KillTimeout)
		for name, c := range map[string]Config{"default": defaults, "deployed": deployed} {
			// The whole shutdown: the drain before it, the HTTP drain, closing (its least budget)
			// and the trace flush.
			if total := c.Resilience.DrainDelay + c.ShutdownTimeout + minCloseBudget + tracingFlushTimeout; kill <= total {
				t.Errorf("kill_timeout %v <= %s shutdown %v (NEKO_DRAIN_DELAY %v + NEKO_SHUTDOWN_TIMEOUT %v + closing %v + trace flush %v): Fly would kill the process mid-shutdown",
					kill, name, total, c.Resilience.DrainDelay, c.ShutdownTimeout, minCloseBudget, tracingFlushTimeout)
			}
		}
	})
	t.Run("deploy", func(t *testing.T) {
		if !slices.Contains([]string{"rolling", "bluegreen", "canary"}, fc.Deploy.Strategy) {
			t.Errorf("deploy strategy = %q, want rolling, bluegreen or canary (immediate skips health checks)", fc.Deploy.Strategy)
		}
		if fc.Build.Dockerfile == "" {
			t.Fatal("[build] dockerfile is empty")
		}
		if _, err := os.Stat(filepath.Join(repoRoot, fc.Build.Dockerfile)); err != nil {
			t.Errorf("[build] dockerfile: %v", err)
		}
		if len(fc.VM) == 0 || fc.VM[0].Size == "" {
			t.Error("no [[vm]] size")
		}
	})
}

// TestFlyChecksAnswer asks the running server (started by TestMain) for every path fly.toml
// checks, within the check's own timeout: a renamed route or a slow check fails here, not in
// a deploy.
func TestFlyChecksAnswer(t *testing.T) {
	fc := readFlyConfig(t)
	for _, c := range fc.HTTPService.Checks {
		t.Run(c.Path, func(t *testing.T) {
			timeout := flyDuration(t, "timeout", c.Timeout)
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			method := strings.ToUpper(c.Method)
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequestWithContext(ctx, method, baseURL+c.Path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, c.Path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s = %d, want 200", method, c.Path, resp.StatusCode)
			}
		})
	}
}

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined.
type dockerInstruction struct {
	line int    // 1-based line where it starts
	cmd  string // upper case: FROM, RUN, USER...
	args string
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments and blank lines and
// joining lines that end in a backslash. It is enough for the checks below, not a full parser
// (no heredocs, no escape directive).
func parseDockerfile(src string) ([]dockerInstruction, error) {
	var (
		out     []dockerInstruction
		pending strings.Builder
		start   int
	)
	sc := bufio.NewScanner(strings.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		out = append(out, dockerInstruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		pending.Reset()
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	return out, sc.Err()
}

// dockerEnv parses the arguments of ENV: "K=V K2=V2" (values may be double-quoted) or the
// legacy "K V".
func dockerEnv(args string) map[string]string {
	env := map[string]string{}
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return env
	}
	if !strings.Contains(fields[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		env[k] = strings.TrimSpace(v)
		return env
	}
	for _, m := range regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)`).FindAllStringSubmatch(args, -1) {
		env[m[1]] = strings.Trim(m[2], `"`)
	}
	return env
}

func TestParseDockerfile(t *testing.T) {
	src := "# comment\nFROM a AS b\n\nRUN x \\\n    && y\nENV A=1 B=\"two words\"\nENV C 3\nuser 1:1\n"
	ins, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, fmt.Sprintf("%d %s %s", in.line, in.cmd, in.args))
	}
	want := []string{"2 FROM a AS b", "4 RUN x && y", "6 ENV A=1 B=\"two words\"", "7 ENV C 3", "8 USER 1:1"}
	if !slices.Equal(got, want) {
		t.Errorf("parseDockerfile = %q, want %q", got, want)
	}
	if env := dockerEnv(ins[2].args); env["A"] != "1" || env["B"] != "two words" {
		t.Errorf("dockerEnv(%q) = %v", ins[2].args, env)
	}
	if env := dockerEnv(ins[3].args); env["C"] != "3" {
		t.Errorf("dockerEnv(%q) = %v", ins[3].args, env)
	}
	if _, err := parseDockerfile("RUN x \\\n"); err == nil {
		t.Error("dangling continuation accepted")
	}
}

func TestDockerfile(t *testing.T) {
	fc := readFlyConfig(t)
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := parseDockerfile(string(b))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	var froms []int
	for i, in := range all {
		if in.cmd == "FROM" {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d FROM instructions, want a multi-stage build (builder + runtime)", len(froms))
	}
	builder := all[froms[0]:froms[len(froms)-1]]
	final := all[froms[len(froms)-1]:] // what the image runs: only its instructions count below

	t.Run("static build", func(t *testing.T) {
		var build string
		for _, in := range builder {
			switch {
			case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
				build += " " + in.args
			case in.cmd == "ENV" && dockerEnv(in.args)["CGO_ENABLED"] == "0":
				build += " CGO_ENABLED=0"
			}
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "./cmd/neko"} {
			if !strings.Contains(build, want) {
				t.Errorf("builder stage's go build lacks %q (got %q)", want, build)
			}
		}
	})
	t.Run("non-root user", func(t *testing.T) {
		user := ""
		for _, in := range final {
			if in.cmd == "USER" {
				user = in.args
			}
		}
		name, _, _ := strings.Cut(user, ":")
		if name == "" || name == "root" || name == "0" {
			t.Errorf("final stage USER = %q, want a non-root user", user)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		var hc string
		for _, in := range final {
			if in.cmd == "HEALTHCHECK" {
				hc = in.args
			}
		}
		if hc == "" || strings.HasPrefix(strings.ToUpper(hc), "NONE") {
			t.Fatalf("final stage HEALTHCHECK = %q, want a check", hc)
		}
		if !strings.Contains(hc, "CMD") {
			t.Errorf("HEALTHCHECK %q has no CMD", hc)
		}
	})
	t.Run("port", func(t *testing.T) {
		var exposed []string
		env := map[string]string{}
		for _, in := range final {
			switch in.cmd {
			case "EXPOSE":
				for _, p := range strings.Fields(in.args) {
					exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
				}
			case "ENV":
				for k, v := range dockerEnv(in.args) {
					env[k] = v
				}
			}
		}
		want := strconv.Itoa(fc.HTTPService.InternalPort)
		if want != "8080" {
			t.Errorf("fly.toml internal_port = %s, want 8080", want)
		}
		if !slices.Contains(exposed, want) {
			t.Errorf("EXPOSE %v, want %s (fly.toml internal_port)", exposed, want)
		}
		if env["PORT"] != want {
			t.Errorf("ENV PORT = %q, want %s", env["PORT"], want)
		}
		if env["NEKO_ENV"] != "production" {
			t.Errorf("ENV NEKO_ENV = %q, want production", env["NEKO_ENV"])
		}
	})
}
