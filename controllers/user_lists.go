package controllers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"tiktok/models"
)

// joinTable is a join table whose rows list users for one owner: follows (a user's followers
// or followings) and video_likes (a video's likers). Each has an index on
// (ownCol, created_at DESC, userCol DESC), so a page is a keyset range scan.
type joinTable struct {
	name    string // follows, video_likes
	ownCol  string // the column equal to the path id
	userCol string // the column naming the listed user
}

// joinedUser is a listed user with the time of the join row, which orders the list.
type joinedUser struct {
	models.User
	JoinedAt time.Time `gorm:"column:joined_at"`
}

// listJoinedUsers answers one page of t's users for owner id under the key items, newest row
// first: [the cursor item's position,] the page, and the viewer's follows of the page in one
// IN query: the same statements whatever the page size.
func listJoinedUsers(c *gin.Context, db *gorm.DB, t joinTable, id int32, req PageRequest, items string) error {
	if req.AfterID != 0 {
		var at []time.Time
		if err := db.Raw(`SELECT created_at FROM `+t.name+` WHERE `+t.ownCol+` = ? AND `+t.userCol+` = ?`, id, req.AfterID).
			Scan(&at).Error; err != nil {
			return err
		}
		if len(at) == 0 {
			return badCursor()
		}
		req.After = &Key{CreatedAt: at[0], ID: req.AfterID}
	}
	q := `SELECT u.*, j.created_at AS joined_at FROM ` + t.name + ` j JOIN users u ON u.id = j.` + t.userCol + `
		WHERE j.` + t.ownCol + ` = ?`
	args := []any{id}
	if req.After != nil {
		q += ` AND (j.created_at, j.` + t.userCol + `) < (?, ?)`
		args = append(args, req.After.CreatedAt.UTC(), req.After.ID)
	}
	q += ` ORDER BY j.created_at DESC, j.` + t.userCol + ` DESC LIMIT ?`
	args = append(args, req.Limit+1)
	var rows []joinedUser
	if err := db.Raw(q, args...).Scan(&rows).Error; err != nil {
		return err
	}
	rows, pagination := TrimPage(rows, req.Limit, func(r joinedUser) Key { return Key{CreatedAt: r.JoinedAt, ID: r.ID} })
	ids := make([]int32, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	following, err := viewerFollowsIDs(c, db, ids)
	if err != nil {
		return err
	}
	out := make([]UserSummary, len(rows))
	for i := range rows {
		out[i] = NewUserSummary(&rows[i].User, following(rows[i].ID))
	}
	c.JSON(http.StatusOK, gin.H{items: out, "pagination": pagination})
	return nil
}
