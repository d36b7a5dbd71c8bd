package resolvers

import (
	"context"
	"slices"
	"testing"

	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/loaders"
	"github.com/neko-defense/neko/store"
)

// relationStore answers the loaders with one trigger per address and nothing else.
type relationStore struct{ loaders.Store }

func (relationStore) HoneypotTriggersByIPs(_ context.Context, ips []string, _ int) ([]store.HoneypotTrigger, error) {
	out := make([]store.HoneypotTrigger, len(ips))
	for i, ip := range ips {
		out[i] = store.HoneypotTrigger{IPAddress: ip, TrapName: "trap of " + ip}
	}
	return out, nil
}

// An actor listing an address twice among its IOCs gets each of its triggers once.
func TestHoneypotTriggersOfRepeatedIOC(t *testing.T) {
	b := map[string]map[string]graphql.Field{
		"ThreatActorType": {}, "HuntConversationType": {}, "HoneypotTriggerType": {}, "CasePatternType": {},
	}
	(&Resolvers{}).bindRelations(b)
	ctx := context.Background()
	ctx = loaders.NewContext(ctx, loaders.New(ctx, relationStore{}, loaders.Config{}))
	actor := &store.ThreatActor{ActorID: "TA-0093", IOCs: []string{"192.0.2.43", "198.51.100.38", "192.0.2.43"}}
	v, err := b["ThreatActorType"]["honeypotTriggers"].Resolve(ctx, graphql.ResolveParams{Source: actor, Args: map[string]any{"limit": 10}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = v.(graphql.Thunk)()
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, tr := range v.([]any) {
		ips = append(ips, tr.(*store.HoneypotTrigger).IPAddress)
	}
	slices.Sort(ips)
	if !slices.Equal(ips, []string{"192.0.2.43", "198.51.100.38"}) {
		t.Fatalf("triggers from %v, want each address once", ips)
	}
}
