package mongo

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store"
)

// maxTopCollections bounds DatabaseStats.TopCollections and therefore the
// number of countDocuments it runs.
const maxTopCollections = 10

// Overview returns the headline counts of REST /api/stats with four
// concurrent countDocuments.
func (s *Store) Overview(ctx context.Context) (store.Overview, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var actors, active, captured, triggers int
	g, gctx := group(ctx)
	g.Go(count(gctx, s.coll(store.CollThreatActors), bson.D{}, &actors))
	g.Go(count(gctx, s.coll(store.CollHunts), bson.D{{Key: "status", Value: "active"}}, &active))
	g.Go(count(gctx, s.coll(store.CollHunts), bson.D{{Key: "outcome", Value: "captured"}}, &captured))
	g.Go(count(gctx, s.coll(store.CollHoneypot), bson.D{}, &triggers))
	if err := g.Wait(); err != nil {
		return store.Overview{}, fmt.Errorf("overview: %w", err)
	}
	return store.Overview{
		ThreatActors: int64(actors), ActiveHunts: int64(active),
		CapturedHunts: int64(captured), HoneypotTriggers: int64(triggers),
	}, nil
}

// AsciiArt returns the ascii_art gallery ordered by id (at most 1000
// pieces).
func (s *Store) AsciiArt(ctx context.Context) ([]store.AsciiArt, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	out, err := findAll[store.AsciiArt](ctx, s.coll(store.CollAsciiArt), bson.D{},
		options.Find().SetSort(bson.D{{Key: "id", Value: 1}}).SetLimit(maxListLimit))
	if err != nil {
		return nil, fmt.Errorf("find ascii art: %w", err)
	}
	return out, nil
}

// DatabaseStats describes the database for REST /api/mongodb-stats: dbStats,
// serverStatus (optional: Server and Connections are nil when it fails, as it
// does without the clusterMonitor role), listCollections, then one
// countDocuments for each of the first 10 collections by name, concurrently.
func (s *Store) DatabaseStats(ctx context.Context) (store.DatabaseStats, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var (
		st     store.DatabaseStats
		dbRaw  bson.Raw
		srvRaw bson.Raw
		colls  []store.CollectionCount
	)
	g, gctx := group(ctx)
	g.Go(func() (err error) {
		err = guarded(gctx, Aggregate, func(ctx context.Context) (err error) {
			dbRaw, err = s.db.RunCommand(ctx, bson.D{{Key: "dbStats", Value: 1}}).Raw()
			return err
		})
		if err != nil {
			return fmt.Errorf("dbStats: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		// Optional, but a round trip like any other: through the Guard (an error reply, such as
		// a missing role, is the server's answer and counts as success there).
		var raw bson.Raw
		err := guarded(gctx, Aggregate, func(ctx context.Context) (err error) {
			raw, err = s.db.RunCommand(ctx, bson.D{{Key: "serverStatus", Value: 1}}).Raw()
			return err
		})
		if err != nil {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			s.logger.Debug("serverStatus unavailable", "err", err)
			return nil
		}
		srvRaw = raw
		return nil
	})
	g.Go(func() error {
		var specs []mongo.CollectionSpecification
		err := guarded(gctx, Aggregate, func(ctx context.Context) (err error) {
			specs, err = s.db.ListCollectionSpecifications(ctx, bson.D{})
			return err
		})
		if err != nil {
			return fmt.Errorf("listCollections: %w", err)
		}
		for _, sp := range specs {
			if strings.HasPrefix(sp.Name, "system.") {
				continue
			}
			colls = append(colls, store.CollectionCount{Name: sp.Name, Type: sp.Type})
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return store.DatabaseStats{}, fmt.Errorf("database stats: %w", err)
	}

	st.Name = s.db.Name()
	if v, ok := dbRaw.Lookup("db").StringValueOK(); ok {
		st.Name = v
	}
	st.Collections = int64Of(dbRaw.Lookup("collections"))
	st.Views = int64Of(dbRaw.Lookup("views"))
	st.Objects = int64Of(dbRaw.Lookup("objects"))
	st.DataSize = int64Of(dbRaw.Lookup("dataSize"))
	st.StorageSize = int64Of(dbRaw.Lookup("storageSize"))
	st.Indexes = int64Of(dbRaw.Lookup("indexes"))
	st.IndexSize = int64Of(dbRaw.Lookup("indexSize"))
	st.TotalSize = int64Of(dbRaw.Lookup("totalSize"))
	if st.TotalSize == 0 {
		st.TotalSize = st.DataSize + st.IndexSize
	}
	st.AvgObjSize = int64Of(dbRaw.Lookup("avgObjSize"))
	if st.Collections == 0 {
		st.Collections = int64(len(colls))
	}
	if srvRaw != nil {
		st.Server, st.Connections = serverInfo(srvRaw)
	}

	slices.SortFunc(colls, func(a, b store.CollectionCount) int { return strings.Compare(a.Name, b.Name) })
	colls = colls[:min(len(colls), maxTopCollections)]
	g, gctx = group(ctx)
	for i := range colls {
		c := &colls[i]
		g.Go(func() error {
			var n int64
			err := guarded(gctx, Aggregate, func(ctx context.Context) (err error) {
				n, err = s.db.Collection(c.Name).CountDocuments(ctx, bson.D{})
				return err
			})
			if err != nil {
				return fmt.Errorf("count %s: %w", c.Name, err)
			}
			c.Count = n
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return store.DatabaseStats{}, fmt.Errorf("database stats: %w", err)
	}
	slices.SortStableFunc(colls, func(a, b store.CollectionCount) int {
		switch {
		case a.Count > b.Count:
			return -1
		case a.Count < b.Count:
			return 1
		}
		return 0
	})
	st.TopCollections = colls
	if st.TopCollections == nil {
		st.TopCollections = []store.CollectionCount{}
	}
	return st, nil
}

// serverInfo reads the host, process and connection sections of a
// serverStatus reply; connections is nil when the reply has none.
func serverInfo(raw bson.Raw) (*store.ServerInfo, *store.ConnectionInfo) {
	srv := &store.ServerInfo{}
	srv.Host, _ = raw.Lookup("host").StringValueOK()
	srv.Version, _ = raw.Lookup("version").StringValueOK()
	srv.Process, _ = raw.Lookup("process").StringValueOK()
	srv.Uptime = float64Of(raw.Lookup("uptime"))
	if pid := raw.Lookup("pid"); isNumber(pid) {
		n := int64Of(pid)
		srv.PID = &n
	}
	conns, ok := raw.Lookup("connections").DocumentOK()
	if !ok {
		return srv, nil
	}
	return srv, &store.ConnectionInfo{
		Current:      int64Of(conns.Lookup("current")),
		Available:    int64Of(conns.Lookup("available")),
		TotalCreated: int64Of(conns.Lookup("totalCreated")),
		Active:       int64Of(conns.Lookup("active")),
		Rejected:     int64Of(conns.Lookup("rejected")),
	}
}

func isNumber(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble:
		return true
	}
	return false
}

// int64Of reads any numeric BSON value as an int64; anything else is 0.
func int64Of(v bson.RawValue) int64 {
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return int64(math.Round(v.Double()))
	}
	return 0
}

// float64Of reads any numeric BSON value as a float64; anything else is 0.
func float64Of(v bson.RawValue) float64 {
	switch v.Type {
	case bson.TypeInt32:
		return float64(v.Int32())
	case bson.TypeInt64:
		return float64(v.Int64())
	case bson.TypeDouble:
		return v.Double()
	}
	return 0
}
