package store

import "context"

// Exact counters (database, 202611300060_counter_deltas). A counter's stored column lags its
// rows by the deltas the counting triggers have appended and the folder (FoldCounterDeltas) has
// not yet merged; in every snapshot
//
//	stored column + SUM(pending deltas) = COUNT(*) of its rows.
//
// So every read of a counter adds its row's pending deltas in the SAME statement as the row
// (one snapshot: a folder commits the column and the deleted deltas together). The joins below
// do it with one probe of the deltas' index per row; they are LATERAL, so a list walking an
// index with a LIMIT sums the deltas of the rows it returns only.

// videoPending joins a video (alias v) with the sums of its pending deltas (alias vp: likes,
// comments, bookmarks).
const videoPending = ` CROSS JOIN LATERAL (SELECT COALESCE(sum(d.likes), 0)::int AS likes,
	COALESCE(sum(d.comments), 0)::int AS comments, COALESCE(sum(d.bookmarks), 0)::int AS bookmarks
	FROM video_counter_deltas d WHERE d.video_id = v.id) vp`

// commentPending joins a comment (alias c) with its pending deltas (alias cp: likes, replies).
const commentPending = ` CROSS JOIN LATERAL (SELECT COALESCE(sum(d.likes), 0)::int AS likes,
	COALESCE(sum(d.replies), 0)::int AS replies
	FROM comment_counter_deltas d WHERE d.comment_id = c.id) cp`

// userPending joins a user (alias u) with their pending deltas (alias up: followers,
// following, videos, likes).
const userPending = ` CROSS JOIN LATERAL (SELECT COALESCE(sum(d.followers), 0)::int AS followers,
	COALESCE(sum(d.following), 0)::int AS following, COALESCE(sum(d.videos), 0)::int AS videos,
	COALESCE(sum(d.likes), 0)::int AS likes
	FROM user_counter_deltas d WHERE d.user_id = u.id) up`

// userColumns are the columns of models.User, its counters exact: read FROM usersExact.
const userColumns = `u.id, u.username, u.email, u.password, u.name, u.bio, u.avatar, u.avatar_storage_path,
	u.created_at, u.updated_at, u.token_version,
	u.follower_count + up.followers AS follower_count, u.following_count + up.following AS following_count,
	u.video_count + up.videos AS video_count, u.like_count + up.likes AS like_count`

// usersExact is the FROM of userColumns.
const usersExact = `users u` + userPending

// FoldCounterDeltas merges the pending counter deltas of up to batch rows of each counted
// table (users, videos, comments) into their stored columns, in one statement of its own
// transaction (fold_counter_deltas, database 202611300060), and reports how many rows it
// updated. Any number of instances may run it at once: a row another folder holds is skipped.
func (s *Store) FoldCounterDeltas(ctx context.Context, batch int) (int64, error) {
	var updated int64
	err := s.db.WithContext(ctx).Raw(`SELECT fold_counter_deltas(?)`, batch).Find(&updated).Error
	return updated, translate(err)
}

// VacuumCounterDeltas vacuums the three delta tables (a few pages each), skipping one another
// session is vacuuming: see countfold.Options.Vacuum. It leaves their empty last pages in place
// (TRUNCATE false): giving them back to the file system takes the table's ACCESS EXCLUSIVE
// lock, which every read of a counter (they all join the deltas) would wait behind, every
// two seconds; the pages are filled again by the next likes anyway.
func (s *Store) VacuumCounterDeltas(ctx context.Context) error {
	return translate(s.db.WithContext(ctx).Exec(`VACUUM (SKIP_LOCKED, TRUNCATE false) user_counter_deltas, video_counter_deltas, comment_counter_deltas`).Error)
}
