package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tiktok/errs"
	"tiktok/models"
)

// Users reads and writes users (Prisma version: the prisma.user calls of userController.js).
type Users struct {
	db *gorm.DB
	// reads serves other users' profiles and the user search, which may be a moment stale
	// (NewWithReads).
	reads *gorm.DB
	media MediaURLs
}

// The messages of a taken e-mail or username: the Prisma version's texts, which the course
// frontend shows as they come.
const (
	msgEmailTaken    = "Email already in use"
	msgUsernameTaken = "Username already in use"
)

var errUserNotFound = errs.NotFound("User not found")

// Create inserts u (ID and timestamps are filled in). Uniqueness is left to the database's
// case-insensitive unique indexes, so of two racing sign-ups one gets a conflict naming the
// taken field; when both are taken the e-mail is named, as the Prisma version's findFirst
// does. The insert skips a conflicting row instead of failing (ON CONFLICT DO NOTHING waits
// for a racing insert to commit), so the statement that then says which field is taken runs
// on a healthy transaction, also inside a caller's.
func (s *Users) Create(ctx context.Context, u *models.User) error {
	db := s.db.WithContext(ctx)
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(u)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var emailTaken []bool
	if err := db.Raw(`SELECT bool_or(lower(email) = lower(?)) FROM users WHERE lower(email) = lower(?) OR lower(username) = lower(?)`,
		u.Email, u.Email, u.Username).Find(&emailTaken).Error; err != nil {
		return translate(err)
	}
	if len(emailTaken) == 1 && emailTaken[0] {
		return errs.Conflict(msgEmailTaken, map[string]string{"email": "is already taken"})
	}
	return errs.Conflict(msgUsernameTaken, map[string]string{"username": "is already taken"})
}

// ByLogin finds the user whose e-mail (field "email") or username (field "username") is login,
// case-insensitively, as the unique indexes compare them; NotFound when there is none.
func (s *Users) ByLogin(ctx context.Context, field, login string) (*models.User, error) {
	if field != "email" && field != "username" {
		return nil, errs.Internal(fmt.Errorf("ByLogin: %q is not a login field", field))
	}
	var users []models.User
	if err := s.db.WithContext(ctx).Raw(`SELECT `+userColumns+` FROM `+usersExact+` WHERE lower(u.`+field+`) = lower(?) LIMIT 1`, login).
		Scan(&users).Error; err != nil {
		return nil, translate(err)
	}
	if len(users) == 0 {
		return nil, errUserNotFound
	}
	return &users[0], nil
}

// Get loads a user; NotFound when there is none.
func (s *Users) Get(ctx context.Context, id int32) (*models.User, error) {
	return getUser(ctx, s.db, id)
}

func getUser(ctx context.Context, db *gorm.DB, id int32) (*models.User, error) {
	var users []models.User
	if err := db.WithContext(ctx).Raw(`SELECT `+userColumns+` FROM `+usersExact+` WHERE u.id = ?`, id).Find(&users).Error; err != nil {
		return nil, translate(err)
	}
	if len(users) == 0 {
		return nil, errUserNotFound
	}
	return &users[0], nil
}

// Profile is the profile of user id as viewer sees it: isFollowing, and the e-mail when the
// viewer is that user. Another user's profile is read on the replicas; one's own on the
// primary, since it is the one that must show one's own edit.
func (s *Users) Profile(ctx context.Context, viewer, id int32) (UserProfile, error) {
	db := s.reads
	if viewer == id {
		db = s.db
	}
	u, err := getUser(ctx, db, id)
	if err != nil {
		return UserProfile{}, err
	}
	following := false
	if viewer != id {
		isFollowing, err := viewerFollows(ctx, db, viewer, []int32{id})
		if err != nil {
			return UserProfile{}, translate(err)
		}
		if f := isFollowing(id); f != nil {
			following = *f
		}
	}
	return s.ProfileOf(u, viewer, following), nil
}

// Exists answers NotFound unless user id exists.
func (s *Users) Exists(ctx context.Context, id int32) error {
	return exists(ctx, s.db, `SELECT id FROM users WHERE id = ?`, id, errUserNotFound)
}

// exists runs query (selecting the id of one row) and answers notFound when it finds none.
func exists(ctx context.Context, db *gorm.DB, query string, id int32, notFound error) error {
	var found []int32
	if err := db.WithContext(ctx).Raw(query, id).Find(&found).Error; err != nil {
		return translate(err)
	}
	if len(found) == 0 {
		return notFound
	}
	return nil
}

// likeEscaper escapes LIKE's wildcards so a search for "a_b" matches only "a_b...".
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// List is GET /api/users: users newest first, filtered by a prefix of username or name when
// search is not empty, limit of them from the page-th page. Without a search this is the
// course frontend's "Discover users" page, so newest first puts someone who has just
// registered on its first page (by id ascending, users 1-10 stayed there for ever). The id
// is the registration order (the sequence hands it out at INSERT; created_at can be
// back-dated by the seeder or an import), and users_pkey read backwards serves that order
// with no index of its own. With a search, PostgreSQL either walks users_pkey backwards
// filtering on the prefix (a common prefix) or ORs the users_*_pattern_idx matches and
// sorts those few (a rare one); both are index reads at any table size.
func (s *Users) List(ctx context.Context, viewer int32, search string, limit, page int) ([]UserListItem, error) {
	where, args := "", []any{}
	if search != "" {
		// lower(x) LIKE 'p%' matches the users_*_pattern_idx indexes (text_pattern_ops).
		pattern := likeEscaper.Replace(strings.ToLower(search)) + "%"
		where, args = ` WHERE lower(u.username) LIKE ? OR lower(u.name) LIKE ?`, []any{pattern, pattern}
	}
	var users []models.User
	if err := s.reads.WithContext(ctx).Raw(`SELECT `+userColumns+` FROM `+usersExact+where+` ORDER BY u.id DESC LIMIT ? OFFSET ?`,
		append(args, limit, (page-1)*limit)...).Find(&users).Error; err != nil {
		return nil, translate(err)
	}
	ids := make([]int32, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	following, err := viewerFollows(ctx, s.reads, viewer, ids)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]UserListItem, len(users))
	for i := range users {
		out[i] = UserListItem{UserSummary: s.media.userSummary(&users[i], following(users[i].ID)),
			Bio: users[i].Bio, Count: userCount(&users[i])}
	}
	return out, nil
}

// TokenVersion is the user's token version: access tokens carrying another are revoked.
// NotFound when the user is gone.
func (s *Users) TokenVersion(ctx context.Context, id int32) (int32, error) {
	return s.tokenVersion(ctx, `SELECT token_version FROM users WHERE id = ?`, id)
}

// LockTokenVersion is TokenVersion read with a share lock on the user row, inside a
// transaction: a logout-everywhere or a password change (which update that row) then waits
// for the transaction to commit, and revokes what it issued.
func (s *Users) LockTokenVersion(ctx context.Context, id int32) (int32, error) {
	return s.tokenVersion(ctx, `SELECT token_version FROM users WHERE id = ? FOR SHARE`, id)
}

// LockCredentials reads the user's password hash and token version with a share lock on the
// user row, inside a transaction: a login opens its session under it, so a password change
// or a logout-everywhere either waits for the login to commit (and revokes its session) or
// has committed before (and the login sees the new hash or version).
func (s *Users) LockCredentials(ctx context.Context, id int32) (hash string, version int32, err error) {
	var rows []struct {
		Password     string `gorm:"column:password"`
		TokenVersion int32  `gorm:"column:token_version"`
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT password, token_version FROM users WHERE id = ? FOR SHARE`, id).
		Scan(&rows).Error; err != nil {
		return "", 0, translate(err)
	}
	if len(rows) == 0 {
		return "", 0, errUserNotFound
	}
	return rows[0].Password, rows[0].TokenVersion, nil
}

func (s *Users) tokenVersion(ctx context.Context, query string, id int32) (int32, error) {
	var versions []int32
	if err := s.db.WithContext(ctx).Raw(query, id).Find(&versions).Error; err != nil {
		return 0, translate(err)
	}
	if len(versions) == 0 {
		return 0, errUserNotFound
	}
	return versions[0], nil
}

// BumpTokenVersion revokes every access token of the user at once.
func (s *Users) BumpTokenVersion(ctx context.Context, id int32) error {
	return translate(s.db.WithContext(ctx).Exec(`UPDATE users SET token_version = token_version + 1 WHERE id = ?`, id).Error)
}

// SetPassword replaces the password hash checked (the one the caller compared the current
// password with) by hash and bumps the token version (every access token issued before stops
// working); it returns the new version. The check and the write are one UPDATE, so of two
// changes that checked the same old password only the first applies: ok is false when the
// stored hash is no longer checked. NotFound when the user is gone.
func (s *Users) SetPassword(ctx context.Context, id int32, checked, hash string) (version int32, ok bool, err error) {
	var versions []int32
	if err := s.db.WithContext(ctx).Raw(`UPDATE users SET password = ?, token_version = token_version + 1, updated_at = ?
		WHERE id = ? AND password = ? RETURNING token_version`, hash, time.Now().UTC(), id, checked).Find(&versions).Error; err != nil {
		return 0, false, translate(err)
	}
	if len(versions) == 0 {
		return 0, false, s.Exists(ctx, id)
	}
	return versions[0], true, nil
}

// TextChange is an edit of a nullable text column: Set false leaves it as it is; Value nil
// clears it.
type TextChange struct {
	Set   bool
	Value *string
}

// ProfileUpdate is what a user may change in their profile.
type ProfileUpdate struct {
	Name, Bio, Avatar TextChange
	// AvatarMustBeCurrent refuses the update unless Avatar.Value is the avatar the user already
	// has: a URL into our own storage sent back as text may only be that (a profile form that
	// sends the avatar it shows), since pointing at someone else's file would let its later
	// replacement delete that file.
	AvatarMustBeCurrent bool
	// AvatarStoragePath is the storage path of a new Avatar in the store of uploads (nil for
	// a URL elsewhere, or to clear it); it is written whenever Avatar is, unless
	// AvatarMustBeCurrent (the avatar then stays as it is).
	AvatarStoragePath *string
}

// UpdateProfile applies p to user id under a row lock and returns the avatar it had before
// (for the caller to delete its file once replaced; nil when it had none) and the user after.
func (s *Users) UpdateProfile(ctx context.Context, id int32, p ProfileUpdate) (oldAvatar *StoredFile, after *models.User, err error) {
	updates := map[string]any{}
	for column, change := range map[string]TextChange{"name": p.Name, "bio": p.Bio, "avatar": p.Avatar} {
		if change.Set {
			updates[column] = change.Value
		}
	}
	if p.Avatar.Set && !p.AvatarMustBeCurrent {
		updates["avatar_storage_path"] = p.AvatarStoragePath
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var before []models.User
		if err := tx.Raw(`SELECT * FROM users WHERE id = ? FOR UPDATE`, id).Find(&before).Error; err != nil {
			return err
		}
		if len(before) == 0 {
			return errUserNotFound
		}
		oldAvatar = nil
		if before[0].Avatar != nil {
			oldAvatar = &StoredFile{URL: *before[0].Avatar, Path: before[0].AvatarStoragePath}
		}
		if p.AvatarMustBeCurrent && (oldAvatar == nil || p.Avatar.Value == nil || oldAvatar.URL != *p.Avatar.Value) {
			return errs.InvalidField("avatar", OwnStorageReason("avatar"))
		}
		if len(updates) > 0 {
			updates["updated_at"] = time.Now().UTC()
			if err := tx.Model(&models.User{}).Where("id = ?", id).Updates(updates).Error; err != nil {
				return err
			}
		}
		after, err = getUser(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, nil, translate(err)
	}
	return oldAvatar, after, nil
}

// Delete removes user id; the database cascades to everything of the user (videos, comments,
// likes, follows, refresh tokens) and the counter triggers keep other users' counts exact. It
// returns the user's stored files (avatar, videos, thumbnails: URLs and storage paths), for the
// caller to delete after the commit.
//
// The cascade writes rows all over the database, so it takes its locks first, in the lock order
// (locks.go): the users whose counters it moves (people the user follows or is followed by,
// authors of videos the user liked) with the user's own row, in id order, then every video it
// deletes or recounts, in id order. Every comment it touches lies on one of those videos, and
// nothing that holds a comment waits for anything else, so the comments can come in any order.
// Once the user's row is locked no new follow or like can involve the user, so the set of
// users read before locking can only have grown in between: then the transaction is run again
// with the bigger set, rather than locking the newcomers out of order.
func (s *Users) Delete(ctx context.Context, id int32) (files []StoredFile, err error) {
	counted, err := countedUsers(s.db.WithContext(ctx), id)
	if err != nil {
		return nil, translate(err)
	}
	for range 5 {
		var missing []int32
		err = transact(ctx, s.db, func(tx *gorm.DB) error {
			files, missing = files[:0], nil
			locks := userLocks{}.need(id, forUpdate)
			for _, u := range counted {
				locks.need(u, noKeyUpdate)
			}
			if _, err := lockUsers(tx, id, locks); err != nil {
				return err
			}
			now, err := countedUsers(tx, id)
			if err != nil {
				return err
			}
			for _, u := range now {
				if _, ok := locks[u]; !ok {
					missing = append(missing, u)
				}
			}
			if len(missing) > 0 {
				return errRelock
			}
			if err := tx.Exec(`SELECT id FROM videos WHERE user_id = @id
				OR id IN (SELECT video_id FROM video_likes WHERE user_id = @id)
				OR id IN (SELECT video_id FROM comments WHERE user_id = @id)
				OR id IN (SELECT c.video_id FROM comment_likes l JOIN comments c ON c.id = l.comment_id WHERE l.user_id = @id)
				ORDER BY id FOR UPDATE`, sql.Named("id", id)).Error; err != nil {
				return err
			}
			if err := tx.Raw(`SELECT avatar AS url, avatar_storage_path AS path FROM users WHERE id = ? AND avatar IS NOT NULL
				UNION ALL SELECT video_url, video_storage_path FROM videos WHERE user_id = ?
				UNION ALL SELECT thumbnail_url, thumbnail_storage_path FROM videos WHERE user_id = ? AND thumbnail_url IS NOT NULL`,
				id, id, id).Find(&files).Error; err != nil {
				return err
			}
			return tx.Exec(`DELETE FROM users WHERE id = ?`, id).Error
		})
		if !errors.Is(err, errRelock) {
			break
		}
		counted = append(counted, missing...)
	}
	if errors.Is(err, errRelock) {
		return nil, errs.Unavailable("The service is busy, please retry", err)
	}
	if errs.Is(err, errs.KindUnauthorized) { // errViewerGone: deleted by a request before this one
		return nil, errUserNotFound
	}
	return files, translate(err)
}

// errRelock rolls back a deletion that found more users to lock than it had locked.
var errRelock = errors.New("the users to lock grew; lock again in order")

// countedUsers are the other users whose counters deleting user id moves: whom the user
// follows, who follows the user, and the authors of the videos the user liked.
func countedUsers(db *gorm.DB, id int32) ([]int32, error) {
	var ids []int32
	err := db.Raw(`SELECT following_id FROM follows WHERE follower_id = @id
		UNION SELECT follower_id FROM follows WHERE following_id = @id
		UNION SELECT v.user_id FROM video_likes l JOIN videos v ON v.id = l.video_id WHERE l.user_id = @id`,
		sql.Named("id", id)).Find(&ids).Error
	return ids, err
}
