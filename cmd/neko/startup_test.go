package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/neko-defense/neko/store/embedded"
)

// A database that comes up after start-up began (a failover, a maintenance window during a
// deploy) is waited for: the server starts once it answers instead of exiting into a restart loop.
func TestStartWaitsForTheDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a late database")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the database to come up on
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	up := make(chan *embedded.Server, 1)
	go func() {
		time.Sleep(7 * time.Second) // past the driver's 5 s server selection
		emb, err := embedded.Start(context.Background(), embedded.Config{DataDir: dir, Addr: addr}, nil)
		if err != nil {
			t.Error(err)
		}
		up <- emb
	}()
	t.Cleanup(func() {
		if emb := <-up; emb != nil {
			_ = emb.Close(context.Background())
		}
	})
	serveApp(t, map[string]string{"MONGODB_URI": "mongodb://" + addr + "/", "NEKO_WARM": "false"}) // fails the test if Start does
}
