// Package models holds the GORM structs of the database, one file per table. Table, column,
// key and constraint names are those Prisma generates for the course's schema
// (prisma/schema.prisma), so this server and the Prisma version can share one database.
// The columns we add to Prisma's tables (stored counters, the token version) have defaults,
// so a Prisma client that does not know them keeps working.
package models

// All lists every model, in an order where each table comes after the tables it references.
func All() []any {
	return []any{&User{}, &Hashtag{}, &Video{}, &Comment{}, &VideoLike{}, &CommentLike{}, &Follow{}, &RefreshToken{}, &Upload{}, &StorageDelete{}, &VideoHashtag{}, &HashtagDailyUse{}, &Notification{}, &VideoBookmark{}}
}
