package controllers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tiktok/store"
)

// setLike answers POST (like) and DELETE (unlike) of /:id/like for target, a video or a
// comment (noun). Likes are a set: liking twice keeps one row and answers the same.
func setLike(c *gin.Context, st *store.Store, target store.LikeTarget, noun string, like bool) error {
	id, caller, err := idAndCaller(c)
	if err != nil {
		return err
	}
	count, err := st.Likes.Set(c.Request.Context(), target, caller, id, like)
	if err != nil {
		return err
	}
	if like {
		c.JSON(http.StatusOK, gin.H{"message": noun + " liked successfully", "action": "liked", "likeCount": count, "isLiked": true})
	} else {
		c.JSON(http.StatusOK, gin.H{"message": noun + " unliked successfully", "action": "unliked", "likeCount": count, "isLiked": false})
	}
	return nil
}
