package resolvers

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/graphql"
	"github.com/neko-defense/neko/internal/clientkey"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/store"
)

// SecurityStore reads the security records the admin queries show (store/mongo satisfies it).
type SecurityStore interface {
	Incidents(ctx context.Context, limit int) ([]store.Incident, error)
	SecurityStats(ctx context.Context, since time.Time) (store.SecurityStats, error)
	AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
}

// BlockAdmin is the shared block list as the admin fields use it (defense.BlockList).
type BlockAdmin interface {
	Block(ctx context.Context, ip, reason string, d time.Duration) error
	Unblock(ctx context.Context, ip string) error
	Blocked(ip string) (until time.Time, reason string, ok bool)
	List() []defense.Block
}

// KeyAdmin manages API keys (security.KeyManager).
type KeyAdmin interface {
	Create(ctx context.Context, name string, role security.Role, createdBy string) (string, security.APIKeyInfo, error)
	Rotate(ctx context.Context, id string, grace time.Duration) (string, security.APIKeyInfo, error)
	Revoke(ctx context.Context, id string) error
	List(ctx context.Context) ([]security.APIKeyInfo, error)
}

// Auditor receives audit events (security.AuditLog). Record must not block.
type Auditor interface {
	Record(ev security.AuditEvent)
}

// notConfigured answers an admin field whose collaborator was not given to New. It is a client
// facing error (its message survives production masking): the caller asked for a feature this
// deployment does not run.
func notConfigured(feature string) error {
	return inputErrorf("%s is not configured on this server", feature)
}

// Admin field bounds.
const (
	maxAdminList      = 500
	maxBlockMinutes   = 30 * 24 * 60
	maxGraceMinutes   = 7 * 24 * 60
	maxBlockReasonLen = 200
	statsWindow       = 24 * time.Hour
)

func (r *Resolvers) bindAdmin(b map[string]map[string]graphql.Field) {
	q, m := b["Query"], b["Mutation"]
	q["securityIncidents"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.security == nil {
			return nil, notConfigured("security incident storage")
		}
		limit, err := limitArg(p, "limit", maxAdminList)
		if err != nil {
			return nil, err
		}
		ins, err := r.security.Incidents(ctx, limit)
		if err != nil {
			return nil, err
		}
		return pointers(ins), nil
	})
	q["blockedAddresses"] = blocking(func(context.Context, graphql.ResolveParams) (any, error) {
		if r.blocks == nil {
			return nil, notConfigured("the block list")
		}
		return pointers(r.blocks.List()), nil
	})
	q["auditLog"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.security == nil {
			return nil, notConfigured("the audit log")
		}
		limit, err := limitArg(p, "limit", maxAdminList)
		if err != nil {
			return nil, err
		}
		f := store.AuditFilter{Limit: limit}
		if _, ok := p.Args["category"].(string); ok {
			v := argString(p, "category") // without NUL bytes, as every string argument
			switch security.AuditCategory(v) {
			case security.CategoryAuth, security.CategoryAccess, security.CategorySecurity, security.CategoryData, security.CategorySystem:
				f.Category = v
			default:
				return nil, inputErrorf("category must be auth, access, security, data or system")
			}
		}
		if _, ok := p.Args["ip"].(string); ok {
			if f.ActorIP, err = ipArg(p, "ip"); err != nil {
				return nil, err
			}
		}
		evs, err := r.security.AuditEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		return pointers(evs), nil
	})
	q["securityStats"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		if r.security == nil {
			return nil, notConfigured("security incident storage")
		}
		st, err := r.security.SecurityStats(ctx, r.now().Add(-statsWindow))
		if err != nil {
			return nil, err
		}
		return &st, nil
	})
	q["apiKeys"] = blocking(func(ctx context.Context, _ graphql.ResolveParams) (any, error) {
		if r.keys == nil {
			return nil, notConfigured("API key management")
		}
		keys, err := r.keys.List(ctx)
		if err != nil {
			return nil, err
		}
		return pointers(keys), nil
	})

	m["blockAddress"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.blocks == nil {
			return nil, notConfigured("the block list")
		}
		addr, err := clientArg(p, "ip")
		if err != nil {
			return nil, err
		}
		if err := blockable(addr); err != nil {
			return nil, err
		}
		// An IPv6 address blocks its /64 (clientkey): the block list derives the same key.
		ip, key := addr.String(), clientkey.Of(addr)
		reason := strings.TrimSpace(argString(p, "reason"))
		if reason == "" || utf8.RuneCountInString(reason) > maxBlockReasonLen {
			return nil, inputErrorf("reason must be 1 to %d characters", maxBlockReasonLen)
		}
		var d time.Duration // 0: the block list's default
		if n, ok := p.Args["minutes"].(int); ok {
			if n < 1 || n > maxBlockMinutes {
				return nil, inputErrorf("minutes must be 1 to %d", maxBlockMinutes)
			}
			d = time.Duration(n) * time.Minute
		}
		if err := r.blocks.Block(ctx, key, "admin: "+reason, d); err != nil {
			if errors.Is(err, defense.ErrNotBlockable) { // a trusted proxy's address
				return nil, inputErrorf("%s cannot be blocked: it is a trusted proxy's or this host's own", ip)
			}
			return nil, err
		}
		r.auditAddress(ctx, "address_block", ip, key, map[string]any{"reason": reason, "minutes": int(d / time.Minute)})
		for _, blk := range r.blocks.List() {
			if blk.IP == key {
				return &blk, nil
			}
		}
		return nil, errors.New("block address: the block is not in the list")
	})
	m["unblockAddress"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.blocks == nil {
			return nil, notConfigured("the block list")
		}
		addr, err := clientArg(p, "ip")
		if err != nil {
			return nil, err
		}
		// The block of the client's key (an IPv6 address's /64), and a block of an IPv6
		// address alone made before blocks covered the /64: Unblock lifts both.
		ip, key := addr.String(), clientkey.Of(addr)
		_, _, was := r.blocks.Blocked(key)
		if _, _, alone := r.blocks.Blocked(ip); alone {
			was = true
		}
		if err := r.blocks.Unblock(ctx, ip); err != nil {
			return nil, err
		}
		r.auditAddress(ctx, "address_unblock", ip, key, map[string]any{"was_blocked": was})
		return was, nil
	})
	m["createApiKey"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.keys == nil {
			return nil, notConfigured("API key management")
		}
		name := strings.TrimSpace(argString(p, "name"))
		if name == "" || utf8.RuneCountInString(name) > 100 {
			return nil, inputErrorf("name must be 1 to 100 characters")
		}
		role, err := security.ParseRole(argString(p, "role"))
		if err != nil || role == security.RoleAnonymous {
			return nil, inputErrorf("role must be VIEWER, ANALYST or ADMIN")
		}
		key, info, err := r.keys.Create(ctx, name, role, security.FromContext(ctx).Username)
		if err != nil {
			return nil, err
		}
		return map[string]any{"key": key, "info": &info}, nil
	})
	m["rotateApiKey"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.keys == nil {
			return nil, notConfigured("API key management")
		}
		grace := argInt(p, "graceMinutes")
		if grace < 0 || grace > maxGraceMinutes {
			return nil, inputErrorf("graceMinutes must be 0 to %d", maxGraceMinutes)
		}
		key, info, err := r.keys.Rotate(ctx, argString(p, "id"), time.Duration(grace)*time.Minute)
		if err != nil {
			return nil, keyError(err)
		}
		return map[string]any{"key": key, "info": &info}, nil
	})
	m["revokeApiKey"] = blocking(func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		if r.keys == nil {
			return nil, notConfigured("API key management")
		}
		id := argString(p, "id")
		if err := r.keys.Revoke(ctx, id); err != nil {
			return nil, keyError(err)
		}
		keys, err := r.keys.List(ctx)
		if err != nil {
			return nil, err
		}
		for i := range keys {
			if keys[i].ID == id {
				return &keys[i], nil
			}
		}
		return nil, keyError(store.ErrNotFound)
	})

	b["SecurityIncidentType"] = getters(map[string]func(*store.Incident) any{
		"incident_id":  func(in *store.Incident) any { return in.IncidentID },
		"timestamp":    func(in *store.Incident) any { return in.Timestamp },
		"severity":     func(in *store.Incident) any { return in.Severity },
		"category":     func(in *store.Incident) any { return in.Category },
		"description":  func(in *store.Incident) any { return optString(in.Description) },
		"ip":           func(in *store.Incident) any { return in.Actor.IP },
		"fingerprint":  func(in *store.Incident) any { return optString(in.Actor.Fingerprint) },
		"user_id":      func(in *store.Incident) any { return optString(in.Actor.UserID) },
		"threat_score": func(in *store.Incident) any { return in.ThreatScore },
		"auto_blocked": func(in *store.Incident) any { return in.AutoBlocked },
		"playbook":     func(in *store.Incident) any { return in.Playbook },
		"actions":      func(in *store.Incident) any { return pointers(in.Actions) },
		"evidence":     func(in *store.Incident) any { return optMap(in.Evidence) },
	})
	b["IncidentActionType"] = getters(map[string]func(*store.IncidentAction) any{
		"type":   func(a *store.IncidentAction) any { return a.Type },
		"detail": func(a *store.IncidentAction) any { return optString(a.Detail) },
		"at":     func(a *store.IncidentAction) any { return a.At },
	})
	b["BlockedAddressType"] = getters(map[string]func(*defense.Block) any{
		"ip":         func(blk *defense.Block) any { return blk.IP },
		"reason":     func(blk *defense.Block) any { return blk.Reason },
		"blocked_at": func(blk *defense.Block) any { return blk.BlockedAt },
		"expires_at": func(blk *defense.Block) any { return blk.Until },
		"temporary":  func(blk *defense.Block) any { return blk.Temporary },
	})
	b["AuditEventType"] = getters(map[string]func(*store.AuditEvent) any{
		"_id":              func(e *store.AuditEvent) any { return e.ID.Hex() },
		"timestamp":        func(e *store.AuditEvent) any { return e.Timestamp },
		"level":            func(e *store.AuditEvent) any { return e.Level },
		"category":         func(e *store.AuditEvent) any { return e.Category },
		"action":           func(e *store.AuditEvent) any { return e.Action },
		"actor_ip":         func(e *store.AuditEvent) any { return optString(e.Actor.IP) },
		"actor_user":       func(e *store.AuditEvent) any { return optString(e.Actor.UserID) },
		"actor_user_agent": func(e *store.AuditEvent) any { return optString(e.Actor.UserAgent) },
		"resource_type": func(e *store.AuditEvent) any {
			if e.Resource == nil {
				return nil
			}
			return optString(e.Resource.Type)
		},
		"resource_id": func(e *store.AuditEvent) any {
			if e.Resource == nil {
				return nil
			}
			return optString(e.Resource.ID)
		},
		"result":       func(e *store.AuditEvent) any { return e.Result },
		"details":      func(e *store.AuditEvent) any { return optMap(e.Details) },
		"threat_score": func(e *store.AuditEvent) any { return e.ThreatScore },
		"tags":         func(e *store.AuditEvent) any { return optStrings(e.Tags) },
	})
	b["SecurityStatsType"] = getters(map[string]func(*store.SecurityStats) any{
		"since":         func(s *store.SecurityStats) any { return s.Since },
		"incidents":     func(s *store.SecurityStats) any { return s.Incidents },
		"auto_blocked":  func(s *store.SecurityStats) any { return s.AutoBlocked },
		"active_blocks": func(s *store.SecurityStats) any { return s.ActiveBlocks },
		"by_severity":   func(s *store.SecurityStats) any { return pointers(s.BySeverity) },
		"by_category":   func(s *store.SecurityStats) any { return pointers(s.ByCategory) },
		"audit_dropped": func(*store.SecurityStats) any {
			if r.auditDropped == nil {
				return 0
			}
			return int(r.auditDropped())
		},
	})
	b["SecurityCountType"] = getters(map[string]func(*store.KeyCount) any{
		"key":   func(k *store.KeyCount) any { return k.Key },
		"count": func(k *store.KeyCount) any { return k.Count },
	})
	b["ApiKeyType"] = getters(map[string]func(*security.APIKeyInfo) any{
		"id":           func(k *security.APIKeyInfo) any { return k.ID },
		"name":         func(k *security.APIKeyInfo) any { return k.Name },
		"role":         func(k *security.APIKeyInfo) any { return strings.ToUpper(k.Role.String()) },
		"state":        func(k *security.APIKeyInfo) any { return strings.ToUpper(string(k.State)) },
		"created_at":   func(k *security.APIKeyInfo) any { return k.CreatedAt },
		"created_by":   func(k *security.APIKeyInfo) any { return optString(k.CreatedBy) },
		"expires_at":   func(k *security.APIKeyInfo) any { return optTime(k.ExpiresAt) },
		"revoked_at":   func(k *security.APIKeyInfo) any { return optTime(k.RevokedAt) },
		"rotated_from": func(k *security.APIKeyInfo) any { return optString(k.RotatedFrom) },
		"grace_until":  func(k *security.APIKeyInfo) any { return optTime(k.GraceUntil) },
	})
}

// ipArg reads an address argument in the block list's form: IPv4-mapped addresses as IPv4, and
// without an IPv6 zone, which a client's address never carries.
func ipArg(p graphql.ResolveParams, name string) (string, error) {
	a, err := blockableArg(p, name)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

func blockableArg(p graphql.ResolveParams, name string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(argString(p, name)))
	if err != nil {
		return netip.Addr{}, inputErrorf("%s must be an IPv4 or IPv6 address", name)
	}
	return a.Unmap().WithZone(""), nil
}

// clientArg is blockableArg that also takes the /64 of an IPv6 client as blockedAddresses shows
// it ("2001:db8:1:2::/64"), returning its first address, whose client key is that /64.
func clientArg(p graphql.ResolveParams, name string) (netip.Addr, error) {
	if pf, err := netip.ParsePrefix(strings.TrimSpace(argString(p, name))); err == nil {
		if a := pf.Addr(); a.Is6() && !a.Is4In6() && pf.Bits() == clientkey.IPv6Bits {
			return pf.Masked().Addr(), nil
		}
		return netip.Addr{}, inputErrorf("%s must be an IPv4 or IPv6 address, or an IPv6 /%d", name, clientkey.IPv6Bits)
	}
	a, err := blockableArg(p, name)
	if err != nil {
		return netip.Addr{}, inputErrorf("%s must be an IPv4 or IPv6 address, or an IPv6 /%d", name, clientkey.IPv6Bits)
	}
	return a, nil
}

// blockable refuses addresses no client request comes from (unspecified, broadcast) and this
// host's own (loopback), whose block would lock out local administration and health checks
// rather than any attacker.
// An IPv6 address blocks its /64, so one whose /64 holds the loopback address (::/64) is refused too.
func blockable(a netip.Addr) error {
	if a.IsUnspecified() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
		clientkey.Prefix(a).Contains(netip.IPv6Loopback()) {
		return inputErrorf("%s cannot be blocked: no client request comes from it, or it is this host's own", a)
	}
	return nil
}

// keyError turns an unknown key id into a client error.
func keyError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return inputErrorf("no API key has that id")
	}
	return err
}

// adminReads are the Query fields that read security data.
var adminReads = []string{"securityIncidents", "blockedAddresses", "auditLog", "securityStats", "apiKeys"}

// auditAdminReads wraps the admin reads of security data so that each read is audited (category
// access, action "read_<field>"), whether it succeeded, failed, or was refused for the caller's
// role (result blocked): an attempt to read the audit log is itself worth recording.
func (r *Resolvers) auditAdminReads(b map[string]map[string]graphql.Field) {
	for _, name := range adminReads {
		if _, ok := b["Query"][name]; ok {
			r.audited(b["Query"], name, security.CategoryAccess, "read_", "security_data")
		}
	}
}

// auditMutations wraps every Mutation binding so that each executed mutation is audited
// (category data, action "mutation_<field>", result success or failure). Arguments are not
// recorded: they may hold passwords.
func (r *Resolvers) auditMutations(b map[string]map[string]graphql.Field) {
	for name := range b["Mutation"] {
		r.audited(b["Mutation"], name, security.CategoryData, "mutation_", "mutation")
	}
}

// audited wraps the binding fields[name] so that every call of it is recorded in the audit log
// as action+name on a resource of type resource, with the call's outcome.
func (r *Resolvers) audited(fields map[string]graphql.Field, name string, cat security.AuditCategory, action, resource string) {
	if r.auditor == nil {
		return
	}
	f := fields[name]
	next := f.Resolve
	f.Resolve = func(ctx context.Context, p graphql.ResolveParams) (any, error) {
		v, err := next(ctx, p)
		r.audit(ctx, cat, action+name, resource, err)
		return v, err
	}
	fields[name] = f
}

// auditAddress records an administrator's block or unblock with its target: the generic
// mutation event (auditMutations) does not record arguments. The resource is the block list's
// entry, key; when that is an IPv6 /64, details keep the address the administrator gave.
func (r *Resolvers) auditAddress(ctx context.Context, action, ip, key string, details map[string]any) {
	if r.auditor == nil {
		return
	}
	if key != ip {
		details["address"] = ip
	}
	r.auditor.Record(security.AuditEvent{
		Level: security.LevelWarn, Category: security.CategorySecurity, Action: action, Result: security.ResultSuccess,
		Actor: security.ActorOf(ctx), Resource: security.AuditResource{Type: "ip", ID: key}, Details: details,
		Tags: []string{"block-list"},
	})
}

func (r *Resolvers) audit(ctx context.Context, cat security.AuditCategory, action, resource string, err error) {
	if r.auditor == nil {
		return
	}
	ev := security.AuditEvent{
		Level: security.LevelInfo, Category: cat, Action: action, Result: security.ResultSuccess,
		Actor:    security.ActorOf(ctx),
		Resource: security.AuditResource{Type: resource},
	}
	if err != nil {
		ev.Level, ev.Result = security.LevelWarn, security.ResultFailure
		if errors.Is(err, security.ErrForbidden) || errors.Is(err, security.ErrUnauthenticated) || errors.Is(err, security.ErrInvalidToken) {
			ev.Result = security.ResultBlocked
		}
	}
	r.auditor.Record(ev)
}
