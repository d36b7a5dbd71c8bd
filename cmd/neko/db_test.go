package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store/mongo"
)

// TestDBCommandServesSeededDatabase runs `neko db` on a free port and connects to the URI it
// prints, as `neko serve` would with MONGODB_URI: the demo data is there, and the command stops
// cleanly when its context ends (SIGINT or SIGTERM in main).
func TestDBCommandServesSeededDatabase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	env := map[string]string{"NEKO_DATA_DIR": t.TempDir(), "NEKO_LOG_LEVEL": "error"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"db", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("neko db printed nothing: %v", <-done)
	}
	uri, ok := strings.CutPrefix(lines.Text(), "MONGODB_URI=")
	if !ok {
		t.Fatalf("first line %q, want MONGODB_URI=...", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	st, err := mongo.New(cctx, mongo.Config{URI: uri, Database: "neko-defense-system"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Database().Collection("dina_army_list_agents").CountDocuments(cctx, bson.D{})
	if cerr := st.Close(context.Background()); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(dataset.DINAAgents)) {
		t.Errorf("agents = %d, want the demo data's %d", n, len(dataset.DINAAgents))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("neko db: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("neko db did not stop after its context ended")
	}
}
