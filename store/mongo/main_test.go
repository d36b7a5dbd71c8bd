package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/neko-defense/neko/store/embedded"
	nekomongo "github.com/neko-defense/neko/store/mongo"
	"github.com/neko-defense/neko/store/seed"
)

// testSeed is the seed of the dataset every test reads.
const testSeed = 42

// env is shared by the tests of this package: one embedded database seeded
// once in TestMain. Tests that write restore what they change.
var env struct {
	uri   string
	store *nekomongo.Store
	data  seed.Dataset
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "neko-store-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	// Errors only: the store logs a warning for each unreadable legacy
	// threat_level the seed plants on purpose.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded database:", err)
		return 1
	}
	defer func() {
		if err := srv.Close(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	env.uri = srv.URI()

	st, err := nekomongo.New(ctx, nekomongo.Config{URI: env.uri, Database: "neko-test", OperationTimeout: time.Minute}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "new store:", err)
		return 1
	}
	defer st.Close(context.Background())
	env.store = st
	if err := st.EnsureIndexes(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.data = seed.Generate(seed.Small, testSeed)
	if err := seed.Load(ctx, st.Database(), env.data); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "embedded database started and seeded in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // generous: -race slows FerretDB ~10x
	t.Cleanup(cancel)
	return ctx
}

// sorted returns a sorted copy of xs.
func sorted[T any](xs []T, cmp func(a, b T) int) []T {
	out := slices.Clone(xs)
	slices.SortStableFunc(out, cmp)
	return out
}

// ids maps xs by key.
func ids[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	return out
}

// filter returns the elements of xs for which keep is true.
func filter[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

func equalIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	equalIDs(t, what, sorted(got, compareStrings), sorted(want, compareStrings))
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareObjectIDs(a, b bson.ObjectID) int {
	return compareStrings(string(a[:]), string(b[:]))
}

func compareTimes(a, b time.Time) int { return a.Compare(b) }

// bsonOrder compares values the way MongoDB sorts mixed types: missing and
// null, then numbers, then strings.
func bsonOrder(a, b any) int {
	rank := func(v any) int {
		switch v.(type) {
		case nil:
			return 0
		case int:
			return 1
		case string:
			return 2
		}
		panic(fmt.Sprintf("bsonOrder: %T", v))
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case int:
		return x - b.(int)
	case string:
		return compareStrings(x, b.(string))
	}
	return 0
}
