// Package tobucket moves the uploads kept on this server's disk into the bucket: the command
// `go run . storage migrate [-dry-run]`, the twin of the course practical's migrate-to-bucket
// script. Every row whose video, thumbnail or avatar is a file of UPLOAD_DIR
// ("/uploads/<name>", or PUBLIC_BASE_URL + "/uploads/<name>") gets its file copied to the
// bucket of the S3_* settings under videos/, thumbnails/ or avatars/ + the same name, and then
// its URL pointed at the bucket and its storage path set.
//
// The order makes it safe to stop at any moment and run again: a row is rewritten only after
// its object is in the bucket, an object already there with the file's size is not copied
// again, and rows already rewritten no longer hold a local URL, so a second run finds nothing
// to do. A row is rewritten only if it still holds the URL read (a concurrent edit wins). The
// local files are left in place: delete UPLOAD_DIR once the server runs on the bucket.
package tobucket

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"gorm.io/gorm"

	"tiktok/config"
	"tiktok/storage"
	"tiktok/store"
)

// Options are what a migration works on.
type Options struct {
	Store  *store.Store
	Local  *storage.Local // the files, under UPLOAD_DIR
	Bucket *storage.S3    // where they go
	// PublicBaseURL is PUBLIC_BASE_URL: a row may hold it before "/uploads/<name>".
	PublicBaseURL string
	// DryRun reports what would be done and writes nothing: no object, no row.
	DryRun bool
	// Out gets a line for each file missing and the progress lines.
	Out io.Writer
	// ProgressEvery is the number of rows between two progress lines (100 when 0); one more
	// line comes at the end.
	ProgressEvery int
	// BatchSize is the number of rows read at once (500 when 0).
	BatchSize int
}

// Result counts what a migration did (in a dry run: would do).
type Result struct {
	Rows      int // rows holding a URL of the local disk
	Copied    int // files copied into the bucket
	InBucket  int // files already in the bucket with the same size: not copied again
	Missing   int // files not found in UPLOAD_DIR: their rows are left as they are
	Rewritten int // rows pointed at the bucket
	Changed   int // rows edited while the migration ran: left as the edit made them
}

// Line is the progress line of r.
func (r Result) Line(dryRun bool) string {
	verb, rewritten := "copied", "rewritten"
	if dryRun {
		verb, rewritten = "to copy", "to rewrite"
	}
	line := fmt.Sprintf("%d rows: %d %s, %d skipped (already in the bucket), %d missing; %d rows %s",
		r.Rows, r.Copied, verb, r.InBucket, r.Missing, r.Rewritten, rewritten)
	if r.Changed > 0 {
		line += fmt.Sprintf(", %d changed meanwhile (left as they are)", r.Changed)
	}
	if dryRun {
		line += " (dry run: nothing written)"
	}
	return line
}

// Run migrates every row of every media column. It stops at the first error that is not a
// missing file (the bucket or the database down): what was done stays done, and running it
// again continues.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 100
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	var r Result
	media := o.Store.LocalMedia()
	for _, col := range store.MediaColumns {
		after := int32(0)
		for {
			refs, err := media.Page(ctx, col, o.PublicBaseURL, after, o.BatchSize)
			if err != nil {
				return r, fmt.Errorf("read %s: %w", col.Name, err)
			}
			for _, ref := range refs {
				if err := migrate(ctx, o, col, ref, &r); err != nil {
					return r, fmt.Errorf("%s of row %d (%s): %w", col.Name, ref.ID, ref.URL, err)
				}
				after = ref.ID
				if r.Rows%o.ProgressEvery == 0 {
					fmt.Fprintf(o.Out, "storage migrate: %s\n", r.Line(o.DryRun))
				}
			}
			if len(refs) < o.BatchSize {
				break
			}
		}
	}
	return r, nil
}

// migrate copies the file of one row, unless the bucket has it, and rewrites the row.
func migrate(ctx context.Context, o Options, col store.MediaColumn, ref store.MediaRef, r *Result) error {
	r.Rows++
	name := strings.TrimPrefix(strings.TrimPrefix(ref.URL, o.PublicBaseURL), storage.URLPrefix)
	file, err := o.Local.OpenStored(name)
	if errors.Is(err, fs.ErrNotExist) {
		r.Missing++
		fmt.Fprintf(o.Out, "storage migrate: missing: %s of row %d is %s, which is not a file in UPLOAD_DIR (%s); the row is left as it is\n",
			col.Name, ref.ID, ref.URL, o.Local.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	// A flat name (a multipart upload) goes under the column's folder; a direct upload's key
	// (videos/<user>/<name>) has its folder already and keeps it, so the bucket's key is the
	// one the row's storage path names.
	key := name
	if !strings.Contains(name, "/") {
		key = string(col.Folder) + "/" + name
	}
	size, found, err := o.Bucket.ObjectSize(ctx, key)
	if err != nil {
		return fmt.Errorf("look for %s in the bucket: %w", key, err)
	}
	if found && size == info.Size() {
		r.InBucket++
	} else {
		if !o.DryRun {
			if err := o.Bucket.PutFile(ctx, key, file, info.Size(), storage.ContentTypeOfName(name)); err != nil {
				return fmt.Errorf("copy to %s: %w", key, err)
			}
		}
		r.Copied++
	}
	if o.DryRun {
		r.Rewritten++
		return nil
	}
	rewritten, err := o.Store.LocalMedia().Rewrite(ctx, col, ref, o.Bucket.URL(key), key)
	if err != nil {
		return err
	}
	if rewritten {
		r.Rewritten++
	} else {
		r.Changed++
	}
	return nil
}

// Usage is the command's synopsis.
const Usage = "usage: tiktok storage migrate [-dry-run]"

// Command runs `storage migrate` with the server's settings: args are what follows
// "storage". It returns the exit code: 0 done, 1 failed (run it again to continue), 2 bad
// usage or settings.
func Command(ctx context.Context, cfg config.Config, db *gorm.DB, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "migrate" {
		fmt.Fprintln(stderr, Usage)
		return 2
	}
	flags := flag.NewFlagSet("storage migrate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dryRun := flags.Bool("dry-run", false, "report what would be copied and rewritten, and write nothing")
	every := flags.Int("progress-every", 100, "rows between two progress lines")
	if err := flags.Parse(args[1:]); err != nil || flags.NArg() > 0 {
		if err == nil {
			fmt.Fprintf(stderr, "storage migrate: unexpected %q\n%s\n", flags.Args(), Usage)
		}
		return 2
	}
	if cfg.Storage != config.StorageS3 {
		fmt.Fprintln(stderr, "storage migrate copies the files of UPLOAD_DIR into the bucket of the S3_* settings, and none is set: "+
			"set STORAGE=s3 with S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY and S3_PUBLIC_BASE_URL "+
			"(S3_REGION and S3_PATH_STYLE if needed; see .env.example), the settings the server will then run with")
		return 2
	}
	local, err := storage.NewLocal(cfg.UploadDir)
	if err != nil {
		fmt.Fprintf(stderr, "storage migrate: %v\n", err)
		return 1
	}
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bucket, err := storage.NewS3(openCtx, storage.S3Options{
		Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket,
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		PublicBaseURL: cfg.S3PublicBaseURL, PathStyle: cfg.S3PathStyle,
		// As the server does outside production; a dry run creates nothing.
		CreateBucket: !cfg.Production() && !*dryRun,
	})
	if err != nil {
		fmt.Fprintf(stderr, "storage migrate: %v\n", err)
		return 1
	}
	start := time.Now()
	res, err := Run(ctx, Options{Store: store.New(db), Local: local, Bucket: bucket, PublicBaseURL: cfg.PublicBaseURL,
		DryRun: *dryRun, Out: stdout, ProgressEvery: *every})
	if err != nil {
		fmt.Fprintf(stderr, "storage migrate: stopped after %s: %v\nwhat was done stays done: run it again to continue\n", res.Line(*dryRun), err)
		return 1
	}
	fmt.Fprintf(stdout, "storage migrate: done in %s: %s\n", time.Since(start).Round(time.Millisecond), res.Line(*dryRun))
	return 0
}
