package mongo

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestIsAnswer(t *testing.T) {
	decodeErr := &bson.DecodeError{}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no document", mongo.ErrNoDocuments, true},
		{"undecodable document", fmt.Errorf("find: %w", decodeErr), true},
		{"refused command (bad pattern)", mongo.CommandError{Code: 51091, Message: "Regular expression is invalid"}, true},
		{"refused command (negative skip)", fmt.Errorf("find: %w", mongo.CommandError{Code: 2, Message: "skip value must be non-negative"}), true},
		{"shutting down", mongo.CommandError{Code: 91, Message: "The server is in quiesce mode"}, false},
		{"not primary", mongo.CommandError{Code: 10107, Message: "not primary"}, false},
		{"time limit", mongo.CommandError{Code: 50, Message: "operation exceeded time limit"}, false},
		{"transient label", mongo.CommandError{Code: 112, Labels: []string{"TransientTransactionError"}}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"anything else", fmt.Errorf("connection reset"), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		if got := isAnswer(tc.err); got != tc.want {
			t.Errorf("%s: isAnswer(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
