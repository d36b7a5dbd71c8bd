package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
)

// Library reports become JSON records of the server's logger.
func TestRouteLibraryLogs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	RouteLibraryLogs(logger)
	otel.Handle(errors.New("collector unreachable"))
	redisLogger{logger}.Printf(context.Background(), "pool: %s", "dial failed")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d records: %q", len(lines), buf.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
	}
	if !strings.Contains(lines[0], "collector unreachable") || !strings.Contains(lines[1], "go-redis: pool: dial failed") {
		t.Fatalf("records: %q", lines)
	}
}
