package main

import (
	"math"
	"math/rand/v2"
)

// Independent random streams, one per purpose, so that each part of the scale data depends
// only on the seed and not on how much randomness the other parts used.
const (
	streamUsers uint64 = iota + 1
	streamVideos
	streamVideoRanks
	streamComments
	streamCommentRanks
	streamFollows
	streamVideoLikes
	streamCommentLikes
	streamVideoText
	streamCommentText
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^stream))
}

const (
	dayMs  = 24 * 60 * 60 * 1000
	yearMs = 365 * dayMs

	// creatorSkew shapes who makes the videos: P(rank k) ~ (creatorZipfV + k)^-creatorSkew. At
	// the benchmark size the most prolific creator makes 1.6% of all videos and a quarter of
	// the users make none.
	creatorSkew  = 1.1
	creatorZipfV = 10
	// popularitySkew shapes likes, comments and followers: the item of rank r gets a share
	// ~ 1/(r+1)^popularitySkew (Zipf's law), so a few get most and the long tail gets none.
	popularitySkew = 1.0
)

// plan is the scale data's skeleton, decided before any row is written so that every stored
// counter can be written with its row: who owns what, when it was made, and how many likes,
// comments and followers each item gets. Ids are 1-based; slices are indexed by id-1.
type plan struct {
	o              options
	nowMs, startMs int64
	userTime       []int64
	userVideos     []int32
	userLikes      []int64 // likes received on all the user's videos
	userFollowers  []int32
	userFollowing  []int32
	videoOwner     []int32
	videoTime      []int64
	videoLikes     []int32
	videoComments  []int32
	commentUser    []int32
	commentVideo   []int32
	commentTime    []int64
	commentLikes   []int32
	creatorByRank  []int32 // user id of the creator of each popularity rank
	// The tags of the videos, filled by writeVideos as it writes the captions: video v's
	// are videoTags[videoTagEnd[v-1]:videoTagEnd[v]] (indexes into scaleTags), and
	// tagVideos counts the videos of each tag.
	videoTags        []uint16
	videoTagEnd      []uint32
	tagVideos        []int32
	followsGenerated int64
}

func newPlan(o options) *plan {
	p := &plan{o: o, nowMs: o.Now.UnixMilli()}
	p.startMs = p.nowMs - yearMs
	U, V, C := int(o.Users), int(o.Videos), int(o.Comments)

	// Users sign up through the year, in id order.
	r := newRand(o.Seed, streamUsers)
	p.userTime = make([]int64, U)
	for i := range U {
		slot := int64(yearMs) / int64(U)
		p.userTime[i] = p.startMs + int64(i)*slot + r.Int64N(slot+1)
	}
	p.creatorByRank = permutation(r, U)

	// Videos: owners drawn by creator popularity; each made after its owner signed up.
	r = newRand(o.Seed, streamVideos)
	p.userVideos = make([]int32, U)
	p.videoOwner = make([]int32, V)
	p.videoTime = make([]int64, V)
	if V > 0 {
		z := rand.NewZipf(r, creatorSkew, creatorZipfV, uint64(U-1))
		for v := range V {
			owner := p.creatorByRank[z.Uint64()]
			p.videoOwner[v] = owner
			p.userVideos[owner-1]++
			p.videoTime[v] = p.after(r, p.userTime[owner-1])
		}
	}

	// Likes and comments per video follow one popularity ranking of the videos; a video has at
	// most one like per user.
	r = newRand(o.Seed, streamVideoRanks)
	videoByRank := permutation(r, V)
	p.videoLikes = byID(allocate(o.Likes, V, o.Users), videoByRank)
	p.videoComments = byID(allocate(o.Comments, V, o.Comments), videoByRank)
	p.userLikes = make([]int64, U)
	for v, n := range p.videoLikes {
		p.userLikes[p.videoOwner[v]-1] += int64(n)
	}

	// Comments, grouped by video, by random users, after both the video and the user exist.
	r = newRand(o.Seed, streamComments)
	p.commentUser = make([]int32, 0, C)
	p.commentVideo = make([]int32, 0, C)
	p.commentTime = make([]int64, 0, C)
	for v, n := range p.videoComments {
		for range n {
			u := int32(1 + r.IntN(U))
			p.commentUser = append(p.commentUser, u)
			p.commentVideo = append(p.commentVideo, int32(v+1))
			p.commentTime = append(p.commentTime, p.after(r, max(p.userTime[u-1], p.videoTime[v])))
		}
	}
	r = newRand(o.Seed, streamCommentRanks)
	p.commentLikes = byID(allocate(o.CommentLikes, C, o.Users), permutation(r, C))

	// Followers go mostly to the popular creators; following counts are known only once the
	// followers are drawn, so draw them once here just to count (the COPY draws them again,
	// identically, from the same stream).
	p.userFollowers = byID(allocate(o.Follows, U, max(o.Users-1, 0)), p.creatorByRank)
	p.userFollowing = make([]int32, U)
	p.follows(func(follower, _ int32, _ int64) { p.userFollowing[follower-1]++; p.followsGenerated++ }, nil)
	return p
}

// after returns a moment between t and now, in milliseconds.
func (p *plan) after(r *rand.Rand, t int64) int64 {
	if t >= p.nowMs {
		return t
	}
	return t + r.Int64N(p.nowMs-t+1)
}

// follows draws every follow, grouped by the user followed. stop, when not nil, ends it early.
func (p *plan) follows(emit func(follower, following int32, at int64), stop func() bool) {
	r := newRand(p.o.Seed, streamFollows)
	pick := newPicker(int(p.o.Users))
	for u, n := range p.userFollowers {
		if stop != nil && stop() {
			return
		}
		following := int32(u + 1)
		pick.pick(r, int(p.o.Users), int(n), following, func(follower int32) {
			emit(follower, following, p.after(r, max(p.userTime[u], p.userTime[follower-1])))
		})
	}
}

// permutation returns the ids 1..n in random order.
func permutation(r *rand.Rand, n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	r.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// byID turns per-rank counts into per-id counts (index id-1).
func byID(byRank []int32, idByRank []int32) []int32 {
	out := make([]int32, len(byRank))
	for rank, n := range byRank {
		out[idByRank[rank]-1] = n
	}
	return out
}

// allocate splits total among n ranked items, rank r getting a share ~ 1/(r+1)^popularitySkew
// but never more than capEach, and returns the counts by rank. The counts add up to total
// exactly (the caller has checked total <= n*capEach): whatever the cap cuts off the top is
// spread again over the items still below it.
func allocate(total int64, n int, capEach int64) []int32 {
	counts := make([]int32, n)
	if total <= 0 || n == 0 {
		return counts
	}
	weights := make([]float64, n)
	for r := range weights {
		weights[r] = math.Pow(float64(r+1), -popularitySkew)
	}
	remaining := total
	for remaining > 0 {
		var sum float64
		for r, w := range weights {
			if int64(counts[r]) < capEach {
				sum += w
			}
		}
		toShare := float64(remaining)
		var added int64
		for r, w := range weights {
			room := capEach - int64(counts[r])
			if room <= 0 {
				continue
			}
			add := min(int64(toShare*w/sum), room, remaining)
			counts[r] += int32(add)
			remaining -= add
			added += add
		}
		// Rounding down left less than one per open item: hand it out from the top.
		if added == 0 {
			for r := 0; r < n && remaining > 0; r++ {
				if int64(counts[r]) < capEach {
					counts[r]++
					remaining--
				}
			}
		}
	}
	return counts
}

// picker draws distinct ids from 1..n without allocating per draw.
type picker struct {
	mark  []uint32
	stamp uint32
}

func newPicker(n int) *picker { return &picker{mark: make([]uint32, n+1)} }

// pick calls emit with k distinct ids from 1..n, never exclude (0 excludes nothing). The
// caller guarantees that k ids are available.
func (p *picker) pick(r *rand.Rand, n, k int, exclude int32, emit func(int32)) {
	if k <= 0 {
		return
	}
	p.stamp++
	if p.stamp == 0 {
		clear(p.mark)
		p.stamp = 1
	}
	available := n
	if exclude > 0 {
		p.mark[exclude] = p.stamp
		available--
	}
	if 2*k <= available {
		// Sparse: draw and skip repeats; at most half the ids are taken, so few draws repeat.
		for got := 0; got < k; {
			id := int32(1 + r.IntN(n))
			if p.mark[id] != p.stamp {
				p.mark[id] = p.stamp
				emit(id)
				got++
			}
		}
		return
	}
	// Dense: draw the ids to leave out instead, then take all the others.
	for left := 0; left < available-k; {
		id := int32(1 + r.IntN(n))
		if p.mark[id] != p.stamp {
			p.mark[id] = p.stamp
			left++
		}
	}
	for id := int32(1); id <= int32(n); id++ {
		if p.mark[id] != p.stamp {
			emit(id)
		}
	}
}
