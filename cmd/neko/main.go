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
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usage is the help of `neko -h`: every subcommand with one line.
const usage = `usage: neko [command] [flags]

commands:
  serve        serve the API over HTTP on $PORT (the default command)
  seed         write the deterministic demo data to the configured database (--size, --force)
  db           serve the embedded database alone and print its MONGODB_URI (--addr)
  healthcheck  GET http://127.0.0.1:$PORT/health: exit 0 on 200, 1 otherwise
  version      print the version
  help         print this help

Configuration comes from the environment (see the README). "neko <command> -h" lists a
command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts the graceful shutdown (drain, then close); releasing the signals
	// then gives a second one its default action, so an operator's second Ctrl-C, or a second
	// SIGTERM, ends the process at once instead of waiting out the drain.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		printError(os.Stderr, err)
	}
	os.Exit(exitCode(err))
}

// printError writes err one line per line of its text, each prefixed "neko: ": a configuration
// with several bad variables (errors.Join) reads as one line per variable.
func printError(w io.Writer, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(w, "neko:", line)
	}
}

// usageError is a command line that does not parse: an unknown command, a bad flag, an argument
// a command does not take. It exits with status 2, as flag.ExitOnError does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode is the process's exit status for run's result: 0 on success and on an explicit request
// for help, 2 for a command line that does not parse, 1 for any other failure.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// run executes one subcommand until ctx is cancelled (serve) or the work is done (seed, version).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, usage)
			return nil
		}
		if args[0] != "" && args[0][0] != '-' {
			cmd, args = args[0], args[1:]
		}
	}
	switch cmd {
	case "version":
		if err := parseFlags(newFlagSet("version", stderr), args); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "neko", version)
		return nil
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "seed":
		return seedCommand(ctx, args, getenv, stdout, stderr)
	case "db":
		return dbCommand(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		if err := parseFlags(newFlagSet("healthcheck", stderr), args); err != nil {
			return err
		}
		return healthcheck(ctx, getenv, stdout)
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q (want serve, seed, db, healthcheck or version)", cmd)}
}

// newFlagSet is the flag set of one subcommand; its errors and usage go to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses a subcommand's arguments, none of which may be positional. A bad flag or an
// extra argument is a usageError (the flag set has printed its usage); -h is flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	if err := parseFlags(newFlagSet("serve", stderr), args); err != nil {
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
