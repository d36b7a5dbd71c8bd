package main

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/neko-defense/neko/security"
)

// storeOps scrapes /metrics and returns neko_store_operations_total by "collection/op".
func storeOps(t *testing.T) map[string]float64 {
	t.Helper()
	res := get(t, "/metrics")
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(res.RawBody))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "neko_store_operations_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		var coll, op string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "collection":
				coll = v
			case "op":
				op = v
			}
		}
		n, _ := strconv.ParseFloat(value, 64)
		out[coll+"/"+op] = n
	}
	return out
}

// backgroundWriters are collections written asynchronously by other tests' requests (the audit
// log's flush, playbook incidents, block records): round trips counted there are not caused by
// the request under test.
var backgroundWriters = []string{"audit_logs/", "security_incidents/", "blocked_ips/"}

// opsDelta returns the round trips made between two scrapes, by collection/op, leaving out the
// background writers.
func opsDelta(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
next:
	for k, v := range after {
		for _, bg := range backgroundWriters {
			if strings.HasPrefix(k, bg) {
				continue next
			}
		}
		if v-before[k] != 0 {
			d[k] = v - before[k]
		}
	}
	return d
}

func TestRelationsBatchedOneRoundTripPerLevel(t *testing.T) {
	q := `{
		huntConversations(limit: 100) { session_id target_actor target { actor_id name } }
		honeypotTriggers(limit: 100) { ip_address actor { name iocs } }
	}`
	before := storeOps(t)
	var out struct {
		Hunts []struct {
			Target *struct {
				ID   string `json:"actor_id"`
				Name string `json:"name"`
			} `json:"target"`
			TargetActor string `json:"target_actor"`
		} `json:"huntConversations"`
		Triggers []struct {
			IP    string `json:"ip_address"`
			Actor *struct {
				Name string   `json:"name"`
				IOCs []string `json:"iocs"`
			} `json:"actor"`
		} `json:"honeypotTriggers"`
	}
	mustData(t, tokens[security.RoleAnalyst], q, nil, &out)
	delta := opsDelta(before, storeOps(t))

	if len(out.Hunts) != 100 || len(out.Triggers) != 100 {
		t.Fatalf("got %d hunts and %d triggers, want 100 each", len(out.Hunts), len(out.Triggers))
	}
	resolvedTargets, resolvedActors := 0, 0
	for _, h := range out.Hunts {
		if h.Target != nil {
			resolvedTargets++
			if h.Target.ID != h.TargetActor && h.Target.Name != h.TargetActor {
				t.Fatalf("hunt targeting %q resolved to %+v", h.TargetActor, h.Target)
			}
		}
	}
	for _, tr := range out.Triggers {
		if tr.Actor != nil {
			resolvedActors++
			if !strings.Contains(strings.Join(tr.Actor.IOCs, ","), tr.IP) {
				t.Fatalf("trigger from %s resolved to actor without that IOC: %+v", tr.IP, tr.Actor)
			}
		}
	}
	if resolvedTargets == 0 || resolvedActors == 0 {
		t.Fatalf("seed data should link hunts and triggers to actors (targets %d, actors %d)", resolvedTargets, resolvedActors)
	}
	// One find per root list, one find per relation: the 100 targets and the 100 trigger
	// actors are each answered by a single $in query on threat_actors.
	want := map[string]float64{
		"hunt_conversations/find": 1,
		"honeypot_triggers/find":  1,
		"threat_actors/find":      2,
	}
	for k, n := range want {
		if delta[k] != n {
			t.Errorf("%s: %v round trips, want %v (all: %v)", k, delta[k], n, delta)
		}
	}
	if len(delta) != len(want) {
		t.Errorf("unexpected database round trips: %v", delta)
	}
}

func TestNestedRelations(t *testing.T) {
	var out struct {
		Actors []struct {
			ID    string `json:"actor_id"`
			Hunts []struct {
				Target struct {
					ID string `json:"actor_id"`
				} `json:"target"`
			} `json:"hunts"`
			Triggers []struct {
				IP string `json:"ip_address"`
			} `json:"honeypotTriggers"`
		} `json:"threatActors"`
		Patterns []struct {
			ID      string   `json:"pattern_id"`
			Listed  []string `json:"related_patterns"`
			Related []struct {
				ID string `json:"pattern_id"`
			} `json:"related"`
		} `json:"casePatterns"`
	}
	mustData(t, tokens[security.RoleAnalyst], `{
		threatActors(limit: 60) { actor_id hunts(limit: 5) { target { actor_id } } honeypotTriggers(limit: 3) { ip_address } }
		casePatterns(limit: 30) { pattern_id related_patterns related { pattern_id } }
	}`, nil, &out)
	hunts, triggers := 0, 0
	for _, a := range out.Actors {
		if len(a.Hunts) > 5 || len(a.Triggers) > 3 {
			t.Fatalf("limits not applied: %d hunts, %d triggers", len(a.Hunts), len(a.Triggers))
		}
		for _, h := range a.Hunts {
			if h.Target.ID != a.ID {
				t.Fatalf("hunt of %s targets %s", a.ID, h.Target.ID)
			}
		}
		hunts += len(a.Hunts)
		triggers += len(a.Triggers)
	}
	if hunts == 0 || triggers == 0 {
		t.Fatalf("relations empty: %d hunts, %d triggers", hunts, triggers)
	}
	related := 0
	for _, p := range out.Patterns {
		for i, r := range p.Related {
			if r.ID != p.Listed[i] {
				t.Fatalf("pattern %s related %v, listed %v", p.ID, p.Related, p.Listed)
			}
		}
		related += len(p.Related)
	}
	if related == 0 {
		t.Fatal("no related patterns resolved")
	}
	// Viewers may not follow the analyst-only relations.
	res := query(t, tokens[security.RoleViewer], `{ threatActors(limit: 1) { hunts { session_id } } }`, nil)
	if res.code() != "FORBIDDEN" {
		t.Fatalf("viewer hunts relation: %s", res.RawBody)
	}
}
