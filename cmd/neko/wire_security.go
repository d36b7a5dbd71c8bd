package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/neko-defense/neko/defense"
	"github.com/neko-defense/neko/resilience"
	"github.com/neko-defense/neko/resolvers"
	"github.com/neko-defense/neko/security"
	"github.com/neko-defense/neko/server"
)

// keysChannel carries "<action> <key id>" for every API key change between instances: each one
// forgets a revoked key at once and reloads its key index (retried until it succeeds).
const keysChannel = "neko:keys"

// securityParts are the identity and traffic-defense components: the audit log, API keys, the
// authenticator, the shared block list, threat scoring, the incident playbooks and the honeypot.
// openSecurity builds them in dependency order; closeSecurity stops them in the reverse.
type securityParts struct {
	audit     *security.AuditLog
	keys      *security.KeyManager
	auth      *security.Authenticator
	blocks    *defense.BlockList
	scorer    *defense.Scorer
	responder *defense.Responder
	honeypot  *defense.Honeypot

	// The subscription to keysChannel, owned here: cancel stops it, done is closed when it has.
	keysCancel context.CancelFunc
	keysDone   chan struct{}
}

// openSecurity builds the security components over the store and Redis (when set) and
// bootstraps the admin account. Call it after openStore and openRedis; whatever it started is in
// a.sec, so Close stops it even when it fails half-way.
func (a *App) openSecurity(ctx context.Context) (*security.Authenticator, error) {
	cfg := a.cfg
	sp := &securityParts{}
	a.sec = sp
	var err error
	sp.audit, err = security.NewAuditLog(security.AuditConfig{
		Writer: a.store, BatchSize: cfg.AuditBatch, FlushInterval: cfg.AuditFlush, Logger: a.logger,
	})
	if err != nil {
		return nil, err
	}
	a.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "neko_audit_dropped_total", Help: "Audit events dropped because the buffer was full.",
	}, func() float64 { return float64(sp.audit.Dropped()) }))

	rdb := a.redisClient()
	keyCfg := security.KeyConfig{Store: a.store, Audit: sp.audit, Logger: a.logger}
	if rdb != nil {
		keyCfg.OnChange = func(action, keyID string) {
			pctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if err := rdb.Publish(pctx, keysChannel, action+" "+keyID).Err(); err != nil {
				a.logger.Warn("publish api key change", "err", err)
			}
		}
	}
	sp.keys, err = security.NewKeyManager(ctx, keyCfg)
	if err != nil {
		return nil, err
	}
	if rdb != nil {
		sp.watchKeys(rdb, a)
	}
	throttle := security.ThrottleConfig{Logger: a.logger}
	if rdb != nil {
		// Failed logins are counted in Redis exactly, one round trip per attempt; the request
		// rate limiter (a.limiter) decides in memory and would let N instances allow N bursts.
		throttle.Shared, err = resilience.NewStrictLimiter(resilience.StrictLimitConfig{Redis: rdb})
		if err != nil {
			return nil, err
		}
	}
	sp.auth, err = security.NewAuthenticator(security.AuthConfig{
		Secret: []byte(cfg.JWTSecret), TokenTTL: cfg.JWTTTL,
		AdminUsername: cfg.AdminUsername, AdminPassword: cfg.AdminPassword,
		Users: a.store, Keys: sp.keys, Audit: sp.audit, Throttle: throttle,
	})
	if err != nil {
		return nil, err
	}
	if err := sp.auth.BootstrapAdmin(ctx); err != nil {
		return nil, err
	}

	sp.blocks, err = defense.NewBlockList(defense.BlockListConfig{Redis: rdb, Store: a.store, Logger: a.logger,
		TrustedProxies: a.cfg.TrustedProxies})
	if err != nil {
		return nil, err
	}
	select { // the first load from Redis and the store; bounded so a dead Redis cannot hang start-up
	case <-sp.blocks.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sp.scorer, err = defense.NewScorer(defense.ScorerConfig{
		BlockThreshold: cfg.ThreatBlockScore, ChallengeThreshold: cfg.ThreatChallengeScore,
	})
	if err != nil {
		return nil, err
	}
	sp.responder, err = defense.NewResponder(defense.ResponderConfig{
		BlockList: sp.blocks, IncidentStore: a.store, Logger: a.logger,
		Audit: func(r defense.AuditRecord) {
			result := security.ResultSuccess
			if r.Result == string(security.ResultBlocked) {
				result = security.ResultBlocked
			}
			ev := security.ThreatEvent(r.Action, r.IP, r.Score, result)
			ev.Time, ev.Details = r.At, r.Details
			sp.audit.Record(ev)
		},
	})
	if err != nil {
		return nil, err
	}
	sp.honeypot, err = defense.NewHoneypot(defense.HoneypotConfig{Triggers: a.store, Responder: sp.responder, Logger: a.logger})
	if err != nil {
		return nil, err
	}
	a.metrics.GaugeFunc("neko_blocked_addresses", "Addresses on the block list held by this instance.", nil,
		func() float64 { return float64(sp.blocks.Stats().Entries) })
	a.metrics.GaugeFunc("neko_block_store_pending", "Blocks and unblocks made by this instance not yet confirmed by the database (queued or waiting for a retry).", nil,
		func() float64 { return float64(sp.blocks.Stats().StorePending) })
	a.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "neko_block_store_lost_total", Help: "Block and unblock database writes given up because too many were waiting for a retry.",
	}, func() float64 { return float64(sp.blocks.Stats().StoreLost) }))
	return sp.auth, nil
}

var _ security.SharedBudget = (*resilience.StrictLimiter)(nil)

// watchKeys applies the changes other instances (and this one) announce on keysChannel.
func (sp *securityParts) watchKeys(rdb redis.UniversalClient, a *App) {
	life, cancel := context.WithCancel(context.Background())
	sp.keysCancel, sp.keysDone = cancel, make(chan struct{})
	sub := rdb.Subscribe(life, keysChannel)
	go func() {
		defer close(sp.keysDone)
		defer sub.Close()
		ch := sub.Channel()
		var retry <-chan time.Time // set while a failed reload waits to be retried
		backoff := time.Second
		for {
			select {
			case <-life.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				// "<action> <key id>": a revocation stops the key here at once, whether or not
				// the reload below reaches the database.
				if action, id, _ := strings.Cut(m.Payload, " "); action == "api_key_revoke" {
					sp.keys.Forget(id)
				}
				backoff = time.Second
			case <-retry:
			}
			rctx, rcancel := context.WithTimeout(life, 5*time.Second)
			err := sp.keys.Refresh(rctx)
			rcancel()
			retry = nil
			if err != nil && life.Err() == nil {
				a.logger.Warn("reload api keys after change notification; retrying", "err", err, "in", backoff)
				retry = time.After(backoff)
				backoff = min(2*backoff, 30*time.Second)
			}
		}
	}()
}

// resolverConfig adds the admin collaborators to the resolvers' configuration.
func (sp *securityParts) resolverConfig(rc resolvers.Config, st resolvers.SecurityStore) resolvers.Config {
	rc.Security, rc.Blocks, rc.Keys, rc.Audit, rc.AuditDropped = st, sp.blocks, sp.keys, sp.audit, sp.audit.Dropped
	return rc
}

// serverDefense is what the HTTP layer enforces.
func (sp *securityParts) serverDefense() *server.Defense {
	return &server.Defense{BlockList: sp.blocks, Scorer: sp.scorer, Responder: sp.responder, Honeypot: sp.honeypot}
}

// closeSecurity stops the components after the HTTP server has drained, in the order that lets
// each one's last records reach the next: the honeypot and the responder (their incident and
// trigger writes, their audit records), the block list, the key watcher and key manager, and
// last the audit log, whose Close flushes everything recorded. The store closes after this.
func (a *App) closeSecurity(ctx context.Context) error {
	sp := a.sec
	if sp == nil {
		return nil
	}
	var errs []error
	if sp.honeypot != nil {
		errs = append(errs, sp.honeypot.Close(ctx))
	}
	if sp.responder != nil {
		errs = append(errs, sp.responder.Close(ctx))
	}
	if sp.blocks != nil {
		errs = append(errs, sp.blocks.Close(ctx))
	}
	if sp.keysCancel != nil {
		sp.keysCancel()
		select {
		case <-sp.keysDone:
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
	}
	if sp.keys != nil {
		errs = append(errs, sp.keys.Close(ctx))
	}
	if sp.audit != nil {
		errs = append(errs, sp.audit.Close(ctx))
	}
	return errors.Join(errs...)
}
