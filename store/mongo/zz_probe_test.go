package mongo_test

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestZZProbe(t *testing.T) {
	ctx := testContext(t)
	db := env.store.Database()
	for i := 0; i < 3; i++ {
		start := time.Now()
		n, err := db.Collection("ascii_art").CountDocuments(ctx, bson.D{})
		t.Logf("count ascii %v %v %v", n, time.Since(start), err)
		start = time.Now()
		var x bson.M
		err = db.Collection("ascii_art").FindOne(ctx, bson.D{}).Decode(&x)
		t.Logf("findone ascii %v %v", time.Since(start), err)
		start = time.Now()
		err = db.Collection("honeypot_triggers").FindOne(ctx, bson.D{{Key: "_id", Value: env.data.HoneypotTriggers[5].ID}}).Decode(&x)
		t.Logf("findone trigger by id %v %v", time.Since(start), err)
		start = time.Now()
		err = db.Collection("honeypot_triggers").FindOne(ctx, bson.D{{Key: "trap_name", Value: "eval"}}).Decode(&x)
		t.Logf("findone trigger by trap %v %v", time.Since(start), err)
		start = time.Now()
		err = db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
		t.Logf("ping %v %v", time.Since(start), err)
	}
}
