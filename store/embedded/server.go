// Package embedded runs the default local database: FerretDB v1 on SQLite,
// in-process, speaking the MongoDB wire protocol on a TCP port.
//
// When no MONGODB_URI is configured, cmd/neko starts a Server and hands its
// URI to store/mongo, so the same driver code runs locally, in tests and
// against MongoDB Atlas in production. FerretDB stores each database as a
// SQLite file under Config.DataDir. It is slow on large collections and has
// no transactions, change streams or text indexes; see store/mongo for how
// queries stay within what it computes correctly.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Config configures a Server. The zero value works.
type Config struct {
	// DataDir holds the SQLite files; it is created if missing. Default
	// "./data".
	DataDir string
	// Addr is the TCP listen address. Default "127.0.0.1:0" (a free port on
	// loopback; read the chosen one from URI).
	Addr string
}

// Server is a running in-process FerretDB. Close stops it.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{} // closed when FerretDB's Run returns
}

// Start starts FerretDB under cfg.DataDir and returns once it accepts
// connections. The server runs until Close; ctx only bounds start-up.
// FerretDB logs through logger at ERROR level and above only, since at WARN it
// logs every error reply (a failed lookup is routine for an API).
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "./data"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded: data dir: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: cfg.Addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(dir) + "/",
		Logger:    slog.New(levelHandler{min: slog.LevelError, Handler: logger.Handler()}),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: start ferretdb: %w", err)
	}
	// The server's lifetime is Close's to end, not the start-up ctx's.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := f.Run(runCtx); err != nil {
			logger.Error("embedded ferretdb stopped", "err", err)
		}
	}()
	// MongoDBURI blocks until Run has bound the listener.
	s.uri = f.MongoDBURI()
	logger.Info("embedded database started", "uri", s.uri, "data_dir", dir)
	return s, nil
}

// URI is the MongoDB connection string of the server.
func (s *Server) URI() string { return s.uri }

// Close stops the server and waits until its connections and SQLite files
// are closed, or until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("embedded: close: ferretdb did not stop"), ctx.Err())
	}
}

// levelHandler drops records below min before they reach Handler.
type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithAttrs(attrs)}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithGroup(name)}
}
