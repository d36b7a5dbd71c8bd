package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	nekomongo "github.com/neko-defense/neko/store/mongo"
)

// ExampleOperationCounter counts every database round trip, as the server's
// neko_store_operations_total{collection,op} counter does. The callback runs
// on driver goroutines, so it must be safe for concurrent use.
func ExampleOperationCounter() {
	ctx := context.Background()
	var roundTrips atomic.Int64
	st, err := nekomongo.New(ctx, nekomongo.Config{
		URI: "mongodb://127.0.0.1:27017",
		Monitor: nekomongo.OperationCounter(func(collection, op string) {
			roundTrips.Add(1) // e.g. metric.WithLabelValues(collection, op).Inc()
		}),
	}, slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close(ctx)
	// st.ThreatActors(ctx, "all", 100) is one ("threat_actors", "find").
}
