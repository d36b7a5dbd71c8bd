package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/neko-defense/neko/store"
)

// Collections of the security package: accounts, API keys and the audit log.
const (
	collUsers          = "users"
	collAPIKeys        = "api_keys"
	collAuditLogs      = "audit_logs"
	maxAuditLimit      = 500
	defaultAuditLimit  = 100
	codeDuplicateKey   = 11000
	upsertUserAttempts = 2
)

// securityIndexes: usernames and key ids are unique (the unique index is what
// turns a concurrent duplicate into store.ErrConflict); the audit log is read
// newest first, optionally by category or by actor address.
func securityIndexes() map[string][]mongo.IndexModel {
	return map[string][]mongo.IndexModel{
		collUsers:   {{Keys: bson.D{{Key: "username", Value: 1}}, Options: options.Index().SetUnique(true)}},
		collAPIKeys: {{Keys: bson.D{{Key: "key_id", Value: 1}}, Options: options.Index().SetUnique(true)}},
		collAuditLogs: {
			{Keys: bson.D{{Key: "timestamp", Value: -1}}},
			{Keys: bson.D{{Key: "category", Value: 1}, {Key: "timestamp", Value: -1}}},
			{Keys: bson.D{{Key: "actor.ip", Value: 1}, {Key: "timestamp", Value: -1}}},
		},
	}
}

// UserByName returns the user with username, or store.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, username string) (store.User, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	u, err := findOne[store.User](ctx, s.coll(collUsers), bson.D{{Key: "username", Value: username}})
	if err != nil {
		return store.User{}, fmt.Errorf("find user %q: %w", username, err)
	}
	return u, nil
}

// UpsertUser creates the user named u.Username or, when it exists, replaces
// its password hash, role and disabled flag. CreatedAt is written only on
// creation (now when zero). Two instances bootstrapping the same user at once
// race on the unique index; the loser's duplicate-key error is retried once,
// which then finds and updates the winner's document.
func (s *Store) UpsertUser(ctx context.Context, u store.User) error {
	if u.Username == "" || u.PasswordHash == "" || u.Role == "" {
		return fmt.Errorf("upsert user: username, password hash and role are required: %w", store.ErrInvalid)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	created := u.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "password_hash", Value: u.PasswordHash},
			{Key: "role", Value: u.Role},
			{Key: "disabled", Value: u.Disabled},
		}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "created_at", Value: created.UTC().Truncate(time.Millisecond)}}},
	}
	var err error
	for range upsertUserAttempts {
		err = guarded(ctx, Write, func(ctx context.Context) (err error) {
			_, err = s.coll(collUsers).UpdateOne(ctx, bson.D{{Key: "username", Value: u.Username}}, update, options.UpdateOne().SetUpsert(true))
			return err
		})
		if !mongo.IsDuplicateKeyError(err) {
			break
		}
	}
	switch {
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("upsert user %q: %w", u.Username, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("upsert user %q: %w", u.Username, err)
	}
	return nil
}

// CreateAPIKey inserts k, which must carry its KeyID and Hash. A duplicate
// key_id is store.ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if k.KeyID == "" || k.Hash == "" {
		return fmt.Errorf("create api key: key id and hash are required: %w", store.ErrInvalid)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if k.ID.IsZero() {
		k.ID = bson.NewObjectID()
	}
	if err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(collAPIKeys).InsertOne(ctx, k)
		return err
	}); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("create api key %q: %w", k.KeyID, store.ErrConflict)
		}
		return fmt.Errorf("create api key %q: %w", k.KeyID, err)
	}
	return nil
}

// APIKeys returns every API key, revoked and expired ones included, oldest
// first. The collection is small (one document per monitor or machine), and
// the security package keeps all of it in memory.
func (s *Store) APIKeys(ctx context.Context) ([]store.APIKey, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "key_id", Value: 1}})
	keys, err := findAll[store.APIKey](ctx, s.coll(collAPIKeys), bson.D{}, opts)
	if err != nil {
		return nil, fmt.Errorf("find api keys: %w", err)
	}
	return keys, nil
}

// APIKey returns the API key keyID, or store.ErrNotFound: one point read on the
// unique key_id index. It reads from the primary whatever the Store's read
// preference, so that it sees every key write acknowledged before it began
// (they are w:majority): the security package looks a key up when another
// instance has just created, rotated or revoked it, and a lagging nearest
// secondary would miss the new key or the revocation.
func (s *Store) APIKey(ctx context.Context, keyID string) (store.APIKey, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	coll := s.db.Collection(collAPIKeys, options.Collection().SetReadPreference(readpref.Primary()))
	k, err := findOne[store.APIKey](ctx, coll, bson.D{{Key: "key_id", Value: keyID}})
	if err != nil {
		return store.APIKey{}, fmt.Errorf("find api key %q: %w", keyID, err)
	}
	return k, nil
}

// UpdateAPIKey sets the non-nil fields of p on the key with keyID and returns
// the updated key. Each field is set at most once and a revoked key is final:
// the update applies only while the key is not revoked and none of p's fields
// is set yet, and the filter checks that in the same findAndModify that
// writes, so when two instances rotate (or revoke) one key at once exactly
// one of them succeeds. The others get store.ErrConflict; an unknown key is
// store.ErrNotFound, an empty patch store.ErrInvalid. That holds on MongoDB:
// the embedded FerretDB v1 runs findAndModify as a read and then a rewrite by
// _id, so two instances sharing one embedded database can both pass the
// filter (within one instance the security package serializes the writes).
func (s *Store) UpdateAPIKey(ctx context.Context, keyID string, p store.APIKeyPatch) (store.APIKey, error) {
	set := bson.D{}
	filter := bson.D{{Key: "key_id", Value: keyID}, {Key: "revoked_at", Value: nil}} // null matches a missing field too
	if p.RevokedAt != nil {
		set = append(set, bson.E{Key: "revoked_at", Value: p.RevokedAt.UTC().Truncate(time.Millisecond)})
	}
	if p.GraceUntil != nil {
		set = append(set, bson.E{Key: "grace_until", Value: p.GraceUntil.UTC().Truncate(time.Millisecond)})
		filter = append(filter, bson.E{Key: "grace_until", Value: nil})
	}
	if len(set) == 0 {
		return store.APIKey{}, fmt.Errorf("update api key %q: empty patch: %w", keyID, store.ErrInvalid)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	var k store.APIKey
	err := guarded(ctx, Write, func(ctx context.Context) error {
		return s.coll(collAPIKeys).FindOneAndUpdate(ctx, filter, bson.D{{Key: "$set", Value: set}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&k)
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = s.unmatchedAPIKey(ctx, keyID)
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("update api key %q: %w", keyID, err)
	}
	return k, nil
}

// unmatchedAPIKey tells why a conditional update of the key keyID matched no
// document: store.ErrNotFound when there is no such key, store.ErrConflict
// when there is (its state failed the condition).
func (s *Store) unmatchedAPIKey(ctx context.Context, keyID string) error {
	_, err := findOne[store.APIKey](ctx, s.coll(collAPIKeys), bson.D{{Key: "key_id", Value: keyID}})
	if err == nil {
		return store.ErrConflict
	}
	return err
}

// ClearAPIKeyGrace removes grace_until from the key keyID if it still is
// graceUntil, which makes the key active again unless it was revoked
// meanwhile. It undoes a rotation's claim on the old key when the successor
// could not be stored; matching the value means it can only undo that claim.
// No key keyID with that grace_until is store.ErrNotFound.
func (s *Store) ClearAPIKeyGrace(ctx context.Context, keyID string, graceUntil time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	filter := bson.D{{Key: "key_id", Value: keyID}, {Key: "grace_until", Value: graceUntil.UTC().Truncate(time.Millisecond)}}
	var res *mongo.UpdateResult
	err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		res, err = s.coll(collAPIKeys).UpdateOne(ctx, filter, bson.D{{Key: "$unset", Value: bson.D{{Key: "grace_until", Value: ""}}}})
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("clear grace of api key %q: %w", keyID, err)
	case res.MatchedCount == 0:
		return fmt.Errorf("clear grace of api key %q: %w", keyID, store.ErrNotFound)
	}
	return nil
}

// InsertAuditEvents appends events to the audit log in one unordered
// insertMany. Events without an ID get one. The write is idempotent for
// events that carry their ID: when a retry re-sends events a previous,
// seemingly failed attempt already stored, the duplicate-key errors on _id
// are ignored, so a retried batch is stored exactly once.
func (s *Store) InsertAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	docs := make([]any, len(events))
	for i, ev := range events {
		if ev.ID.IsZero() {
			ev.ID = bson.NewObjectID()
		}
		docs[i] = ev
	}
	err := guarded(ctx, Write, func(ctx context.Context) (err error) {
		_, err = s.coll(collAuditLogs).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		return err
	})
	if err != nil && !onlyDuplicateKeys(err) {
		return fmt.Errorf("insert %d audit events: %w", len(events), err)
	}
	return nil
}

// onlyDuplicateKeys reports whether err is a bulk write failure made only of
// duplicate-key errors (documents that are already stored).
func onlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != codeDuplicateKey {
			return false
		}
	}
	return true
}

// AuditEvents returns the audit events matching f, newest first (ties broken
// by _id descending).
func (s *Store) AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	limit := f.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	limit = clamp(limit, maxAuditLimit)
	filter := bson.D{}
	if f.Category != "" {
		filter = append(filter, bson.E{Key: "category", Value: f.Category})
	}
	if f.ActorIP != "" {
		filter = append(filter, bson.E{Key: "actor.ip", Value: f.ActorIP})
	}
	if !f.Since.IsZero() {
		filter = append(filter, bson.E{Key: "timestamp", Value: bson.D{{Key: "$gte", Value: f.Since}}})
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	opts := options.Find().
		SetSort(bson.D{{Key: "timestamp", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit))
	events, err := findAll[store.AuditEvent](ctx, s.coll(collAuditLogs), filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", err)
	}
	for i := range events {
		events[i].Details = normalizeMap(events[i].Details)
	}
	return events, nil
}
