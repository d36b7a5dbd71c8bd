package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The first SIGTERM starts a graceful shutdown whose drain lasts a minute here; a second one ends
// the process at once, killed by the signal, as an operator pressing Ctrl-C twice expects.
func TestSecondSignalEndsTheDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs neko in a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainHelperEnv+"=1", "PORT=0", "NEKO_DATA_DIR="+t.TempDir(),
		"NEKO_DRAIN_DELAY=60s", "NEKO_LOG_LEVEL=info", "NEKO_WARM=false", "REDIS_URL=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	serving := make(chan struct{})
	go func() { // the JSON log says when the server listens
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening") {
				close(serving)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-serving:
	case <-time.After(time.Minute):
		t.Fatal("neko did not start")
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		t.Fatalf("exited on the first signal, before its 60 s drain: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Fatalf("exit after the second signal: %v, want killed by SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second signal did not end the 60 s drain")
	}
}
