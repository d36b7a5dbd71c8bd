package telemetry

import (
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns a JSON slog logger writing to w at the named level ("debug", "info", "warn",
// "error"; anything else is info). JSON so that Fly's log shipping and any aggregator can index
// fields such as request_id without parsing free text.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	// Records logged with a request's context carry its trace_id and span_id (tracing.go).
	return slog.New(NewTraceHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})))
}
