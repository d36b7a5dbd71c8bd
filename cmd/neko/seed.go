package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/neko-defense/neko/store/embedded"
	"github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
	"github.com/neko-defense/neko/telemetry"
)

// seedArgs is what `neko seed` is asked to do.
type seedArgs struct {
	cfg   Config
	size  seed.Size // --size, default NEKO_SEED_SIZE (itself default small)
	force bool      // --force
}

// parseSeedArgs reads seed's flags and the configuration. --size defaults to NEKO_SEED_SIZE, so
// that `neko seed` writes the same size as a fresh `neko serve` seeds on its own.
func parseSeedArgs(args []string, getenv func(string) string, stderr io.Writer) (seedArgs, error) {
	fs := newFlagSet("seed", stderr)
	sizeName := fs.String("size", "", "demo data size: small, medium or large (default $NEKO_SEED_SIZE, else small)")
	force := fs.Bool("force", false, "drop the demo collections first if the database has data")
	if err := parseFlags(fs, args); err != nil {
		return seedArgs{}, err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return seedArgs{}, err
	}
	size, err := seed.ParseSize(cmp.Or(*sizeName, cfg.SeedSize))
	if err != nil {
		return seedArgs{}, usageError{fmt.Sprintf("seed: --size: %v", err)}
	}
	return seedArgs{cfg: cfg, size: size, force: *force}, nil
}

// demoSeed fixes the random source of the demo data: every `neko seed` and every fresh `make run`
// produce identical data, so tests and screenshots agree.
const demoSeed = 20251016

// seedCommand writes the demo data to the configured database (MONGODB_URI, or the embedded one
// under NEKO_DATA_DIR). It refuses to touch a database that already has data unless --force,
// which first drops the demo collections.
func seedCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opts, err := parseSeedArgs(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg, size := opts.cfg, opts.size
	logger := telemetry.NewLogger(stderr, cfg.LogLevel)

	uri := cfg.MongoURI
	if uri == "" {
		emb, err := embedded.Start(ctx, embedded.Config{DataDir: cfg.DataDir}, logger)
		if err != nil {
			return fmt.Errorf("start embedded database: %w", err)
		}
		defer emb.Close(context.Background())
		uri = emb.URI()
	}
	st, err := mongo.New(ctx, mongo.Config{URI: uri, Database: cfg.MongoDatabase}, logger)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	empty, err := seed.Empty(ctx, st.Database())
	if err != nil {
		return err
	}
	if !empty {
		if !opts.force {
			return errors.New("the database already holds data; run with --force to replace the demo collections")
		}
		if err := seed.Drop(ctx, st.Database()); err != nil {
			return err
		}
	}
	start := time.Now()
	d := seed.Generate(size, demoSeed)
	if err := seed.Load(ctx, st.Database(), d); err != nil {
		return err
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s demo data (%d threat actors, %d honeypot triggers, %d hunts, %d case patterns, %d DINA agents) in %s\n",
		size, len(d.ThreatActors), len(d.HoneypotTriggers), len(d.Hunts), len(d.CasePatterns), len(d.DINAAgents),
		time.Since(start).Round(time.Millisecond))
	return nil
}
