package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/neko-defense/neko/internal/redistest"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
)

// Fault tests: real dependencies fail under real load (Redis killed, the database stalled behind a
// TCP proxy, ten times more requests than the server admits, SIGTERM to the real binary) and the
// API must degrade exactly as designed. Each is bounded in requests and time and uses loopback only.

const (
	faultCached   = `{ getDINAStatistics { total_agents } }`
	faultUncached = `query($q: String!) { searchDINAAgents(query: $q, limit: 3) { agent_id } }`
)

var faultSeq atomic.Int64

// uniqueQuery returns variables that no earlier request used, so the answer is a cache miss.
func uniqueQuery() map[string]any {
	return map[string]any{"q": fmt.Sprintf("zz-fault-%d-%d", time.Now().UnixNano(), faultSeq.Add(1))}
}

// faultDB starts an embedded database seeded with the demo data; it stops when the test ends.
func faultDB(t *testing.T) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close(context.Background()) })
	st, err := mongo.New(ctx, mongo.Config{URI: emb.URI(), Database: "neko-defense-system"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := seed.Load(ctx, st.Database(), dataset); err != nil {
		t.Fatal(err)
	}
	return emb
}

// faultResp is what the fault tests look at in a response.
type faultResp struct {
	status     int
	xCache     string
	retryAfter string
	code       string // errors[0].extensions.code
	errors     int
	took       time.Duration
	body       []byte
}

func faultGQL(client *http.Client, base, q string, vars map[string]any) (faultResp, error) {
	return faultGQLAs(client, base, "", q, vars)
}

func faultGQLAs(client *http.Client, base, token, q string, vars map[string]any) (faultResp, error) {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return faultDo(client, req)
}

func faultGet(client *http.Client, base, path string) (faultResp, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	return faultDo(client, req)
}

func faultDo(client *http.Client, req *http.Request) (faultResp, error) {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return faultResp{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return faultResp{}, err
	}
	r := faultResp{status: resp.StatusCode, xCache: resp.Header.Get("X-Cache"), retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start), body: body}
	var parsed struct {
		Errors []gqlError `json:"errors"`
	}
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Errors) > 0 {
		r.errors = len(parsed.Errors)
		r.code, _ = parsed.Errors[0].Extensions["code"].(string)
	}
	return r, nil
}

// faultMetric sums the samples of the metric name whose labels include every one of labels
// (each written as in the exposition, e.g. `tier="l2"`), skipping those with any of skip.
func faultMetric(t *testing.T, base, name string, labels []string, skip ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		for _, l := range skip {
			if strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// TestFaultRedisKilledUnderLoad kills Redis in the middle of sustained cached load: no request may
// fail (L1 and the database carry on), and once Redis is back the L2 tier is used again.
func TestFaultRedisKilledUnderLoad(t *testing.T) {
	rds := redistest.Start(t)
	emb := faultDB(t)
	_, base := serveApp(t, map[string]string{"MONGODB_URI": emb.URI(), "REDIS_URL": "redis://" + rds.Addr()})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	paths := []string{"/api/dina/stats", "/api/threat-counts", "/api/stats"}
	for _, p := range paths {
		if r, err := faultGet(client, base, p); err != nil || r.status != 200 {
			t.Fatalf("warm %s: %v %d %s", p, err, r.status, r.body)
		}
	}
	if r, err := faultGQL(client, base, faultCached, nil); err != nil || r.status != 200 {
		t.Fatalf("warm graphql: %v %d %s", err, r.status, r.body)
	}

	const workers, perWorker, killAt = 6, 60, 150
	var (
		sent, afterKill, failed atomic.Int64
		kill                    sync.Once
		killed                  atomic.Bool
		firstFailure            atomic.Value
		wg                      sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if sent.Add(1) == killAt {
					kill.Do(func() { rds.Stop(); killed.Store(true) })
				}
				wasKilled := killed.Load()
				var r faultResp
				var err error
				if (w+i)%2 == 0 {
					r, err = faultGQL(client, base, faultCached, nil)
				} else {
					r, err = faultGet(client, base, paths[(w+i)%len(paths)])
				}
				if wasKilled {
					afterKill.Add(1)
				}
				if err != nil || r.status != 200 || r.errors > 0 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("err=%v status=%d body=%.200s", err, r.status, r.body))
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests, %d after Redis was killed, %d failed", sent.Load(), afterKill.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed while Redis died; first: %v", failed.Load(), sent.Load(), firstFailure.Load())
	}
	if afterKill.Load() < 100 {
		t.Fatalf("only %d requests ran after Redis was killed", afterKill.Load())
	}
	// Every Redis command goes through the Redis breaker, which the rate limiter's rounds trip.
	redisBreaker := func() float64 { return faultMetric(t, base, "neko_breaker_state", []string{`dependency="redis"`}) }
	if !poll(10*time.Second, func() bool { return redisBreaker() != 0 }) {
		t.Fatal("the Redis breaker did not leave the closed state with Redis dead")
	}

	l2 := []string{`tier="l2"`}
	before := faultMetric(t, base, "neko_cache_lookups_total", l2, `result="error"`)
	rds.Restart()
	ok := poll(15*time.Second, func() bool {
		// A fresh variable misses L1, so the cache must consult L2.
		if r, err := faultGQL(client, base, faultUncached, uniqueQuery()); err != nil || r.status != 200 {
			t.Fatalf("query after Redis restart: %v %d %s", err, r.status, r.body)
		}
		return faultMetric(t, base, "neko_cache_lookups_total", l2, `result="error"`) > before
	})
	if !ok {
		t.Fatalf("L2 not used again within 15s of Redis restarting (successful l2 lookups stayed at %v)", before)
	}
	if !poll(15*time.Second, func() bool { return redisBreaker() == 0 }) {
		t.Fatalf("the Redis breaker is %v 15s after Redis came back, want 0 (closed)", redisBreaker())
	}
}

// stallProxy forwards TCP connections to a backend; while paused it stops forwarding bytes
// without closing anything, like a database that hangs.
type stallProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	paused  bool          // guarded by mu
	resumed chan struct{} // closed on resume; guarded by mu
	conns   []net.Conn    // guarded by mu
	closed  bool          // guarded by mu
	wg      sync.WaitGroup
}

func newStallProxy(t *testing.T, backend string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, backend: backend, resumed: make(chan struct{})}
	close(p.resumed)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) Addr() string { return p.ln.Addr().String() }

func (p *stallProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused, p.resumed = true, make(chan struct{})
	}
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
}

// gate returns the channel to wait on before forwarding: closed unless paused.
func (p *stallProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resumed
}

func (p *stallProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c) || !p.track(b) {
			c.Close()
			b.Close()
			return
		}
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.resume()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}

// TestFaultDatabaseStall stalls the database behind a proxy: within the breaker's threshold the
// breaker opens, cached answers keep coming (STALE, 200), uncached queries fail fast with 503 and
// Retry-After, /ready stays 200 (the database is every instance's: failing readiness would take
// the whole fleet out of routing), and once the database answers again the breaker closes.
func TestFaultDatabaseStall(t *testing.T) {
	emb := faultDB(t)
	u, err := url.Parse(emb.URI())
	if err != nil {
		t.Fatal(err)
	}
	px := newStallProxy(t, u.Host)
	u.Host = px.Addr()
	const failures = 3
	_, base := serveApp(t, map[string]string{
		"MONGODB_URI": u.String(), "MONGODB_TIMEOUT": "500ms",
		"NEKO_BREAKER_TIMEOUT": "1s", "NEKO_BREAKER_FAILURES": strconv.Itoa(failures),
	})
	client := &http.Client{Timeout: 20 * time.Second}
	breaker := func() float64 {
		return faultMetric(t, base, "neko_breaker_state", []string{`dependency="mongodb"`})
	}
	waitReadyAt(t, base) // the first warm-up pass is done: /ready answers for the database alone

	// Warm a cached answer with the shortest max-age of the schema (10s): it is served STALE once
	// that has passed, while the database is stalled.
	const cached, cachedMaxAge = `{ honeypotTriggers(limit: 2) { ip_address } }`, 10 * time.Second
	analyst := tokens[security.RoleAnalyst]
	warmed := time.Now()
	for i := range 2 {
		// Set-up, not the test: on a loaded machine a first read may outlast the short
		// MONGODB_TIMEOUT of this test, and is retried like a client would.
		var r faultResp
		var err error
		poll(10*time.Second, func() bool {
			r, err = faultGQLAs(client, base, analyst, cached, nil)
			return err != nil || r.status != 503
		})
		if err != nil || r.status != 200 || r.errors > 0 {
			t.Fatalf("warm %d: %v %d %s", i, err, r.status, r.body)
		}
	}
	var before faultResp
	poll(10*time.Second, func() bool { // set-up too, retried like the warm reads
		before, err = faultGQL(client, base, faultUncached, uniqueQuery())
		return err != nil || before.status != 503
	})
	if err != nil || before.status != 200 {
		t.Fatalf("uncached query before the stall: %v %d %s", err, before.status, before.body)
	}
	if got := breaker(); got != 0 {
		t.Fatalf("breaker state %v before the stall, want 0", got)
	}

	px.pause()
	opened := -1
	for i := range failures + 5 {
		r, err := faultGQL(client, base, faultUncached, uniqueQuery())
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 503 || r.code != codeServiceUnavailableForTest || r.retryAfter == "" {
			t.Fatalf("uncached query %d during the stall: status %d Retry-After %q code %q, want 503 SERVICE_UNAVAILABLE with Retry-After: %s",
				i, r.status, r.retryAfter, r.code, r.body)
		}
		if breaker() == 2 {
			opened = i + 1
			break
		}
	}
	if opened < 0 {
		t.Fatalf("breaker not open after %d stalled requests", failures+5)
	}
	t.Logf("breaker opened after %d stalled requests", opened)

	if r, err := faultGet(client, base, "/ready"); err != nil || r.status != 200 {
		t.Fatalf("/ready with the breaker open: %v %d, want 200 (the instance still serves its cached answers)", err, r.status)
	}
	time.Sleep(time.Until(warmed.Add(cachedMaxAge)))
	var r faultResp
	poll(5*time.Second, func() bool {
		r, err = faultGQLAs(client, base, analyst, cached, nil)
		return err != nil || r.xCache != "HIT"
	})
	if err != nil || r.status != 200 || r.xCache != "STALE" || r.errors > 0 {
		t.Fatalf("cached query with the database stalled: %v status %d X-Cache %q: %s; want 200 STALE", err, r.status, r.xCache, r.body)
	}
	var slowest time.Duration
	for i := range 5 {
		r, err := faultGQL(client, base, faultUncached, uniqueQuery())
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, r.took)
		if r.status != 503 || r.retryAfter == "" || r.code != codeServiceUnavailableForTest || r.took > 3*time.Second {
			t.Fatalf("uncached query %d with the breaker open: status %d Retry-After %q code %q in %v, want a fast 503: %s",
				i, r.status, r.retryAfter, r.code, r.took, r.body)
		}
	}
	t.Logf("uncached queries with the breaker open: slowest %v", slowest)
	// A nullable root field that could not be answered is no answer either: 503, not 200 with
	// data {"threatActor": null}.
	id := uniqueQuery()["q"]
	if r, err := faultGQLAs(client, base, analyst, `query($id: String!) { threatActor(actorId: $id) { name } }`, map[string]any{"id": id}); err != nil ||
		r.status != 503 || r.retryAfter == "" || r.code != codeServiceUnavailableForTest {
		t.Fatalf("nullable root field with the breaker open: %v status %d Retry-After %q: %s", err, r.status, r.retryAfter, r.body)
	}

	px.resume()
	resumed := time.Now()
	var last faultResp
	if !poll(6*time.Second, func() bool {
		last, err = faultGQL(client, base, faultUncached, uniqueQuery())
		return err == nil && last.status == 200 && last.errors == 0
	}) {
		t.Fatalf("uncached query still failing 6s after the database came back: %v %d %s", err, last.status, last.body)
	}
	t.Logf("recovered %v after the database came back", time.Since(resumed).Round(time.Millisecond))
	if got := breaker(); got != 0 {
		t.Fatalf("breaker state %v after recovery, want 0", got)
	}
}

// codeServiceUnavailableForTest is the contract's extensions.code for a dependency outage.
const codeServiceUnavailableForTest = "SERVICE_UNAVAILABLE"

// TestFaultOverload fires about 25 times more concurrent requests than the server admits: every
// answer is a 200 or a fast 503 with Retry-After, memory stays bounded and no goroutine leaks.
func TestFaultOverload(t *testing.T) {
	emb := faultDB(t)
	const maxInFlight, burst = 8, 200
	_, base := serveApp(t, map[string]string{"MONGODB_URI": emb.URI(), "NEKO_MAX_IN_FLIGHT": strconv.Itoa(maxInFlight)})
	tr := &http.Transport{MaxIdleConnsPerHost: burst}
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	if r, err := faultGQL(client, base, faultUncached, uniqueQuery()); err != nil || r.status != 200 || r.errors > 0 {
		t.Fatalf("warm: %v %d %s", err, r.status, r.body)
	}
	tr.CloseIdleConnections()
	runtime.GC()
	baseline := liveGoroutines()

	var (
		ok, shed, other atomic.Int64
		slowestShed     atomic.Int64
		firstOther      atomic.Value
		wg              sync.WaitGroup
	)
	start := make(chan struct{})
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := faultGQL(client, base, faultUncached, uniqueQuery())
			switch {
			case err == nil && r.status == 200 && r.errors == 0:
				ok.Add(1)
			case err == nil && r.status == 503 && r.retryAfter != "" && r.code == codeServiceUnavailableForTest:
				if shed.Add(1) == 1 {
					t.Logf("first 503 after %v: %s", r.took, r.body)
				}
				for {
					s := slowestShed.Load()
					if int64(r.took) <= s || slowestShed.CompareAndSwap(s, int64(r.took)) {
						break
					}
				}
			default:
				other.Add(1)
				firstOther.CompareAndSwap(nil, fmt.Sprintf("err=%v status=%d Retry-After=%q body=%.200s", err, r.status, r.retryAfter, r.body))
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d concurrent requests in %v: %d answered, %d shed (slowest 503 %v), %d other; heap in use %d MiB",
		burst, took.Round(time.Millisecond), ok.Load(), shed.Load(), time.Duration(slowestShed.Load()).Round(time.Millisecond), other.Load(), ms.HeapInuse>>20)
	if other.Load() != 0 {
		t.Fatalf("%d responses were neither 200 nor 503 with Retry-After; first: %v", other.Load(), firstOther.Load())
	}
	if shed.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("want both answers and shed requests at %dx capacity, got %d and %d", burst/maxInFlight, ok.Load(), shed.Load())
	}
	if d := time.Duration(slowestShed.Load()); d > 3*time.Second {
		t.Fatalf("slowest 503 took %v, want a fast refusal", d)
	}
	if ms.HeapInuse > 512<<20 {
		t.Fatalf("heap in use %d MiB after the burst, want < 512 MiB", ms.HeapInuse>>20)
	}
	tr.CloseIdleConnections()
	var now int
	if !poll(10*time.Second, func() bool {
		now = liveGoroutines()
		return now <= baseline+20
	}) {
		t.Fatalf("%d goroutines 10s after the burst, baseline %d", now, baseline)
	}
}

// liveGoroutines is runtime.NumGoroutine without the idle workers fasthttp keeps parked for
// reuse (its worker pool stops them after MaxIdleWorkerDuration, 10s): those are a bounded pool,
// not a leak.
func liveGoroutines() int {
	buf := make([]byte, 16<<20)
	n := runtime.Stack(buf, true)
	live := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "fasthttp.(*workerPool).workerFunc") && strings.Contains(g, "[chan receive") && !strings.Contains(g, "serveConn") {
			continue
		}
		live++
	}
	return live
}

// TestFaultSIGTERMUnderLoad builds and runs the real binary, loads it from several goroutines and
// sends SIGTERM: /ready turns 503 at once, the server keeps answering through the drain delay, no
// accepted request fails, and the process exits 0 within the shutdown timeout.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "neko")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	const drain, shutdownTimeout = time.Second, 5 * time.Second
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "PORT=" + strconv.Itoa(port), "NEKO_DATA_DIR=" + filepath.Join(dir, "data"),
		"NEKO_DRAIN_DELAY=" + drain.String(), "NEKO_SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(), "NEKO_LOG_LEVEL=error",
		"NEKO_RATE_ANONYMOUS=100000/100000", "JWT_SECRET=" + testSecret, "ADMIN_PASSWORD=" + testPassword,
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once Wait returned waitErr
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// One connection per request: a request is either accepted by the server (and must succeed)
	// or refused by the closed listener.
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !poll(90*time.Second, func() bool {
		r, err := faultGet(client, base, "/ready")
		return err == nil && r.status == 200
	}) {
		t.Fatalf("binary not ready within 90s:\n%s", stderr.String())
	}

	var (
		sigAt                       atomic.Int64 // unix nanos of SIGTERM, 0 before
		okBefore, okAfter, notTaken atomic.Int64
		failed                      atomic.Int64
		firstFailure                atomic.Value
		readyDownAt                 atomic.Int64
		wg                          sync.WaitGroup
	)
	stop := make(chan struct{})
	worker := func(path string, ready bool) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			began := time.Now().UnixNano()
			r, err := faultGet(client, base, path)
			sent := sigAt.Load()
			switch {
			case err != nil && sent != 0 && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)):
				notTaken.Add(1) // the listener is closed: the request was never accepted
				return
			case err != nil:
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: %v", path, err))
				return
			case ready && sent != 0 && began > sent+int64(50*time.Millisecond):
				// Asked after the signal was delivered: not ready any more.
				if r.status != 503 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("/ready answered %d %v after SIGTERM", r.status, time.Duration(began-sent)))
				}
				readyDownAt.CompareAndSwap(0, time.Now().UnixNano())
			case ready && r.status == 503 && sent != 0:
			case r.status != 200:
				failed.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: status %d: %.200s", path, r.status, r.body))
			case sent == 0:
				okBefore.Add(1)
			default:
				okAfter.Add(1)
			}
		}
	}
	wg.Add(5)
	go worker("/ready", true)
	for _, p := range []string{"/api/dina/stats", "/api/threat-counts", "/api/stats", "/health"} {
		go worker(p, false)
	}
	time.Sleep(300 * time.Millisecond) // load before the signal
	sigAt.Store(time.Now().UnixNano())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case <-exited:
		exitErr = waitErr
	case <-time.After(drain + shutdownTimeout + 5*time.Second):
		t.Fatalf("still running %v after SIGTERM:\n%s", drain+shutdownTimeout+5*time.Second, stderr.String())
	}
	exitedAfter := time.Since(time.Unix(0, sigAt.Load()))
	close(stop)
	wg.Wait()
	t.Logf("ok before SIGTERM %d, ok after %d, not accepted %d, failed %d; /ready down %v after SIGTERM; exited %v after SIGTERM",
		okBefore.Load(), okAfter.Load(), notTaken.Load(), failed.Load(),
		time.Duration(readyDownAt.Load()-sigAt.Load()).Round(time.Millisecond), exitedAfter.Round(time.Millisecond))
	if exitErr != nil {
		t.Fatalf("exit: %v\n%s", exitErr, stderr.String())
	}
	if failed.Load() != 0 {
		t.Fatalf("%d accepted requests failed; first: %v", failed.Load(), firstFailure.Load())
	}
	if readyDownAt.Load() == 0 {
		t.Fatal("/ready was never asked after SIGTERM")
	}
	if okBefore.Load() == 0 || okAfter.Load() == 0 {
		t.Fatalf("want requests served before and after SIGTERM (drain), got %d and %d", okBefore.Load(), okAfter.Load())
	}
	if exitedAfter < drain {
		t.Fatalf("exited %v after SIGTERM, before the %v drain delay", exitedAfter, drain)
	}
}
