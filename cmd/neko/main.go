// Command neko serves the NEKO Defense API.
//
//	neko [serve]                 serve HTTP on $PORT (default 8080)
//	neko seed [--size small|medium|large] [--force]
//	neko db [--addr 127.0.0.1:27017]  serve the embedded database alone (shared by several serve)
//	neko healthcheck             GET http://127.0.0.1:$PORT/health; exit 0 if 200, 1 otherwise
//	neko version
//
// main only wires: it reads the configuration from the environment, builds every component in
// dependency order (database, store, auth, resolvers, engine, HTTP server), and stops them in
// reverse order on SIGINT or SIGTERM. Configuration is documented in config.go and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "neko:", err)
		os.Exit(1)
	}
}

// run executes one subcommand until ctx is cancelled (serve) or the work is done (seed, version).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "neko", version)
		return nil
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "seed":
		return seedCommand(ctx, args, getenv, stdout, stderr)
	case "db":
		return dbCommand(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv, stdout)
	}
	return fmt.Errorf("unknown command %q (want serve, seed, db, healthcheck or version)", cmd)
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	app, err := Start(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Serve() }()
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		// SIGTERM: fail readiness and keep serving while load balancers notice, then shut down.
		app.Drain(context.Background())
	}
	closeErr := app.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return errors.Join(err, closeErr)
	}
	return closeErr
}
