package models

import "time"

// Upload is a row of "uploads" (our table; Prisma has no twin): one signed direct upload, from
// the moment its URL is handed out. RegisteredAt is set when a video or an avatar takes the
// path (once); rows still unregistered a day later are swept with their objects.
type Upload struct {
	StoragePath  string     `gorm:"column:storage_path;type:text;primaryKey"`
	UserID       int32      `gorm:"column:user_id;type:integer;not null"`
	Kind         string     `gorm:"column:kind;type:text;not null;check:uploads_kind_check,kind IN ('video', 'thumbnail', 'avatar')"`
	ContentType  string     `gorm:"column:content_type;type:text;not null"`
	Size         int64      `gorm:"column:size;type:bigint;not null;check:uploads_size_check,size > 0"`
	CreatedAt    time.Time  `gorm:"column:created_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP;index:uploads_unregistered_created_at_idx,where:registered_at IS NULL"`
	ExpiresAt    time.Time  `gorm:"column:expires_at;type:timestamp(3);not null"`
	RegisteredAt *time.Time `gorm:"column:registered_at;type:timestamp(3)"`
}

// TableName pins the table name.
func (Upload) TableName() string { return "uploads" }

// StorageDelete is a row of "storage_deletes": a stored file the sweep deletes (again) once
// RetryAt has passed: a delete that failed after its row was gone, or a direct upload deleted
// while its signed URL could still put it back.
type StorageDelete struct {
	StoragePath string    `gorm:"column:storage_path;type:text;primaryKey"`
	RetryAt     time.Time `gorm:"column:retry_at;type:timestamp(3);not null;default:CURRENT_TIMESTAMP"`
	Attempts    int32     `gorm:"column:attempts;type:integer;not null;default:1"`
}

// TableName pins the table name.
func (StorageDelete) TableName() string { return "storage_deletes" }
