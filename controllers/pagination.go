package controllers

import "tiktok/store"

// Pagination is the "pagination" object of every cursor list. The offset fields are set only
// when the client sent ?page= (offset compatibility), with the total of the list's items
// under the list's own name (totalVideos, totalComments); the body repeats them at its top
// level (offsetTotals).
type Pagination struct {
	NextCursor    *string `json:"nextCursor"`
	HasNextPage   bool    `json:"hasNextPage"`
	TotalPages    *int    `json:"totalPages,omitempty"`
	CurrentPage   *int    `json:"currentPage,omitempty"`
	TotalVideos   *int64  `json:"totalVideos,omitempty"`
	TotalComments *int64  `json:"totalComments,omitempty"`
}

// pagination is the pagination object of page p (without the list's offset-mode total).
func pagination[T any](p store.Page[T]) Pagination {
	out := Pagination{NextCursor: p.NextCursor, HasNextPage: p.HasNextPage}
	if p.OffsetMode {
		out.TotalPages, out.CurrentPage = &p.TotalPages, &p.CurrentPage
	}
	return out
}

// offsetTotals are the offset-mode fields at the top level of a list's body, where the
// Prisma version sends them and the course frontend reads them ({comments, totalPages,
// currentPage, totalComments}); Pagination repeats them for clients that read them there.
// They are nil, and left out, in cursor mode.
type offsetTotals struct {
	TotalPages  *int `json:"totalPages,omitempty"`
	CurrentPage *int `json:"currentPage,omitempty"`
}

func newOffsetTotals(p Pagination) offsetTotals {
	return offsetTotals{TotalPages: p.TotalPages, CurrentPage: p.CurrentPage}
}

// videoPage is the body of every video list.
type videoPage struct {
	Videos     []store.VideoView `json:"videos"`
	Pagination Pagination        `json:"pagination"`
	offsetTotals
	TotalVideos *int64 `json:"totalVideos,omitempty"`
}

func newVideoPage(p store.Page[store.VideoView]) videoPage {
	out := videoPage{Videos: p.Items, Pagination: pagination(p)}
	if p.OffsetMode {
		out.Pagination.TotalVideos = &p.Total
		out.offsetTotals, out.TotalVideos = newOffsetTotals(out.Pagination), &p.Total
	}
	return out
}

// commentPage is the body of every comment list.
type commentPage struct {
	Comments   []store.CommentView `json:"comments"`
	Pagination Pagination          `json:"pagination"`
	offsetTotals
	TotalComments *int64 `json:"totalComments,omitempty"`
}

func newCommentPage(p store.Page[store.CommentView]) commentPage {
	out := commentPage{Comments: p.Items, Pagination: pagination(p)}
	if p.OffsetMode {
		out.Pagination.TotalComments = &p.Total
		out.offsetTotals, out.TotalComments = newOffsetTotals(out.Pagination), &p.Total
	}
	return out
}
