// Package jobs is the durable job queue of the media pipeline (API.md, "Media processing"):
// riverqueue/river on the application's own PostgreSQL. A job is enqueued in the transaction
// that inserts its video, so a video is never without its job nor a job without its video;
// it survives restarts, is retried with backoff, and a job whose worker died is taken up by
// another worker once it has run for longer than any job may (MEDIA_JOB_TIMEOUT).
//
// The queue uses River's database/sql driver over the pool GORM already holds (GORM's
// transactions are *sql.Tx): no second pool, and no LISTEN connection (workers poll every
// half second, which is nothing next to a transcode).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"tiktok/media"
	"tiktok/models"
	"tiktok/storage"
	"tiktok/store"
)

// QueueMedia is the queue of media jobs.
const QueueMedia = "media"

// maxAttempts is how many times a media job runs before its video is failed.
const maxAttempts = 4

// ProcessVideo is the job of one uploaded video: probe it, make its cover, move its MP4 index
// first, or transcode it, and set it ready (or failed).
type ProcessVideo struct {
	VideoID int32 `json:"video_id"`
}

// Kind implements river.JobArgs.
func (ProcessVideo) Kind() string { return "process_video" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ProcessVideo) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMedia, MaxAttempts: maxAttempts}
}

// Processor does the work of a ProcessVideo job.
type Processor struct {
	Tools   media.Tools
	Store   *store.Store
	Uploads storage.Store
	// MaxSeconds caps a video's duration (MAX_VIDEO_SECONDS).
	MaxSeconds float64
	// MaxOutputBytes caps a stored output (the rendition of a video may be larger than the
	// original, which MAX_VIDEO_MB capped).
	MaxOutputBytes int64
	// TempDir holds the jobs' working folders (os.TempDir()/tiktok-media when empty).
	TempDir string
	Log     *slog.Logger
}

// sourceTTL is how long the signed URL ffmpeg reads an object through stays valid.
const sourceTTL = time.Hour

// RemoveStale removes the working folders of jobs older than age: a worker killed mid-job
// leaves its folder behind (never a file in the store).
func (p *Processor) RemoveStale(age time.Duration) { media.RemoveStale(p.tempDir(), age) }

func (p *Processor) tempDir() string {
	if p.TempDir != "" {
		return p.TempDir
	}
	return path.Join(os.TempDir(), "tiktok-media")
}

// Process runs the job of video id. A video deleted meanwhile (or whose file changed) ends the
// job with nothing stored; a file that is not a playable video is a *media.Refusal.
func (p *Processor) Process(ctx context.Context, id int32) error {
	m := p.Store.Media()
	target, err := m.Target(ctx, id)
	if errors.Is(err, store.ErrVideoGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if target.VideoStoragePath == nil || target.Status == "failed" {
		return nil
	}
	name := *target.VideoStoragePath
	src, err := storage.Source(ctx, p.Uploads, name, sourceTTL)
	if err != nil {
		return err
	}
	info, err := p.Tools.Probe(ctx, src, p.MaxSeconds)
	if err != nil {
		return err
	}
	ext := path.Ext(name)[1:]
	transcode := !info.WebPlayable(ext)
	faststart := false
	if !transcode && ext == "mp4" {
		if faststart, err = NeedsFaststart(ctx, p.Uploads, name); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(p.tempDir(), 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(p.tempDir(), "job-"+strconv.Itoa(int(id))+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	outcome := store.Outcome{Duration: info.Duration, Width: info.Width, Height: info.Height}
	var stored []string
	keep := false
	defer func() {
		if !keep {
			p.discard(ctx, stored)
		}
	}()
	save := func(file string, folder storage.Folder) (storage.Object, error) {
		f, err := os.Open(file)
		if err != nil {
			return storage.Object{}, err
		}
		defer f.Close()
		obj, err := p.Uploads.Save(ctx, f, folder, p.MaxOutputBytes)
		if err != nil {
			return obj, err
		}
		stored = append(stored, obj.Name)
		// Noted before anything points at it: a worker killed before the commit leaves a
		// file the sweep deletes, never one kept forever.
		return obj, m.NotePending(ctx, obj.Name)
	}
	if target.ThumbnailURL == nil {
		cover := path.Join(dir, "cover.jpg")
		if err := p.Tools.Cover(ctx, src, info.Duration, cover); err != nil {
			return err
		}
		obj, err := save(cover, storage.ThumbnailsFolder)
		if err != nil {
			return err
		}
		outcome.Cover = &models.Video{ThumbnailURL: &obj.URL, ThumbnailStoragePath: &obj.Name}
	}
	if transcode || faststart {
		// ffmpeg writes into the job's own folder; only a finished file is stored (a store's
		// Save is atomic), so a worker killed mid-run never leaves a half-written file.
		out := path.Join(dir, "video.mp4")
		if transcode {
			err = p.Tools.Transcode(ctx, src, info.Width, info.Height, out)
		} else {
			err = p.Tools.Faststart(ctx, src, out)
		}
		if err != nil {
			return err
		}
		if transcode {
			// The rendition's own size, for the row.
			if ri, err := p.Tools.Probe(ctx, out, 0); err == nil {
				outcome.Width, outcome.Height = ri.Width, ri.Height
			}
		}
		obj, err := save(out, storage.VideosFolder)
		if err != nil {
			return err
		}
		outcome.Video = &models.Video{VideoURL: obj.URL, VideoStoragePath: &obj.Name}
	}
	err = m.Finish(ctx, id, name, outcome)
	if errors.Is(err, store.ErrVideoGone) {
		return nil // the deferred discard removes what was stored
	}
	if err != nil {
		return err
	}
	keep = true
	return nil
}

// discard deletes outputs no row took; one whose delete fails keeps its pending note, and the
// sweep deletes it later.
func (p *Processor) discard(ctx context.Context, names []string) {
	ctx = context.WithoutCancel(ctx)
	var gone []string
	for _, n := range names {
		if err := p.Uploads.Delete(ctx, n); err != nil {
			p.log().WarnContext(ctx, "cannot delete a media job's output; the sweep will", "file", n, "error", err)
			continue
		}
		gone = append(gone, n)
	}
	if err := p.Store.Media().Forget(ctx, gone...); err != nil {
		p.log().WarnContext(ctx, "cannot forget deleted outputs", "error", err)
	}
}

func (p *Processor) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// NeedsFaststart reports whether the stored MP4 called name has its index after its media
// data. Only box headers are read: from the disk, or by range requests on a signed URL.
func NeedsFaststart(ctx context.Context, uploads storage.Store, name string) (bool, error) {
	src, err := storage.Source(ctx, uploads, name, 5*time.Minute)
	if err != nil {
		return false, err
	}
	var r io.ReaderAt
	var size int64
	if _, local := uploads.(*storage.Local); local {
		f, err := os.Open(src)
		if err != nil {
			return false, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return false, err
		}
		r, size = f, st.Size()
	} else {
		st, err := uploads.Stat(ctx, name)
		if err != nil {
			return false, err
		}
		r, size = rangeReader{ctx: ctx, url: src}, st.Size
	}
	return media.MoovAfterMdat(r, size)
}

// rangeReader reads an object by HTTP range requests.
type rangeReader struct {
	ctx context.Context
	url string
}

func (r rangeReader) ReadAt(p []byte, off int64) (int, error) {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusPartialContent {
		return 0, fmt.Errorf("range read: %s", res.Status)
	}
	return io.ReadFull(res.Body, p)
}

// worker adapts Processor to River.
type worker struct {
	river.WorkerDefaults[ProcessVideo]
	p       *Processor
	timeout time.Duration
}

func (w *worker) Timeout(*river.Job[ProcessVideo]) time.Duration { return w.timeout }

// Work runs the job. A file that is not a playable video fails its video at once (retrying
// would not help); any other error is retried with River's backoff, and the last attempt's
// error fails the video with a reason its owner can read.
func (w *worker) Work(ctx context.Context, job *river.Job[ProcessVideo]) error {
	err := w.p.Process(ctx, job.Args.VideoID)
	if err == nil {
		return nil
	}
	m := w.p.Store.Media()
	var refusal *media.Refusal
	if errors.As(err, &refusal) {
		if ferr := m.Fail(context.WithoutCancel(ctx), job.Args.VideoID, refusal.Reason); ferr != nil {
			return ferr
		}
		return nil
	}
	if job.Attempt >= job.MaxAttempts {
		reason := "The video could not be processed; please upload it again"
		if ferr := m.Fail(context.WithoutCancel(ctx), job.Args.VideoID, reason); ferr != nil {
			w.p.log().ErrorContext(ctx, "cannot fail a video", "video", job.Args.VideoID, "error", ferr)
		}
	}
	w.p.log().WarnContext(ctx, "media job failed", "video", job.Args.VideoID, "attempt", job.Attempt, "error", err)
	return err
}

// Queue enqueues media jobs and, with workers, runs them.
type Queue struct {
	client *river.Client[*sql.Tx]
	works  bool
	queue  string
}

// Options configure a Queue.
type Options struct {
	// Workers is how many jobs this process runs at once; 0 makes an insert-only queue.
	Workers int
	// JobTimeout bounds one job; a job running longer than this and a minute is taken to be
	// orphaned (its worker died) and is retried by another worker.
	JobTimeout time.Duration
	// RescueAfter overrides JobTimeout + a minute (tests).
	RescueAfter time.Duration
	// ID names this worker in river's tables (River picks one when empty).
	ID string
	// Queue is the queue's name (QueueMedia when empty; tests use their own).
	Queue string
	Log   *slog.Logger
}

// New builds the queue on db (GORM's pool) for p's jobs.
func New(db *sql.DB, p *Processor, o Options) (*Queue, error) {
	if o.JobTimeout <= 0 {
		o.JobTimeout = 10 * time.Minute
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{p: p, timeout: o.JobTimeout})
	cfg := &river.Config{Workers: workers, Logger: o.Log, ID: o.ID, JobTimeout: o.JobTimeout,
		RescueStuckJobsAfter: o.JobTimeout + time.Minute, FetchPollInterval: 500 * time.Millisecond,
		FetchCooldown: 100 * time.Millisecond, PollOnly: true}
	if o.RescueAfter > 0 {
		cfg.RescueStuckJobsAfter = o.RescueAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Queue == "" {
		o.Queue = QueueMedia
	}
	if o.Workers > 0 {
		cfg.Queues = map[string]river.QueueConfig{o.Queue: {MaxWorkers: o.Workers}}
	}
	client, err := river.NewClient(riverdatabasesql.New(db), cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return &Queue{client: client, works: o.Workers > 0, queue: o.Queue}, nil
}

// EnqueueTx enqueues the job of video id in tx, the transaction that writes the video.
func (q *Queue) EnqueueTx(ctx context.Context, tx *sql.Tx, id int32) error {
	_, err := q.client.InsertTx(ctx, tx, ProcessVideo{VideoID: id}, &river.InsertOpts{Queue: q.queue})
	return err
}

// Start runs the workers until Stop (nothing for an insert-only queue). Cancelling ctx does
// not stop them: River would cancel the jobs running at once, where Stop lets them finish
// first.
func (q *Queue) Start(ctx context.Context) error {
	if !q.works {
		return nil
	}
	return q.client.Start(context.WithoutCancel(ctx))
}

// Stop lets the jobs running finish until ctx ends, then cancels them (their ffmpeg is
// killed; they are retried with backoff, by this or another worker).
func (q *Queue) Stop(ctx context.Context) error {
	if !q.works {
		return nil
	}
	if err := q.client.Stop(ctx); err == nil {
		return nil
	}
	cancelCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return q.client.StopAndCancel(cancelCtx)
}
