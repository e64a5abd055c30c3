package store

import (
	"database/sql/driver"
	"strings"

	"gorm.io/gorm"

	"tiktok/hashtag"
)

// syncVideoTags makes video id's rows of video_hashtags the tags of caption (hashtag.Parse), in
// the caller's transaction, which holds the video's row. created says the video is new, so it
// has no rows yet. It runs at most four statements, none when a new caption has no tags:
//
//  1. the names not stored yet are inserted, sorted by name (two writers adding the same new
//     names wait on each other's uncommitted names in one order), ON CONFLICT DO NOTHING;
//  2. (edits) every tag the video loses or gains is locked in id order, in one statement:
//     step 3 of the lock order (locks.go), so two captions trading tags cannot deadlock;
//  3. (edits) the rows of tags the caption no longer names are deleted;
//  4. the rows of the caption's tags are inserted by hashtag id.
//
// Statements 2-4 are new statements, so in READ COMMITTED they see the names a concurrent
// writer committed after statement 1 found them there. The counting trigger keeps
// hashtags.video_count and hashtag_daily_uses in step with steps 3 and 4.
func syncVideoTags(tx *gorm.DB, id int32, caption *string, created bool) error {
	var names []string
	if caption != nil {
		names = hashtag.Parse(*caption)
	}
	if names == nil {
		if created {
			return nil
		}
		names = []string{}
	}
	if len(names) > 0 {
		if err := tx.Exec(`INSERT INTO hashtags (name) SELECT n FROM unnest(?::text[]) AS n ORDER BY n
			ON CONFLICT (name) DO NOTHING`, textArray(names)).Error; err != nil {
			return err
		}
	}
	if !created {
		if err := tx.Exec(`SELECT id FROM hashtags
			WHERE id IN (SELECT hashtag_id FROM video_hashtags WHERE video_id = ?) OR name = ANY(?::text[])
			ORDER BY id FOR NO KEY UPDATE`, id, textArray(names)).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM video_hashtags vh WHERE vh.video_id = ?
			AND NOT EXISTS (SELECT 1 FROM hashtags h WHERE h.id = vh.hashtag_id AND h.name = ANY(?::text[]))`,
			id, textArray(names)).Error; err != nil {
			return err
		}
	}
	if len(names) == 0 {
		return nil
	}
	return tx.Exec(`INSERT INTO video_hashtags (video_id, hashtag_id)
		SELECT ?, id FROM hashtags WHERE name = ANY(?::text[]) ORDER BY id
		ON CONFLICT DO NOTHING`, id, textArray(names)).Error
}

// textArray passes a []string as one text[] parameter (GORM would expand a slice into a list
// of parameters).
type textArray []string

// Value writes the array literal, quoting every element.
func (a textArray) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, r := range s {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}
