// Package auth is the API's login sessions. Its parts issue and check the credentials (JWT
// access tokens, opaque refresh tokens, bcrypt password hashes: auth.go, free of the database),
// and Service runs the session flows over the store (sessions.go). It knows nothing of HTTP:
// the middleware (which checks tokens on every request) and the controllers (which open and
// end sessions) share this one implementation, and its tests call it directly.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Issuer and Audience are the fixed iss and aud claims of our access tokens. A token minted
// by another service that shares the secret by mistake is still refused.
const (
	Issuer   = "tiktok-api"
	Audience = "tiktok-app"
)

// Leeway tolerates small clock differences between servers when checking exp, iat and nbf.
const Leeway = 30 * time.Second

// Errors of Parse. ErrExpired is set apart because the client should refresh, not log in again.
var (
	ErrExpired = errors.New("token expired")
	ErrInvalid = errors.New("token invalid")
)

// Claims are the claims of an access token. ID is the user id as a number (the course
// frontend reads decoded.id); Subject holds the same id as a string; Version is the user's
// token version when the token was issued.
type Claims struct {
	ID      int32 `json:"id"`
	Version int32 `json:"ver"`
	jwt.RegisteredClaims
}

// Tokens issues and parses access tokens signed with one HS256 secret.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	// Now is the clock; tests move it to expire tokens without sleeping.
	Now func() time.Time
}

// NewTokens returns a Tokens that signs with secret and issues tokens valid for ttl.
func NewTokens(secret string, ttl time.Duration) *Tokens {
	return &Tokens{secret: []byte(secret), ttl: ttl, Now: time.Now}
}

// TTL is the lifetime of the access tokens issued.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for the user at their current token version.
func (t *Tokens) Issue(userID, version int32) (string, error) {
	now := t.Now()
	claims := Claims{
		ID:      userID,
		Version: version,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.Itoa(int(userID)),
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// Parse checks a token's signature (HS256 only, whatever the header says), its exp (required),
// iss and aud, and that id and sub agree. It returns ErrExpired or ErrInvalid (wrapping the
// library's reason) on failure.
func (t *Tokens) Parse(token string) (*Claims, error) {
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(t.Now),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	case claims.ID <= 0 || claims.Subject != strconv.Itoa(int(claims.ID)):
		return nil, fmt.Errorf("%w: id and sub claims disagree", ErrInvalid)
	}
	return &claims, nil
}

// NewRefreshToken returns a fresh opaque refresh token (256 random bits, base64url) and the
// hash under which it is stored. The token itself is never stored.
func NewRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token)
}

// HashRefreshToken is the stored form of a refresh token. A plain SHA-256 is enough: the
// token has 256 bits of entropy, so there is nothing to brute-force, and lookup stays an
// indexed equality.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewFamilyID names a login session; every refresh token rotated from it shares the id.
func NewFamilyID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Passwords hashes and checks passwords with bcrypt at a fixed cost.
type Passwords struct {
	cost  int
	dummy []byte
}

// NewPasswords returns a Passwords hashing at cost. It computes a dummy hash at the same cost
// so that a login for an unknown account spends the same time as a wrong password.
func NewPasswords(cost int) (*Passwords, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for timing"), cost)
	if err != nil {
		return nil, err
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password. Callers check its length first (bcrypt refuses
// more than 72 bytes).
func (p *Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// Check reports whether password matches hash.
func (p *Passwords) Check(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// CheckDummy spends the time of one comparison and always fails; it answers for accounts that
// do not exist, so response time does not reveal which e-mails are registered.
func (p *Passwords) CheckDummy(password string) bool {
	_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
	return false
}
