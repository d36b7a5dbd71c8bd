package main

import (
	"context"
	"fmt"
	"io"

	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
	"github.com/neko-defense/neko/telemetry"
)

// dbCommand serves the embedded database on its own until ctx is cancelled (SIGINT or SIGTERM),
// seeding it with the demo data when it is empty, and prints its connection string. Several
// `neko serve` processes pointed at it with MONGODB_URI then share one database, as a fleet
// shares MongoDB Atlas: the local stand-in for multi-instance testing.
func dbCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db", stderr)
	addr := fs.String("addr", "127.0.0.1:27017", "TCP address to listen on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	size, err := seed.ParseSize(cfg.SeedSize)
	if err != nil {
		return err
	}
	logger := telemetry.NewLogger(stderr, cfg.LogLevel)
	emb, err := embedded.Start(ctx, embedded.Config{DataDir: cfg.DataDir, Addr: *addr}, logger)
	if err != nil {
		return fmt.Errorf("start embedded database: %w", err)
	}
	// Stopping waits for FerretDB to close its files; the signal context is already done then.
	defer emb.Close(context.WithoutCancel(ctx))

	st, err := mongo.New(ctx, mongo.Config{URI: emb.URI(), Database: cfg.MongoDatabase}, logger)
	if err != nil {
		return fmt.Errorf("connect to embedded database: %w", err)
	}
	err = seedIfEmpty(ctx, st, size, logger)
	if err == nil {
		err = st.EnsureIndexes(ctx)
	}
	if cerr := st.Close(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MONGODB_URI=%s\n", emb.URI())
	<-ctx.Done()
	return nil
}
