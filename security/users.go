package security

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/neko-defense/neko/store"
)

// UserStore is the persistence the Authenticator needs for accounts (store/mongo.Store satisfies
// it). UserByName returns store.ErrNotFound for an unknown username.
type UserStore interface {
	UserByName(ctx context.Context, username string) (store.User, error)
	UpsertUser(ctx context.Context, u store.User) error
}

// checkPassword returns the identity (without language) of the account username when password is
// right, and ErrInvalidCredentials otherwise. Exactly one bcrypt comparison runs on every path
// that reaches the account lookup, so timing tells nothing about which usernames exist.
func (a *Authenticator) checkPassword(ctx context.Context, username, password string) (Identity, error) {
	if a.cfg.Users == nil {
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(a.cfg.AdminUsername)) == 1
		hash := a.dummyHash
		if userOK {
			hash = a.adminHash
		}
		pwErr := a.compare(hash, []byte(password))
		if !userOK || pwErr != nil {
			return Identity{}, ErrInvalidCredentials
		}
		return Identity{Username: a.cfg.AdminUsername, Role: RoleAdmin}, nil
	}

	u, err := a.cfg.Users.UserByName(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = a.compare(a.dummyHash, []byte(password))
		return Identity{}, ErrInvalidCredentials
	case err != nil:
		return Identity{}, fmt.Errorf("login: %w", err)
	}
	pwErr := a.compare([]byte(u.PasswordHash), []byte(password))
	if pwErr != nil || u.Disabled {
		return Identity{}, ErrInvalidCredentials
	}
	role, err := ParseRole(u.Role)
	if err != nil || role == RoleAnonymous {
		return Identity{}, fmt.Errorf("login: user %q has invalid role %q", u.Username, u.Role)
	}
	return Identity{Username: u.Username, Role: role}, nil
}

// BootstrapAdmin makes sure the account AdminUsername exists in Users with AdminPassword and the
// admin role; cmd/neko calls it once at start-up. A missing account is created. An existing one is
// written only when something differs: its hash is replaced only when AdminPassword no longer
// matches it (so restarts do not churn hashes), and its role is raised to admin. Its disabled flag
// is left as stored: an operator who disabled the account keeps it disabled. Without Users it does
// nothing.
func (a *Authenticator) BootstrapAdmin(ctx context.Context) error {
	if a.cfg.Users == nil {
		return nil
	}
	u, err := a.cfg.Users.UserByName(ctx, a.cfg.AdminUsername)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = store.User{Username: a.cfg.AdminUsername, PasswordHash: string(a.adminHash), Role: RoleAdmin.String(), CreatedAt: a.cfg.Now()}
	case err != nil:
		return fmt.Errorf("bootstrap admin: %w", err)
	default:
		changed := false
		if a.compare([]byte(u.PasswordHash), []byte(a.cfg.AdminPassword)) != nil {
			u.PasswordHash = string(a.adminHash)
			changed = true
		}
		if u.Role != RoleAdmin.String() {
			u.Role = RoleAdmin.String()
			changed = true
		}
		if !changed {
			return nil
		}
	}
	if err := a.cfg.Users.UpsertUser(ctx, u); err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	return nil
}

// HashPassword returns the bcrypt hash of password at the configured cost, for creating accounts.
func (a *Authenticator) HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
