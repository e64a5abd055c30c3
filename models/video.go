package models

import "time"

// Video is a row of "videos" (Prisma: model Video @@map("videos")). LikeCount, CommentCount
// and BookmarkCount are maintained by triggers and never written by the application. Views is
// added to in batches by the view counter (package viewcount), never on a read.
type Video struct {
	ID           int32   `gorm:"column:id;primaryKey;autoIncrement"`
	UserID       int32   `gorm:"column:user_id;type:integer;not null"`
	Caption      *string `gorm:"column:caption;type:text"`
	VideoURL     string  `gorm:"column:video_url;type:text;not null"`
	ThumbnailURL *string `gorm:"column:thumbnail_url;type:text"`
	// VideoStoragePath and ThumbnailStoragePath name the files in the store of uploads
	// ("videos/3f9a....mp4"), NULL for files hosted elsewhere (the course practical's
	// videoStoragePath / thumbnailStoragePath).
	VideoStoragePath     *string   `gorm:"column:video_storage_path;type:text"`
	ThumbnailStoragePath *string   `gorm:"column:thumbnail_storage_path;type:text"`
	AudioName            *string   `gorm:"column:audio_name;type:text"`
	Views                int32     `gorm:"column:views;type:integer;not null;default:0"`
	CreatedAt            time.Time `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	UpdatedAt            time.Time `gorm:"column:updated_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	// Status is 'ready', 'processing' or 'failed' (API.md, "Media processing"); StatusReason
	// says why a video failed, for its owner. Duration (seconds), Width and Height are what
	// ffprobe found, NULL until probed and for videos given by URL.
	Status        string   `gorm:"column:status;type:text;not null;default:'ready';check:videos_status_check,status IN ('ready', 'processing', 'failed')"`
	StatusReason  *string  `gorm:"column:status_reason;type:text"`
	Duration      *float64 `gorm:"column:duration;type:double precision"`
	Width         *int32   `gorm:"column:width;type:integer"`
	Height        *int32   `gorm:"column:height;type:integer"`
	LikeCount     int32    `gorm:"column:like_count;type:integer;not null;default:0;<-:false"`
	CommentCount  int32    `gorm:"column:comment_count;type:integer;not null;default:0;<-:false"`
	BookmarkCount int32    `gorm:"column:bookmark_count;type:integer;not null;default:0;<-:false"`

	User *User `gorm:"foreignKey:UserID;constraint:videos_user_id_fkey,OnUpdate:CASCADE,OnDelete:CASCADE"`
	// Hashtags are the tags parsed from Caption, through the join table video_hashtags (whose
	// model is VideoHashtag). The store keeps them in step with the caption; API responses
	// list them from the caption itself (store/views.go).
	Hashtags []Hashtag `gorm:"many2many:video_hashtags;joinForeignKey:VideoID;joinReferences:HashtagID"`
}

// TableName pins the table name (Prisma: @@map("videos")).
func (Video) TableName() string { return "videos" }
