package security

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neko-defense/neko/store"
)

// API key format: "neko_<id>_<secret>", where id is keyIDBytes random bytes in lowercase hex (no
// '_', so the first '_' after the id separates it from the secret) and secret is keySecretBytes
// random bytes in unpadded base64url (which may itself contain '_').
const (
	apiKeyPrefix   = "neko_"
	keyIDBytes     = 6
	keySecretBytes = 32
	keyIDLen       = 2 * keyIDBytes
	keySecretLen   = 43 // base64.RawURLEncoding.EncodedLen(keySecretBytes)
	apiKeyLen      = len(apiKeyPrefix) + keyIDLen + 1 + keySecretLen
	maxKeyNameLen  = 100
	createAttempts = 3
)

// KeyStore is the persistence the KeyManager needs (store/mongo.Store satisfies it).
// CreateAPIKey reports a duplicate key id as store.ErrConflict; UpdateAPIKey and APIKey an unknown
// one as store.ErrNotFound. UpdateAPIKey must be an atomic conditional update: it sets a field
// only if it is unset and nothing on a revoked key, and reports a key that fails that as
// store.ErrConflict, so that instances sharing the store cannot both rotate or revoke one key.
// ClearAPIKeyGrace removes the key's GraceUntil if it still is graceUntil. APIKey is a point read
// of one key by its id that sees every write acknowledged before it began (on MongoDB: from the
// primary, never a lagging secondary), so that a key created or revoked on another instance reads
// as such at once.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k store.APIKey) error
	APIKeys(ctx context.Context) ([]store.APIKey, error)
	APIKey(ctx context.Context, keyID string) (store.APIKey, error)
	UpdateAPIKey(ctx context.Context, keyID string, p store.APIKeyPatch) (store.APIKey, error)
	ClearAPIKeyGrace(ctx context.Context, keyID string, graceUntil time.Time) error
}

// KeyConfig configures a KeyManager. Zero values take the documented defaults.
type KeyConfig struct {
	// Store persists the keys. Required.
	Store KeyStore
	// RefreshInterval is how often the in-memory index is reloaded from Store, so that changes
	// made by other instances are seen even if a change notification is lost. Default 1 minute;
	// negative disables the periodic reload (Refresh can still be called).
	RefreshInterval time.Duration
	// OnChange, when set, is called after every successful Create, Rotate and Revoke with the
	// audit action (api_key_create, api_key_rotate, api_key_revoke) and the key's id, so the
	// caller can tell other instances (cmd/neko publishes on Redis): they Forget a revoked key at
	// once, and Refresh. It runs on the caller's goroutine and should not block.
	OnChange func(action, keyID string)
	// Audit, when set, receives a security event for every Create, Rotate and Revoke, with the
	// actor taken from the ctx (FromContext and ClientAddr).
	Audit *AuditLog
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger reports failed periodic reloads, failed lookups and unreadable stored keys. Nil
	// discards.
	Logger *slog.Logger

	// Lookup bounds the database lookups of keys that are well-formed but not in the index (see
	// KeyManager.Verify).
	Lookup LookupConfig
}

// KeyState is where an API key is in its life.
type KeyState string

// The key states. Only KeyActive and KeyGrace keys authenticate.
const (
	KeyActive  KeyState = "active"
	KeyGrace   KeyState = "grace" // rotated: works until GraceUntil
	KeyRevoked KeyState = "revoked"
	KeyExpired KeyState = "expired" // past ExpiresAt, or rotated and past GraceUntil
)

// APIKeyInfo describes an API key without its secret or hash: what List returns and what the
// admin GraphQL surface shows.
type APIKeyInfo struct {
	ID          string
	Name        string
	Role        Role
	CreatedAt   time.Time
	CreatedBy   string
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
	RotatedFrom string
	GraceUntil  *time.Time
	State       KeyState
}

// KeyManager creates, rotates and revokes API keys for TV monitors and machines, and verifies them
// against an in-memory index of every key's hash, role and validity window: the index is loaded
// in NewKeyManager, updated by this instance's own changes, reloaded every RefreshInterval and
// whenever Refresh is called (on another instance's change notification). Between a change on
// another instance and this instance's Refresh, a revoked key may still be accepted here; Forget
// (on the notification) closes that window at once, RefreshInterval bounds it when the
// notification is lost.
//
// A key created or rotated on another instance is not in the index until that reload, and its
// client uses it at once: Verify looks a well-formed key whose id the index lacks up in the
// store, within the bounds of LookupConfig (see lookup.go), and adds what it finds to the index.
// Keys the index knows, revoked and expired ones included, never cost a database round trip.
//
// Secrets are 32 random bytes and stored as their SHA-256. A slow password hash (bcrypt, argon2)
// exists to make guessing a low-entropy human password expensive after a database leak; a 256-bit
// random secret cannot be guessed at any hash speed, so a fast hash loses nothing there, and it
// lets every request be verified in well under a microsecond instead of the ~50 ms of CPU bcrypt
// would cost per request, which would make API keys a denial-of-service lever.
type KeyManager struct {
	cfg   KeyConfig
	index atomic.Pointer[map[string]keyEntry] // replaced whole, never mutated: Verify reads without locks
	// mu serializes the writers that read the database (Refresh and the admin operations), so a
	// reload that read the database before a change cannot overwrite the index after that change
	// was applied. It is held across database calls; Verify never takes it.
	mu sync.Mutex
	// idxMu guards revoked and every replacement of index (a copy of the whole map with one
	// change), so that no writer's change is lost to another's. It is held only for in-memory
	// work: Forget and a lookup's result never wait for a reload's database read.
	idxMu sync.Mutex
	// revoked holds the ids Forget was told are revoked (with when it was told), until a reload
	// reads the revocation from the store. Every index written meanwhile keeps them revoked,
	// whatever the store said when it was read: a reload or a lookup that read the key before
	// its revocation must not bring it back. Revocation is final, so applying it late is never
	// wrong. An id the store never had stays here: only the fleet's own notifications call
	// Forget.
	revoked map[string]time.Time
	lookups *lookups // the bounded store lookups of keys the index lacks
	// equal compares hashes; tests observe its calls.
	equal  func(a, b []byte) bool
	cancel context.CancelFunc
	done   chan struct{}
}

// keyEntry is the index's view of one key.
type keyEntry struct {
	hash                             [sha256.Size]byte
	name                             string
	role                             Role
	expiresAt, revokedAt, graceUntil time.Time // zero: not set
}

// lapsedAt is when the key stopped working (revoked, expired or its rotation grace over); zero
// while it works.
func (e keyEntry) lapsedAt(now time.Time) time.Time {
	switch {
	case !e.revokedAt.IsZero():
		return e.revokedAt
	case !e.expiresAt.IsZero() && !now.Before(e.expiresAt):
		return e.expiresAt
	case !e.graceUntil.IsZero() && !now.Before(e.graceUntil):
		return e.graceUntil
	}
	return time.Time{}
}

// state is the key's state at now.
func (e keyEntry) state(now time.Time) KeyState {
	switch {
	case !e.revokedAt.IsZero():
		return KeyRevoked
	case !e.expiresAt.IsZero() && !now.Before(e.expiresAt):
		return KeyExpired
	case !e.graceUntil.IsZero() && !now.Before(e.graceUntil):
		return KeyExpired
	case !e.graceUntil.IsZero():
		return KeyGrace
	}
	return KeyActive
}

// NewKeyManager validates cfg, loads every key from the store (an error if that fails: starting
// with an empty index would lock every monitor out) and starts the periodic reload, which Close
// stops.
func NewKeyManager(ctx context.Context, cfg KeyConfig) (*KeyManager, error) {
	if cfg.Store == nil {
		return nil, errors.New("api keys: KeyConfig.Store is required")
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	lk, err := newLookups(cfg.Lookup)
	if err != nil {
		return nil, err
	}
	m := &KeyManager{cfg: cfg, equal: func(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 },
		done: make(chan struct{}), revoked: map[string]time.Time{}, lookups: lk}
	m.index.Store(&map[string]keyEntry{})
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	life, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(life)
	return m, nil
}

// run reloads the index every RefreshInterval until Close.
func (m *KeyManager) run(ctx context.Context) {
	defer close(m.done)
	if m.cfg.RefreshInterval < 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(m.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Warn("api keys: periodic reload failed; keeping the previous index", "err", err)
			}
		}
	}
}

// Close stops the periodic reload and waits for it, or for ctx.
func (m *KeyManager) Close(ctx context.Context) error {
	m.cancel()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Refresh reloads the index from the store. On error the previous index stays in use.
func (m *KeyManager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.reload(ctx)
	return err
}

// reload replaces the index with the store's keys and returns them. m.mu must be held.
func (m *KeyManager) reload(ctx context.Context) ([]store.APIKey, error) {
	keys, err := m.cfg.Store.APIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("api keys: reload: %w", err)
	}
	idx := make(map[string]keyEntry, len(keys))
	for _, k := range keys {
		e, err := entryOf(k)
		if err != nil {
			m.cfg.Logger.Error("api keys: skipping unreadable stored key", "key_id", k.KeyID, "err", err)
			continue
		}
		idx[k.KeyID] = e
	}
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	for id, at := range m.revoked {
		e, ok := idx[id]
		switch {
		case ok && !e.revokedAt.IsZero():
			delete(m.revoked, id) // the store has it now: every later read will too
		case ok:
			e.revokedAt = at // read before the revocation
			idx[id] = e
		}
	}
	m.index.Store(&idx)
	return keys, nil
}

// Forget stops the key keyID at once on this instance: another instance revoked it. The reload
// that follows confirms it from the store; until then, and if that reload fails, the key must
// not keep working here, and neither a reload nor a lookup that read the key before its
// revocation may bring it back. The key stays in the index as revoked, so it is refused without
// a lookup. Forget does not wait for a reload in progress.
func (m *KeyManager) Forget(keyID string) {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	now := m.cfg.Now().UTC()
	if _, ok := m.revoked[keyID]; !ok {
		m.revoked[keyID] = now
	}
	if e, ok := (*m.index.Load())[keyID]; ok && e.revokedAt.IsZero() {
		e.revokedAt = now
		m.swap(keyID, e)
	}
}

// put sets the entry of k, as this instance just wrote it, in the index. m.mu must be held.
func (m *KeyManager) put(k store.APIKey) {
	e, err := entryOf(k)
	if err != nil {
		m.cfg.Logger.Error("api keys: unreadable key", "key_id", k.KeyID, "err", err)
		return
	}
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	if at, ok := m.revoked[k.KeyID]; ok && e.revokedAt.IsZero() {
		e.revokedAt = at
	}
	m.swap(k.KeyID, e)
}

// swap stores a copy of the index with id's entry set to e. m.idxMu must be held.
func (m *KeyManager) swap(id string, e keyEntry) {
	old := *m.index.Load()
	idx := make(map[string]keyEntry, len(old)+1)
	for k, x := range old {
		idx[k] = x
	}
	idx[id] = e
	m.index.Store(&idx)
}

func entryOf(k store.APIKey) (keyEntry, error) {
	var e keyEntry
	h, err := hex.DecodeString(k.Hash)
	if err != nil || len(h) != sha256.Size {
		return e, errors.New("hash is not a hex SHA-256")
	}
	copy(e.hash[:], h)
	role, err := ParseRole(k.Role)
	if err != nil || role == RoleAnonymous {
		return e, fmt.Errorf("bad role %q", k.Role)
	}
	e.name, e.role = k.Name, role
	e.expiresAt, e.revokedAt, e.graceUntil = deref(k.ExpiresAt), deref(k.RevokedAt), deref(k.GraceUntil)
	return e, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Verify checks an API key and returns its identity: Username "apikey:<name>", the key's role,
// language "en". Malformed, unknown, revoked, expired and past-grace keys are all
// ErrInvalidToken; revoked, expired and past-grace ones are ErrCredentialLapsed too for
// lapseWindow after they stopped working. The secret's
// hash is compared in constant time, and an unknown id costs the same comparison as a known one.
//
// A key whose id is in the index is decided by the index alone. A well-formed key whose id is
// not (created or rotated on another instance since the last reload) is looked up in the store
// first (lookup), so that it works on every instance as soon as it exists; ctx bounds only that
// lookup. What the lookup finds is judged exactly as an indexed key, by the same state: a revoked
// key is refused, a rotated one works until its grace ends.
func (m *KeyManager) Verify(ctx context.Context, key string) (Identity, error) {
	id, secret, ok := parseAPIKey(key)
	if !ok {
		return Identity{}, fmt.Errorf("%w: malformed api key", ErrInvalidToken)
	}
	sum := sha256.Sum256(secret)
	e, known := (*m.index.Load())[id]
	var lookupErr error
	if !known {
		e, known, lookupErr = m.lookup(ctx, id)
	}
	match := m.equal(sum[:], e.hash[:]) // e is the zero entry for an unknown id
	switch {
	case lookupErr != nil:
		return Identity{}, fmt.Errorf("%w: api key not verified: %v", ErrInvalidToken, lookupErr)
	case !known || !match:
		return Identity{}, fmt.Errorf("%w: unknown api key", ErrInvalidToken)
	}
	now := m.cfg.Now()
	if st := e.state(now); st != KeyActive && st != KeyGrace {
		if recentlyLapsed(e.lapsedAt(now), now) {
			return Identity{}, fmt.Errorf("%w: %w: api key %s", ErrInvalidToken, ErrCredentialLapsed, st)
		}
		return Identity{}, fmt.Errorf("%w: api key %s", ErrInvalidToken, st)
	}
	return Identity{Username: "apikey:" + e.name, Role: e.role, Language: "en"}, nil
}

// parseAPIKey splits "neko_<id>_<secret>" and decodes the secret. ok is false for anything that is
// not exactly that shape.
func parseAPIKey(key string) (id string, secret []byte, ok bool) {
	if len(key) != apiKeyLen || !strings.HasPrefix(key, apiKeyPrefix) {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(key[len(apiKeyPrefix):], "_")
	if !ok || len(id) != keyIDLen || len(enc) != keySecretLen {
		return "", nil, false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(secret) != keySecretBytes {
		return "", nil, false
	}
	return id, secret, true
}

// Create makes a key that never expires; see CreateExpiring.
func (m *KeyManager) Create(ctx context.Context, name string, role Role, createdBy string) (string, APIKeyInfo, error) {
	return m.CreateExpiring(ctx, name, role, createdBy, time.Time{})
}

// CreateExpiring makes a new key named name (1 to 100 characters) with role (viewer, analyst or
// admin), expiring at expiresAt (zero: never). It returns the key's plaintext, which is shown
// once and never stored, and its description.
func (m *KeyManager) CreateExpiring(ctx context.Context, name string, role Role, createdBy string, expiresAt time.Time) (string, APIKeyInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > maxKeyNameLen {
		return "", APIKeyInfo{}, fmt.Errorf("create api key: name must be 1 to %d characters: %w", maxKeyNameLen, store.ErrInvalid)
	}
	if role <= RoleAnonymous || role > RoleAdmin {
		return "", APIKeyInfo{}, fmt.Errorf("create api key: role %v: %w", role, store.ErrInvalid)
	}
	k := store.APIKey{Name: name, Role: role.String(), CreatedBy: createdBy}
	if !expiresAt.IsZero() {
		k.ExpiresAt = &expiresAt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	plain, k, err := m.insert(ctx, k)
	if err != nil {
		return "", APIKeyInfo{}, err
	}
	m.changed(ctx, "api_key_create", k.KeyID)
	return plain, m.info(k), nil
}

// insert fills k's id, hash and creation time, stores it and adds it to the index. m.mu must be
// held.
func (m *KeyManager) insert(ctx context.Context, k store.APIKey) (string, store.APIKey, error) {
	now := m.cfg.Now().UTC().Truncate(time.Millisecond)
	k.CreatedAt = now
	for attempt := 1; ; attempt++ {
		idRaw, secret := make([]byte, keyIDBytes), make([]byte, keySecretBytes)
		rand.Read(idRaw)
		rand.Read(secret)
		sum := sha256.Sum256(secret)
		k.KeyID, k.Hash = hex.EncodeToString(idRaw), hex.EncodeToString(sum[:])
		err := m.cfg.Store.CreateAPIKey(ctx, k)
		if errors.Is(err, store.ErrConflict) && attempt < createAttempts {
			continue // a 48-bit id collided: draw again
		}
		if err != nil {
			return "", store.APIKey{}, fmt.Errorf("create api key: %w", err)
		}
		m.put(k)
		return apiKeyPrefix + k.KeyID + "_" + base64.RawURLEncoding.EncodeToString(secret), k, nil
	}
}

// List returns every key as stored, oldest first, revoked and expired ones included, and
// refreshes the index with them on the way. Neither secrets nor hashes are returned.
func (m *KeyManager) List(ctx context.Context) ([]APIKeyInfo, error) {
	m.mu.Lock()
	keys, err := m.reload(ctx)
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out := make([]APIKeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, m.info(k))
	}
	return out, nil
}

// Rotate replaces the active key id by a new key with the same name, role, creator and expiry
// (RotatedFrom id) and returns the new plaintext. The old key keeps working for grace (0: it stops
// at once), then fails. Rotating an unknown key is store.ErrNotFound; a revoked, expired or
// already rotated one ErrKeyInactive.
//
// m.mu only serializes this instance, and other instances share the store, so the old key is
// claimed in the store first, by setting its GraceUntil only while it is still unset and the key
// not revoked; of concurrent rotations only the one that wins the claim stores a successor, the
// others get ErrKeyInactive. Without transactions the claim and the insert are not atomic: if the
// insert fails, the claim is undone (best effort) and the error says whether the old key was left
// active or left rotated without a successor.
func (m *KeyManager) Rotate(ctx context.Context, id string, grace time.Duration) (string, APIKeyInfo, error) {
	if grace < 0 {
		return "", APIKeyInfo{}, fmt.Errorf("rotate api key: negative grace: %w", store.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.find(ctx, id)
	if err != nil {
		return "", APIKeyInfo{}, fmt.Errorf("rotate api key: %w", err)
	}
	e, err := entryOf(old)
	if err != nil {
		return "", APIKeyInfo{}, fmt.Errorf("rotate api key %s: %w", id, err)
	}
	if e.state(m.cfg.Now()) != KeyActive {
		return "", APIKeyInfo{}, fmt.Errorf("rotate api key %s: %w", id, ErrKeyInactive)
	}
	until := m.cfg.Now().UTC().Add(grace).Truncate(time.Millisecond)
	claimed, err := m.cfg.Store.UpdateAPIKey(ctx, old.KeyID, store.APIKeyPatch{GraceUntil: &until})
	if errors.Is(err, store.ErrConflict) {
		err = ErrKeyInactive // rotated or revoked by another instance since find
	}
	if err != nil {
		return "", APIKeyInfo{}, fmt.Errorf("rotate api key %s: %w", id, err)
	}
	plain, k, err := m.insert(ctx, store.APIKey{Name: old.Name, Role: old.Role, CreatedBy: old.CreatedBy, ExpiresAt: old.ExpiresAt, RotatedFrom: old.KeyID})
	if err != nil {
		return "", APIKeyInfo{}, m.unclaim(ctx, claimed, err)
	}
	m.put(claimed)
	m.changed(ctx, "api_key_rotate", old.KeyID)
	return plain, m.info(k), nil
}

// unclaim undoes Rotate's claim on the key claimed after its successor could not be stored
// (insertErr), and returns the error Rotate reports. The undo runs even if ctx was cancelled: a
// cancelled caller is a likely reason for the failed insert, and the claim must not outlive it.
// m.mu must be held.
func (m *KeyManager) unclaim(ctx context.Context, claimed store.APIKey, insertErr error) error {
	if err := m.cfg.Store.ClearAPIKeyGrace(context.WithoutCancel(ctx), claimed.KeyID, *claimed.GraceUntil); err != nil {
		m.put(claimed) // the store has it rotated: so must the index
		return fmt.Errorf("rotate api key %s: new key not stored, and the old key was left rotated without a successor (%v): %w",
			claimed.KeyID, err, insertErr)
	}
	return fmt.Errorf("rotate api key %s: new key not stored, old key left active: %w", claimed.KeyID, insertErr)
}

// Revoke stops the key id at once (on other instances, at their next Refresh). Revoking a revoked
// key is a no-op, also when another instance revokes it at the same time; an unknown key is
// store.ErrNotFound.
func (m *KeyManager) Revoke(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, err := m.find(ctx, id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if k.RevokedAt != nil {
		return nil
	}
	now := m.cfg.Now().UTC().Truncate(time.Millisecond)
	updated, err := m.cfg.Store.UpdateAPIKey(ctx, id, store.APIKeyPatch{RevokedAt: &now})
	if errors.Is(err, store.ErrConflict) {
		// Another instance revoked it since find: a no-op here, once the index has that revocation.
		if _, err := m.reload(ctx); err != nil {
			return fmt.Errorf("revoke api key %s: revoked concurrently: %w", id, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	m.put(updated)
	m.changed(ctx, "api_key_revoke", id)
	return nil
}

// find reloads the index and returns the stored key id, or store.ErrNotFound. m.mu must be held.
func (m *KeyManager) find(ctx context.Context, id string) (store.APIKey, error) {
	keys, err := m.reload(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	for _, k := range keys {
		if k.KeyID == id {
			return k, nil
		}
	}
	return store.APIKey{}, fmt.Errorf("api key %q: %w", id, store.ErrNotFound)
}

// changed audits an admin operation and notifies OnChange.
func (m *KeyManager) changed(ctx context.Context, action, keyID string) {
	if m.cfg.Audit != nil {
		ev := AuditEvent{
			Level: LevelInfo, Category: CategorySecurity, Action: action, Result: ResultSuccess,
			Actor:    ActorOf(ctx),
			Resource: AuditResource{Type: "api_key", ID: keyID},
			Tags:     []string{"api-key"},
		}
		m.cfg.Audit.Record(ev)
	}
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(action, keyID)
	}
}

// info describes k at the current time.
func (m *KeyManager) info(k store.APIKey) APIKeyInfo {
	role, _ := ParseRole(k.Role)
	in := APIKeyInfo{
		ID: k.KeyID, Name: k.Name, Role: role, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, RotatedFrom: k.RotatedFrom, GraceUntil: k.GraceUntil,
		State: KeyRevoked,
	}
	if e, err := entryOf(k); err == nil {
		in.State = e.state(m.cfg.Now())
	}
	return in
}
