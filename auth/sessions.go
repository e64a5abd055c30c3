package auth

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"tiktok/errs"
	"tiktok/models"
	"tiktok/store"
)

// Limiter counts attempts per key in a window (middleware.MemoryLimiter, or a limiter shared
// by several instances); the login lockout here and the per-IP limits of the middleware both
// use it.
type Limiter interface {
	// Hit takes one of key's slots: it counts one attempt unless key is at the limit, and then
	// counts nothing and returns false with the time until the limit lifts. The check and the
	// count must be one atomic step, so that of attempts made at once no more are allowed than
	// there are slots left. (There is no "is it blocked?" without counting: a check followed by
	// a later count lets a burst through before the first count lands.)
	Hit(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error)
	// Reset forgets the attempts of key.
	Reset(ctx context.Context, key string) error
}

// PasswordHasher hashes and checks passwords (*Passwords, with bcrypt).
type PasswordHasher interface {
	Hash(password string) (string, error)
	Check(hash, password string) bool
	CheckDummy(password string) bool
}

// Service runs the flows of login sessions over the store: registration, login with its
// lockout, refresh rotation with reuse detection, logout of one session or all, password
// change, and the check of an access token on every request. It knows nothing of HTTP: the
// controllers and the auth middleware call it, and its tests call it directly.
type Service struct {
	Store      *store.Store
	Tokens     *Tokens
	Passwords  PasswordHasher
	RefreshTTL time.Duration
	// LoginFails limits password checks per account (login: e-mail or username; password
	// change: user id). Every attempt takes a slot before its password is compared (see
	// takeAttempt); a success forgets the account's attempts, so a user who types the right
	// password is never locked out by their own earlier typos, and what stays counted is the
	// failures.
	LoginFails Limiter
}

// Pair is what opening or rotating a session gives the client.
type Pair struct {
	AccessToken  string
	RefreshToken string
}

// MsgInvalidCredentials is the one answer to an unknown account and a wrong password.
const MsgInvalidCredentials = "Invalid credentials"

// Registration is a validated sign-up.
type Registration struct {
	Username, Email, Password string
	Name                      *string
}

// Register creates a user. A taken username or e-mail is a conflict naming the field.
func (s *Service) Register(ctx context.Context, r Registration) (*models.User, error) {
	hash, err := s.Passwords.Hash(r.Password)
	if err != nil {
		return nil, errs.Internal(err)
	}
	u := &models.User{Username: r.Username, Email: r.Email, Password: hash, Name: r.Name}
	if err := s.Store.Users.Create(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Credentials name an account by e-mail (Field "email") or username (Field "username").
type Credentials struct {
	Field, Login, Password string
}

// Login checks credentials and opens a session. Unknown accounts and wrong passwords get the
// same answer after the same bcrypt work; attempts count per account, and one past the
// account's limit is refused before its password is compared.
func (s *Service) Login(ctx context.Context, c Credentials) (Pair, *models.User, error) {
	user, err := s.Store.Users.ByLogin(ctx, c.Field, c.Login)
	if err != nil && !errs.Is(err, errs.KindNotFound) {
		return Pair{}, nil, err
	}
	// Attempts on an unknown name count under that name, so they are limited just the same.
	key := "login:name:" + strings.ToLower(c.Login)
	if user != nil {
		key = "login:user:" + strconv.Itoa(int(user.ID))
	}
	if err := s.takeAttempt(ctx, key); err != nil {
		return Pair{}, nil, err
	}
	var ok bool
	if user != nil {
		ok = s.Passwords.Check(user.Password, c.Password)
	} else {
		ok = s.Passwords.CheckDummy(c.Password)
	}
	if !ok {
		return Pair{}, nil, errs.Unauthorized(errs.CodeInvalidCredentials, MsgInvalidCredentials)
	}
	if err := s.LoginFails.Reset(ctx, key); err != nil {
		return Pair{}, nil, err
	}
	pair, err := s.open(ctx, user.ID, user.Password)
	if err != nil {
		return Pair{}, nil, err
	}
	return pair, user, nil
}

// open starts a new session of user, whose password was just checked against checked (a
// hash). The refresh token is stored under a share lock on the user row, after checking that
// the hash is still checked: a password change or a logout-everywhere (which update that row
// first) then either commits before, and the login fails or issues at the new token version,
// or waits for the login to commit, and revokes its session. Without the lock a login with
// the old password could outlive a password change: under READ COMMITTED the revocation's
// UPDATE does not see a token inserted by a transaction still running, and inserting one takes
// only a key-share lock on the user, which does not wait for that update.
func (s *Service) open(ctx context.Context, user int32, checked string) (Pair, error) {
	var pair Pair
	err := s.Store.Transact(ctx, func(tx *store.Store) error {
		hash, version, err := tx.Users.LockCredentials(ctx, user)
		if errs.Is(err, errs.KindNotFound) || (err == nil && hash != checked) {
			return errs.Unauthorized(errs.CodeInvalidCredentials, MsgInvalidCredentials)
		}
		if err != nil {
			return err
		}
		pair, err = s.issue(ctx, tx, user, version, NewFamilyID())
		return err
	})
	return pair, err
}

// takeAttempt takes one of key's slots before a password is compared, or refuses the attempt
// when none is left. Taking the slot first, in one atomic step, is what bounds a burst: when
// the check came first and the failure was counted after the comparison, every attempt of a
// burst passed the check before any had failed, and all of them were compared.
func (s *Service) takeAttempt(ctx context.Context, key string) error {
	allowed, retry, err := s.LoginFails.Hit(ctx, key)
	if err != nil {
		return err
	}
	if !allowed {
		return errs.RateLimited(retry)
	}
	return nil
}

// issue signs an access token and stores a new refresh token of session family.
func (s *Service) issue(ctx context.Context, st *store.Store, userID, version int32, family string) (Pair, error) {
	access, err := s.Tokens.Issue(userID, version)
	if err != nil {
		return Pair{}, errs.Internal(err)
	}
	refresh, hash := NewRefreshToken()
	row := models.RefreshToken{UserID: userID, FamilyID: family, TokenHash: hash,
		ExpiresAt: time.Now().UTC().Add(s.RefreshTTL)}
	if err := st.Sessions.Create(ctx, &row); err != nil {
		return Pair{}, err
	}
	return Pair{AccessToken: access, RefreshToken: refresh}, nil
}

// Refresh spends a refresh token for a new pair of the same session. A token presented a
// second time means it was copied: the whole session is revoked, so the thief's and the
// owner's next refresh both fail and the owner logs in again.
//
// Locks are taken user row first, then the token, the order logout-everywhere and a password
// change take them in: a refresh racing either waits for it and then finds its token revoked,
// or runs first and has its new token revoked by it. Either way nothing issued before the
// revocation outlives it.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	hash := HashRefreshToken(refreshToken)
	owner, ok, err := s.Store.Sessions.OwnerOf(ctx, hash)
	if err != nil {
		return Pair{}, err
	}
	invalid := errs.Unauthorized(errs.CodeTokenInvalid, "Invalid refresh token")
	revoked := errs.Unauthorized(errs.CodeTokenRevoked, "Refresh token revoked")
	if !ok {
		return Pair{}, invalid
	}
	var pair Pair
	var reused bool
	err = s.Store.Transact(ctx, func(tx *store.Store) error {
		reused = false
		version, err := tx.Users.LockTokenVersion(ctx, owner)
		if errs.Is(err, errs.KindNotFound) {
			return revoked
		}
		if err != nil {
			return err
		}
		rt, err := tx.Sessions.Lock(ctx, hash)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		switch {
		case rt == nil:
			return invalid
		case rt.RevokedAt != nil:
			return revoked
		case rt.UsedAt != nil:
			reused = true
			return tx.Sessions.RevokeFamily(ctx, rt.FamilyID, now)
		case !rt.ExpiresAt.After(now):
			return errs.Unauthorized(errs.CodeTokenExpired, "Refresh token expired")
		}
		if err := tx.Sessions.MarkUsed(ctx, rt.ID, now); err != nil {
			return err
		}
		pair, err = s.issue(ctx, tx, owner, version, rt.FamilyID)
		return err
	})
	if err != nil {
		return Pair{}, err
	}
	if reused {
		// Committed above: the family stays revoked although this request fails.
		return Pair{}, errs.Unauthorized(errs.CodeTokenRevoked, "Refresh token already used; the session was revoked")
	}
	return pair, nil
}

// Logout ends sessions of user: with all, every session and every access token at once;
// otherwise the session of refreshToken, if it is the user's ("" ends none: access tokens of a
// single session expire on their own).
func (s *Service) Logout(ctx context.Context, user int32, refreshToken string, all bool) error {
	now := time.Now().UTC()
	if all {
		return s.Store.Transact(ctx, func(tx *store.Store) error {
			if err := tx.Users.BumpTokenVersion(ctx, user); err != nil {
				return err
			}
			return tx.Sessions.RevokeAll(ctx, user, now)
		})
	}
	if refreshToken == "" {
		return nil
	}
	return s.Store.Sessions.RevokeFamilyOf(ctx, user, HashRefreshToken(refreshToken), now)
}

// ChangePassword sets a new password once current is checked (wrong guesses count against the
// account like failed logins). Every access and refresh token issued before stops working;
// the new pair keeps the device that changed it logged in.
func (s *Service) ChangePassword(ctx context.Context, user int32, current, next string) (Pair, error) {
	u, err := s.Store.Users.Get(ctx, user)
	if err != nil {
		return Pair{}, err
	}
	key := "password:" + strconv.Itoa(int(user))
	if err := s.takeAttempt(ctx, key); err != nil {
		return Pair{}, err
	}
	if !s.Passwords.Check(u.Password, current) {
		// 400, not 401: the session is fine, and a 401 would make clients log the user out.
		return Pair{}, errs.InvalidField("currentPassword", "is incorrect")
	}
	hash, err := s.Passwords.Hash(next)
	if err != nil {
		return Pair{}, errs.Internal(err)
	}
	var pair Pair
	err = s.Store.Transact(ctx, func(tx *store.Store) error {
		version, ok, err := tx.Users.SetPassword(ctx, user, u.Password, hash)
		if err != nil {
			return err
		}
		if !ok { // another change won the race: current was checked against a stale hash
			return errs.InvalidField("currentPassword", "is incorrect")
		}
		if err := tx.Sessions.RevokeAll(ctx, user, time.Now().UTC()); err != nil {
			return err
		}
		pair, err = s.issue(ctx, tx, user, version, NewFamilyID())
		return err
	})
	if err != nil {
		return Pair{}, err
	}
	_ = s.LoginFails.Reset(ctx, key)
	return pair, nil
}

// Authenticate checks an access token and returns its user. Besides the signature it reads
// the user's token version (one primary-key lookup), which is how a deleted user's token, or
// every token issued before a password change or a logout-everywhere, stops working at once.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (int32, error) {
	id, claimed, err := s.ParseAccess(accessToken)
	if err != nil {
		return 0, err
	}
	version, err := s.Store.Users.TokenVersion(ctx, id)
	if errs.Is(err, errs.KindNotFound) || (err == nil && version != claimed) {
		return 0, errs.Unauthorized(errs.CodeTokenRevoked, "Access token revoked")
	}
	if err != nil {
		return 0, err
	}
	return id, nil
}

// ParseAccess is Authenticate without the database: it checks the token's signature, expiry
// and claims and returns its user and the token version it was issued at, for a write whose
// own statement compares that version with the user's (middleware.RequireToken): the same
// check as Authenticate's, one round trip fewer.
func (s *Service) ParseAccess(accessToken string) (userID, version int32, err error) {
	claims, err := s.Tokens.Parse(accessToken)
	switch {
	case errors.Is(err, ErrExpired):
		return 0, 0, errs.Unauthorized(errs.CodeTokenExpired, "Access token expired")
	case err != nil:
		return 0, 0, errs.Unauthorized(errs.CodeTokenInvalid, "Invalid access token")
	}
	return claims.ID, claims.Version, nil
}
