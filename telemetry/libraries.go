package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
)

// RouteLibraryLogs sends what go-redis and OpenTelemetry report on their own (process-wide
// loggers that write plain text to stderr by default) to logger, so that stderr holds only JSON
// records. go-redis repeats a dial failure on every attempt while Redis is down, which the
// components that use it already report once in a while: its lines go at debug level.
// OpenTelemetry's (an exporter that cannot reach its collector) at warn.
func RouteLibraryLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "err", err)
	}))
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
