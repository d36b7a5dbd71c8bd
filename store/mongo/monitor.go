package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/event"
)

// IsHandshake reports connection-management commands, which are not
// database work: OperationCounter does not count them, and other command
// monitors (tracing) can skip them the same way.
func IsHandshake(command string) bool {
	switch command {
	case "hello", "isMaster", "ismaster", "saslStart", "saslContinue", "authenticate",
		"getnonce", "buildInfo", "buildinfo":
		return true
	}
	return false
}

// OperationCounter returns a command monitor that calls fn once per database
// round trip with the collection name and the command name (find, aggregate,
// insert, getMore, ...). Database-level commands (dbStats, serverStatus,
// listCollections, ping, endSessions) report collection "-". Handshake and
// authentication commands are not reported. fn runs on the driver's
// goroutine and must be fast and safe for concurrent use; a Prometheus
// counter's Inc is.
func OperationCounter(fn func(collection, op string)) *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if IsHandshake(e.CommandName) {
				return
			}
			fn(CommandCollection(e), e.CommandName)
		},
	}
}

// CommandCollection extracts the collection a command targets: the string
// value of the command's first element (find: "threat_actors"), or the
// "collection" field of getMore. Database-level commands give "-".
func CommandCollection(e *event.CommandStartedEvent) string {
	if e.CommandName == "getMore" {
		if v, ok := e.Command.Lookup("collection").StringValueOK(); ok && v != "" {
			return v
		}
		return "-"
	}
	elems, err := e.Command.Elements()
	if err != nil || len(elems) == 0 {
		return "-"
	}
	if v, ok := elems[0].Value().StringValueOK(); ok && v != "" {
		return v
	}
	return "-"
}
