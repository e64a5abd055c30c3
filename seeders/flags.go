package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"tiktok/config"
)

// defaultSeed makes the default run reproducible: every student gets the same world.
const defaultSeed = 42

// Per-user ratios of the scale mode's sizes that are not given: with -users 100000 they are
// the benchmark target (1M videos, 10M video likes, 2M comments, 1M follows).
const (
	defaultScaleUsers   = 100_000
	videosPerUser       = 10
	likesPerUser        = 100
	commentsPerUser     = 20
	commentLikesPerUser = 10
	followsPerUser      = 10
)

// options is a parsed, checked command line.
type options struct {
	Seed  uint64
	Force bool
	Scale bool
	// LocalFiles makes the sample's media small files in UPLOAD_DIR, as uploads to a server on
	// the local disk leave them (for trying `go run . storage migrate`), instead of URLs of
	// other sites.
	LocalFiles bool

	// Scale mode sizes.
	Users, Videos, Comments, Likes, CommentLikes, Follows int64

	// From the environment, not from flags.
	BcryptCost int
	UploadDir  string
	Now        time.Time
}

// usageError is a refused command line or environment: exit code 2, and nothing was written.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errHelp is returned when -h was asked for and the usage has been printed.
var errHelp = flag.ErrHelp

// parseFlags reads and checks the command line. Every check that can be made without the
// database is made here, so that a bad command stops before anything is written.
func parseFlags(args []string, usageOut io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("seeders", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.Uint64Var(&o.Seed, "seed", defaultSeed, "random seed; the same seed gives the same data")
	fs.BoolVar(&o.Force, "force", false, "allow wiping the tables when APP_ENV=production")
	fs.BoolVar(&o.Scale, "scale", false, "scale mode with the default sizes (implied by any size flag)")
	fs.BoolVar(&o.LocalFiles, "local-files", false, "sample mode: avatars, videos and thumbnails are small files written to UPLOAD_DIR (/uploads/<name>), as local uploads are")
	fs.Int64Var(&o.Users, "users", 0, fmt.Sprintf("scale mode: users (default %d)", defaultScaleUsers))
	fs.Int64Var(&o.Videos, "videos", 0, fmt.Sprintf("scale mode: videos (default %d x users)", videosPerUser))
	fs.Int64Var(&o.Comments, "comments", 0, fmt.Sprintf("scale mode: comments (default %d x users)", commentsPerUser))
	fs.Int64Var(&o.Likes, "likes", 0, fmt.Sprintf("scale mode: video likes (default %d x users)", likesPerUser))
	fs.Int64Var(&o.CommentLikes, "comment-likes", 0, fmt.Sprintf("scale mode: comment likes (default %d x users)", commentLikesPerUser))
	fs.Int64Var(&o.Follows, "follows", 0, fmt.Sprintf("scale mode: follows (default %d x users)", followsPerUser))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./seeders [flags]\n\n"+
			"Without size flags: the course's sample data (10 users, 50 videos, 200 comments, likes, follows).\n"+
			"With -scale or any size flag: bulk data for benchmarks, loaded with COPY.\n"+
			"Both wipe the application's tables first.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = io.Copy(usageOut, &out)
			return o, errHelp
		}
		return o, usagef("%s (see -h)", strings.TrimSpace(firstLine(out.String())))
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q (flags start with -; see -h)", fs.Arg(0))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	sizes := []struct {
		name  string
		v     *int64
		ratio int64
	}{
		{"users", &o.Users, 0},
		{"videos", &o.Videos, videosPerUser},
		{"comments", &o.Comments, commentsPerUser},
		{"likes", &o.Likes, likesPerUser},
		{"comment-likes", &o.CommentLikes, commentLikesPerUser},
		{"follows", &o.Follows, followsPerUser},
	}
	for _, s := range sizes {
		if set[s.name] {
			o.Scale = true
		}
	}
	if !o.Scale {
		return o, nil
	}
	if o.LocalFiles {
		return o, usagef("-local-files is for the sample data, not the scale mode")
	}
	if !set["users"] {
		o.Users = defaultScaleUsers
	}
	// A negative -users is reported as such, not also as negative derived sizes.
	if o.Users > 0 {
		for _, s := range sizes {
			if !set[s.name] && s.ratio > 0 {
				*s.v = o.Users * s.ratio
			}
		}
		// Derived pair counts never ask for more pairs than exist (a handful of users cannot
		// make ten follows each); given ones are checked, not bent.
		if !set["likes"] {
			o.Likes = min(o.Likes, o.Users*o.Videos)
		}
		if !set["comment-likes"] {
			o.CommentLikes = min(o.CommentLikes, o.Users*o.Comments)
		}
		if !set["follows"] {
			o.Follows = min(o.Follows, o.Users*(o.Users-1))
		}
	}
	return o, o.checkSizes()
}

// checkSizes refuses sizes that cannot be made: negative ones, more than an int4 column or
// counter holds, and more distinct pairs than exist.
func (o options) checkSizes() error {
	var errs []string
	for _, s := range []struct {
		name string
		v    int64
	}{{"users", o.Users}, {"videos", o.Videos}, {"comments", o.Comments}, {"likes", o.Likes},
		{"comment-likes", o.CommentLikes}, {"follows", o.Follows}} {
		switch {
		case s.v < 0:
			errs = append(errs, fmt.Sprintf("-%s is %d: sizes cannot be negative", s.name, s.v))
		case s.v > math.MaxInt32:
			// Ids and counters are int4; a user's like_count sums the likes on all their videos.
			errs = append(errs, fmt.Sprintf("-%s is %d: at most %d (ids and counters are 32-bit)", s.name, s.v, math.MaxInt32))
		}
	}
	if len(errs) > 0 {
		return usagef("%s", strings.Join(errs, "; "))
	}
	// Sizes fit in int32 here, so the products below cannot overflow int64.
	if o.Videos > 0 && o.Users == 0 {
		errs = append(errs, fmt.Sprintf("-videos %d needs at least one user to own them", o.Videos))
	}
	if o.Comments > 0 && (o.Users == 0 || o.Videos == 0) {
		errs = append(errs, fmt.Sprintf("-comments %d needs at least one user and one video", o.Comments))
	}
	if max := o.Users * o.Videos; o.Likes > max {
		errs = append(errs, fmt.Sprintf("-likes %d is more than the %d distinct (user, video) pairs of %d users x %d videos", o.Likes, max, o.Users, o.Videos))
	}
	if max := o.Users * o.Comments; o.CommentLikes > max {
		errs = append(errs, fmt.Sprintf("-comment-likes %d is more than the %d distinct (user, comment) pairs of %d users x %d comments", o.CommentLikes, max, o.Users, o.Comments))
	}
	if max := o.Users * (o.Users - 1); o.Follows > max {
		errs = append(errs, fmt.Sprintf("-follows %d is more than the %d possible follows among %d users (nobody follows themselves)", o.Follows, max, o.Users))
	}
	if len(errs) > 0 {
		return usagef("%s", strings.Join(errs, "; "))
	}
	return nil
}

// allowedIn refuses to wipe a production database unless -force was given.
func (o options) allowedIn(appEnv string) error {
	if appEnv == config.EnvProduction && !o.Force {
		return usagef("APP_ENV=production: refusing to wipe the tables; pass -force if you really mean to replace this database's data")
	}
	return nil
}

func (o options) scaleSizes() string {
	return fmt.Sprintf("%d users, %d videos, %d comments, %d video likes, %d comment likes, %d follows",
		o.Users, o.Videos, o.Comments, o.Likes, o.CommentLikes, o.Follows)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
