package controllers

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"tiktok/auth"
	"tiktok/middleware"
	"tiktok/models"
)

// Auth serves registration, login, token refresh, logout and password changes
// (Prisma version: src/controllers/userController.js, register/login).
type Auth struct {
	DB         *gorm.DB
	Tokens     *auth.Tokens
	Passwords  *auth.Passwords
	RefreshTTL time.Duration
	// LoginFails counts failed password checks per account (login: e-mail or username;
	// password change: user id). It does not count successes, so a user who types the right
	// password is never locked out by their own earlier typos.
	LoginFails middleware.Limiter
}

// Messages of the answers the course frontend shows as they are.
const (
	msgInvalidCredentials = "Invalid credentials"
	msgUserExists         = "User already exists"
)

// --- validation ----------------------------------------------------------------------------

// Field limits of API.md ("Validation").
const (
	maxEmailLen       = 254
	minPasswordBytes  = 8
	maxPasswordBytes  = 72 // bcrypt ignores what follows; we refuse it instead
	maxNameChars      = 50
	maxBioChars       = 500
	maxAvatarURLChars = 2048
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.]{3,30}$`)

func validEmail(s string) bool {
	if len(s) > maxEmailLen || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	addr, err := mail.ParseAddress(s)
	// ParseAddress also accepts `Name <a@b>`; the whole input must be the bare address.
	return err == nil && addr.Address == s && addr.Name == ""
}

// checkUsername accepts 3-30 of [A-Za-z0-9_.], or an e-mail-shaped username (the course
// signup page sends the e-mail as the username).
func checkUsername(s string, errs map[string]string) {
	switch {
	case s == "":
		errs["username"] = "is required"
	case usernamePattern.MatchString(s):
	case strings.Contains(s, "@") && validEmail(s):
	default:
		errs["username"] = "must be 3 to 30 letters, digits, dots or underscores (or an e-mail address)"
	}
}

func checkEmail(s string, errs map[string]string) {
	switch {
	case s == "":
		errs["email"] = "is required"
	case !validEmail(s):
		errs["email"] = "must be a valid e-mail address"
	}
}

func checkNewPassword(field, s string, errs map[string]string) {
	switch {
	case s == "":
		errs[field] = "is required"
	case len(s) < minPasswordBytes:
		errs[field] = "must be at least 8 characters"
	case len(s) > maxPasswordBytes:
		errs[field] = "must be at most 72 bytes"
	}
}

// checkGivenPassword validates a password to compare (login, current password): only the
// upper bound, since accounts made by the Prisma version may have shorter passwords.
func checkGivenPassword(field, s string, errs map[string]string) {
	switch {
	case s == "":
		errs[field] = "is required"
	case len(s) > maxPasswordBytes:
		errs[field] = "must be at most 72 bytes"
	}
}

// cleanText trims s and turns an empty result into nil (the column is nullable).
func cleanText(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	return &t
}

func checkName(s *string, errs map[string]string) {
	if s != nil && utf8.RuneCountInString(*s) > maxNameChars {
		errs["name"] = "must be at most 50 characters"
	}
}

func checkBio(s *string, errs map[string]string) {
	if s != nil && utf8.RuneCountInString(*s) > maxBioChars {
		errs["bio"] = "must be at most 500 characters"
	}
}

// checkAvatarURL accepts an absolute http(s) URL (paths of our own uploads are checked by
// the profile update, which knows the current avatar).
func checkAvatarURL(s *string, errs map[string]string) {
	if s == nil {
		return
	}
	if len(*s) > maxAvatarURLChars {
		errs["avatar"] = "must be at most 2048 characters"
		return
	}
	u, err := url.Parse(*s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs["avatar"] = "must be an http(s) URL"
	}
}

// isUniqueViolation tells which unique index an insert or update hit.
func uniqueViolation(err error) (constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName, true
	}
	return "", false
}

// userExists is the 409 of a taken username or e-mail; errors says which one.
func userExists(constraint string) error {
	field := "username"
	if strings.Contains(constraint, "email") {
		field = "email"
	}
	return &middleware.Error{Kind: middleware.KindConflict, Code: "conflict", Message: msgUserExists,
		Fields: map[string]string{field: "is already taken"}}
}

// --- register --------------------------------------------------------------------------------

type registerInput struct {
	Username string  `json:"username"`
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Name     *string `json:"name"`
}

// Register creates a user (POST /api/users/register). Uniqueness is left to the database's
// case-insensitive unique indexes, so two racing sign-ups get one 201 and one 409.
func (a *Auth) Register(c *gin.Context) error {
	var in registerInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	in.Username = strings.TrimSpace(in.Username)
	in.Email = strings.TrimSpace(in.Email)
	in.Name = cleanText(in.Name)
	errs := map[string]string{}
	checkUsername(in.Username, errs)
	checkEmail(in.Email, errs)
	checkNewPassword("password", in.Password, errs)
	checkName(in.Name, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}
	hash, err := a.Passwords.Hash(in.Password)
	if err != nil {
		return middleware.Internal(err)
	}
	u := models.User{Username: in.Username, Email: in.Email, Password: hash, Name: in.Name}
	if err := a.DB.WithContext(c.Request.Context()).Create(&u).Error; err != nil {
		if constraint, ok := uniqueViolation(err); ok {
			return userExists(constraint)
		}
		return err
	}
	// The registrant typed this e-mail a moment ago: showing it back reveals nothing.
	c.JSON(http.StatusCreated, gin.H{"message": "User registered successfully", "user": NewUserProfile(&u, u.ID, false)})
	return nil
}

// --- login -----------------------------------------------------------------------------------

type loginInput struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Login checks credentials and opens a session (POST /api/users/login): an access token, a
// refresh token and the user. Unknown accounts and wrong passwords get the same answer after
// the same bcrypt work.
func (a *Auth) Login(c *gin.Context) error {
	var in loginInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request.Context()
	field, login := "email", strings.TrimSpace(in.Email)
	if login == "" {
		field, login = "username", strings.TrimSpace(in.Username)
	}
	errs := map[string]string{}
	if login == "" {
		errs["email"] = "is required"
	}
	checkGivenPassword("password", in.Password, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}

	var users []models.User
	if err := a.DB.WithContext(ctx).Where("lower("+field+") = lower(?)", login).Limit(1).Find(&users).Error; err != nil {
		return err
	}
	// Failures count per account, whether it was named by e-mail or by username; attempts on
	// an unknown name count under that name, so they are limited just the same.
	accountKey := "login:name:" + strings.ToLower(login)
	if len(users) == 1 {
		accountKey = "login:user:" + strconv.Itoa(int(users[0].ID))
	}
	if blocked, retry, err := a.LoginFails.Blocked(ctx, accountKey); err != nil {
		return err
	} else if blocked {
		return middleware.RateLimited(retry)
	}
	ok := false
	if len(users) == 1 {
		ok = a.Passwords.Check(users[0].Password, in.Password)
	} else {
		ok = a.Passwords.CheckDummy(in.Password)
	}
	if !ok {
		if _, _, err := a.LoginFails.Hit(ctx, accountKey); err != nil {
			return err
		}
		return middleware.Unauthorized("invalid_credentials", msgInvalidCredentials)
	}
	u := &users[0]
	if err := a.LoginFails.Reset(ctx, accountKey); err != nil {
		return err
	}
	token, refresh, err := a.openSession(ctx, a.DB, u.ID, u.TokenVersion)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"token": token, "refreshToken": refresh, "user": NewUserProfile(u, u.ID, false)})
	return nil
}

// openSession issues an access token and the first refresh token of a new family.
func (a *Auth) openSession(ctx context.Context, db *gorm.DB, userID, version int32) (token, refresh string, err error) {
	return a.issuePair(ctx, db, userID, version, auth.NewFamilyID())
}

func (a *Auth) issuePair(ctx context.Context, db *gorm.DB, userID, version int32, family string) (token, refresh string, err error) {
	token, err = a.Tokens.Issue(userID, version)
	if err != nil {
		return "", "", middleware.Internal(err)
	}
	refresh, hash := auth.NewRefreshToken()
	row := models.RefreshToken{UserID: userID, FamilyID: family, TokenHash: hash,
		ExpiresAt: time.Now().UTC().Add(a.RefreshTTL)}
	if err := db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", "", err
	}
	return token, refresh, nil
}

// --- refresh ---------------------------------------------------------------------------------

type refreshInput struct {
	RefreshToken string `json:"refreshToken"`
}

// Refresh spends a refresh token for a new pair (POST /api/users/refresh). A token presented a
// second time means it was copied: the whole family (the session) is revoked, so the thief's
// and the owner's next refresh both fail and the owner logs in again.
func (a *Auth) Refresh(c *gin.Context) error {
	var in refreshInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	if in.RefreshToken == "" {
		return middleware.ValidationFailed(map[string]string{"refreshToken": "is required"})
	}
	var token, refresh string
	var reuse bool
	err := a.DB.WithContext(c.Request.Context()).Transaction(func(tx *gorm.DB) error {
		var rows []models.RefreshToken
		// FOR UPDATE: of two concurrent refreshes with one token, the second waits and then
		// sees it spent.
		if err := tx.Raw(`SELECT * FROM refresh_tokens WHERE token_hash = ? FOR UPDATE`,
			auth.HashRefreshToken(in.RefreshToken)).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return middleware.Unauthorized(middleware.CodeTokenInvalid, "Invalid refresh token")
		}
		rt := rows[0]
		now := time.Now().UTC()
		switch {
		case rt.RevokedAt != nil:
			return middleware.Unauthorized(middleware.CodeTokenRevoked, "Refresh token revoked")
		case rt.UsedAt != nil:
			reuse = true
			return tx.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
				now, rt.FamilyID).Error
		case !rt.ExpiresAt.After(now):
			return middleware.Unauthorized(middleware.CodeTokenExpired, "Refresh token expired")
		}
		if err := tx.Exec(`UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, now, rt.ID).Error; err != nil {
			return err
		}
		var versions []int32
		if err := tx.Raw(`SELECT token_version FROM users WHERE id = ?`, rt.UserID).Scan(&versions).Error; err != nil {
			return err
		}
		if len(versions) == 0 {
			return middleware.Unauthorized(middleware.CodeTokenRevoked, "Refresh token revoked")
		}
		var err error
		token, refresh, err = a.issuePair(c.Request.Context(), tx, rt.UserID, versions[0], rt.FamilyID)
		return err
	})
	if err != nil {
		return err
	}
	if reuse {
		// Committed above: the family stays revoked although this request fails.
		return middleware.Unauthorized(middleware.CodeTokenRevoked, "Refresh token already used; the session was revoked")
	}
	c.JSON(http.StatusOK, gin.H{"token": token, "refreshToken": refresh})
	return nil
}

// --- logout ----------------------------------------------------------------------------------

// Logout ends sessions (POST /api/users/logout). With a refreshToken it revokes that session
// (the token's family); with ?all=true it revokes every session and every access token of the
// user. Access tokens of a single session expire on their own (JWT_EXPIRES_IN).
func (a *Auth) Logout(c *gin.Context) error {
	viewer, err := middleware.MustViewerID(c)
	if err != nil {
		return err
	}
	var in refreshInput
	if c.Request.ContentLength != 0 {
		if err := middleware.BindJSON(c, &in); err != nil {
			return err
		}
	}
	all, _ := strconv.ParseBool(c.Query("all"))
	db := a.DB.WithContext(c.Request.Context())
	now := time.Now().UTC()
	if all {
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE users SET token_version = token_version + 1 WHERE id = ?`, viewer).Error; err != nil {
				return err
			}
			return tx.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, viewer).Error
		})
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, gin.H{"message": "Logged out from all sessions"})
		return nil
	}
	if in.RefreshToken != "" {
		// Only the caller's own session: a token of someone else is ignored, not revealed.
		err := db.Exec(`UPDATE refresh_tokens SET revoked_at = ?
			WHERE revoked_at IS NULL AND family_id = (
				SELECT family_id FROM refresh_tokens WHERE token_hash = ? AND user_id = ?)`,
			now, auth.HashRefreshToken(in.RefreshToken), viewer).Error
		if err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, gin.H{"message": "Logged out successfully"})
	return nil
}

// --- password --------------------------------------------------------------------------------

type passwordInput struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// ChangePassword sets a new password (PUT /api/users/:id/password, self only). Every access
// and refresh token issued before stops working; the answer carries a fresh pair so the
// device that changed the password stays logged in.
func (a *Auth) ChangePassword(c *gin.Context) error {
	id, viewer, err := idAndViewer(c)
	if err != nil {
		return err
	}
	if id != viewer {
		return middleware.Forbidden("You can only change your own password")
	}
	var in passwordInput
	if err := middleware.BindJSON(c, &in); err != nil {
		return err
	}
	errs := map[string]string{}
	checkGivenPassword("currentPassword", in.CurrentPassword, errs)
	checkNewPassword("newPassword", in.NewPassword, errs)
	if len(errs) > 0 {
		return middleware.ValidationFailed(errs)
	}
	ctx := c.Request.Context()
	key := "password:" + strconv.Itoa(int(id))
	if blocked, retry, err := a.LoginFails.Blocked(ctx, key); err != nil {
		return err
	} else if blocked {
		return middleware.RateLimited(retry)
	}
	var u models.User
	if err := a.DB.WithContext(ctx).First(&u, id).Error; err != nil {
		return err
	}
	if !a.Passwords.Check(u.Password, in.CurrentPassword) {
		if _, _, err := a.LoginFails.Hit(ctx, key); err != nil {
			return err
		}
		// 400, not 401: the session is fine, and a 401 would make clients log the user out.
		return middleware.ValidationFailed(map[string]string{"currentPassword": "is incorrect"})
	}
	hash, err := a.Passwords.Hash(in.NewPassword)
	if err != nil {
		return middleware.Internal(err)
	}
	var token, refresh string
	err = a.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var version int32
		if err := tx.Raw(`UPDATE users SET password = ?, token_version = token_version + 1, updated_at = ?
			WHERE id = ? RETURNING token_version`, hash, time.Now().UTC(), id).Scan(&version).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`,
			time.Now().UTC(), id).Error; err != nil {
			return err
		}
		var err error
		token, refresh, err = a.openSession(ctx, tx, id, version)
		return err
	})
	if err != nil {
		return err
	}
	_ = a.LoginFails.Reset(ctx, key)
	c.JSON(http.StatusOK, gin.H{"message": "Password updated successfully", "token": token, "refreshToken": refresh})
	return nil
}
