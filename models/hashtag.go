package models

import "time"

// Hashtag is a row of "hashtags" (our table; the Prisma version has none): one tag name as the
// caption parser folds it (lower-case, without the '#'). VideoCount is COUNT(*) of its
// video_hashtags rows, kept by triggers and never written by the application. The name is
// unique by the constraint hashtags_name_key (GORM's `unique` tag only says that the column is
// unique; the migration names the constraint).
type Hashtag struct {
	ID         int32     `gorm:"column:id;primaryKey;autoIncrement"`
	Name       string    `gorm:"column:name;type:text;not null;unique;check:hashtags_name_check,char_length(name) BETWEEN 1 AND 100"`
	VideoCount int32     `gorm:"column:video_count;type:integer;not null;default:0;<-:false"`
	CreatedAt  time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
}

// TableName pins the table name.
func (Hashtag) TableName() string { return "hashtags" }

// VideoHashtag is a row of the join table "video_hashtags" behind Video.Hashtags. CreatedAt is
// the video's created_at (a trigger copies it), so a tag page is one index range.
type VideoHashtag struct {
	VideoID   int32     `gorm:"column:video_id;type:integer;primaryKey;autoIncrement:false"`
	HashtagID int32     `gorm:"column:hashtag_id;type:integer;primaryKey;autoIncrement:false;index:video_hashtags_hashtag_id_created_at_idx,priority:1"`
	CreatedAt time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP;index:video_hashtags_hashtag_id_created_at_idx,priority:2,sort:desc"`

	Video   *Video   `gorm:"foreignKey:VideoID;constraint:video_hashtags_video_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	Hashtag *Hashtag `gorm:"foreignKey:HashtagID;constraint:video_hashtags_hashtag_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name.
func (VideoHashtag) TableName() string { return "video_hashtags" }

// HashtagDailyUse is a row of "hashtag_daily_uses": how many videos of one UTC day carry a tag,
// kept by the same triggers as Hashtag.VideoCount. The trending-tags ranking reads it.
type HashtagDailyUse struct {
	HashtagID int32     `gorm:"column:hashtag_id;type:integer;primaryKey;autoIncrement:false"`
	Day       time.Time `gorm:"column:day;type:date;primaryKey"`
	Uses      int32     `gorm:"column:uses;type:integer;not null"`

	Hashtag *Hashtag `gorm:"foreignKey:HashtagID;constraint:hashtag_daily_uses_hashtag_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
}

// TableName pins the table name.
func (HashtagDailyUse) TableName() string { return "hashtag_daily_uses" }
