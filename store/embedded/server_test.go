package embedded_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/neko-defense/neko/store/embedded"
)

// TestServerPersists writes through the wire protocol, restarts the server
// on the same directory and reads the document back.
func TestServerPersists(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dir := t.TempDir() + "/nested/data" // created by Start

	withServer := func(fn func(coll *mongo.Collection)) {
		srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(srv.URI(), "mongodb://127.0.0.1:") {
			t.Errorf("URI = %q", srv.URI())
		}
		client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()))
		if err != nil {
			t.Fatal(err)
		}
		fn(client.Database("embedded-test").Collection("things"))
		if err := client.Disconnect(ctx); err != nil {
			t.Error(err)
		}
		if err := srv.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	withServer(func(coll *mongo.Collection) {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "name", Value: "neko"}, {Key: "level", Value: 9}}); err != nil {
			t.Fatal(err)
		}
	})
	withServer(func(coll *mongo.Collection) {
		var doc struct {
			Name  string `bson:"name"`
			Level int    `bson:"level"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "name", Value: "neko"}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc.Level != 9 {
			t.Errorf("read back %+v", doc)
		}
	})
}

func TestStartRejectsBusyAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URI(), "mongodb://"), "/")
	if other, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), Addr: addr}, nil); err == nil {
		other.Close(context.Background())
		t.Fatalf("second server on %s started", addr)
	}
}
