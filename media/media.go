// Package media runs ffprobe and ffmpeg on uploaded videos (API.md, "Media processing"): it
// probes a file (is there a video stream, how long, how big, which codecs), takes a cover from
// its first second, moves an MP4's index to the front (+faststart) and transcodes what
// browsers cannot play into H.264/AAC MP4. Every run is a child process with a deadline,
// bounded output, low priority (nice) and a bounded number of threads, so a hostile file or a
// slow transcode never holds the API's cores or memory.
package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tools are the ffmpeg programs found on the machine. The zero value (Available false) is a
// machine without them: uploads are then published unprocessed.
type Tools struct {
	FFprobe, FFmpeg string
	nice            string // the nice program, empty when missing (ffmpeg then runs at normal priority)
	// Threads bounds ffmpeg's threads per run (-threads); 0 lets ffmpeg choose.
	Threads int
	// Preset is libx264's preset for renditions ("veryfast" by default; tests use ultrafast).
	Preset string
	// ProbeTimeout bounds one ffprobe run.
	ProbeTimeout time.Duration
}

// Lookup finds ffprobe, ffmpeg and nice on PATH.
func Lookup() Tools {
	var t Tools
	t.FFprobe, _ = exec.LookPath("ffprobe")
	t.FFmpeg, _ = exec.LookPath("ffmpeg")
	t.nice, _ = exec.LookPath("nice")
	if t.FFprobe == "" || t.FFmpeg == "" {
		t.FFprobe, t.FFmpeg = "", ""
	}
	return t
}

// Available reports whether both ffprobe and ffmpeg were found.
func (t Tools) Available() bool { return t.FFprobe != "" && t.FFmpeg != "" }

// Refusal is a file that is not a playable video, with the reason in words for its uploader.
// TooLong marks a video refused for its duration alone (a 400, not a 415).
type Refusal struct {
	Reason  string
	TooLong bool
}

func (r *Refusal) Error() string { return r.Reason }

// IsRefusal reports whether err is a Refusal (the file's fault, not the machine's).
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// Info is what a probe found.
type Info struct {
	Format     string  // ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
	VideoCodec string  // e.g. "h264", "hevc", "vp9", "prores"
	AudioCodec string  // "" without an audio stream
	Duration   float64 // seconds
	Width      int32
	Height     int32
}

// WebPlayable reports whether browsers play the file as it is, given the extension it is
// stored under: H.264 (AAC or no audio) in MP4, VP8/VP9 (Opus, Vorbis or no audio) in WebM.
func (i Info) WebPlayable(ext string) bool {
	switch ext {
	case "mp4":
		return i.VideoCodec == "h264" && (i.AudioCodec == "" || i.AudioCodec == "aac")
	case "webm":
		return (i.VideoCodec == "vp8" || i.VideoCodec == "vp9") &&
			(i.AudioCodec == "" || i.AudioCodec == "opus" || i.AudioCodec == "vorbis")
	}
	return false
}

// MaxSide is the largest width or height accepted (8K): a small file claiming a huge picture
// would make every decode of it allocate gigabytes.
const MaxSide = 7680

// inputArgs are the options that pin how ffmpeg reads input, placed before its -i: the
// protocols it may use (the file itself, or the signed URL's HTTP: never a file or URL named
// inside a hostile file, as playlists and references do) and the demuxer of the stored
// extension, so a file is never read as another format than the one it was accepted as.
func inputArgs(input string) []string {
	protocols := "file"
	if strings.HasPrefix(input, "http://") || strings.HasPrefix(input, "https://") {
		protocols = "http,https,tcp,tls"
	}
	name := input
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	format := "mov" // mp4, mov
	if strings.HasSuffix(name, ".webm") {
		format = "matroska"
	}
	return []string{"-protocol_whitelist", protocols, "-f", format}
}

// maxProbeOutput caps what is read of ffprobe's JSON: a file with thousands of streams
// must not make the server buffer megabytes.
const maxProbeOutput = 256 << 10

type probeOutput struct {
	Streams []struct {
		CodecType   string `json:"codec_type"`
		CodecName   string `json:"codec_name"`
		Width       int32  `json:"width"`
		Height      int32  `json:"height"`
		Duration    string `json:"duration"`
		Disposition struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// Probe runs ffprobe on input (a path or a signed URL) and checks that it is a video of at
// most maxSeconds (0: no limit). A file that is not one is a *Refusal.
func (t Tools) Probe(ctx context.Context, input string, maxSeconds float64) (Info, error) {
	timeout := t.ProbeTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// At normal priority, unlike ffmpeg: a probe is short and an upload request waits for it.
	out, errText, err := t.run(ctx, false, t.FFprobe, maxProbeOutput, "-v", "error", "-hide_banner",
		"-print_format", "json", "-show_entries",
		"stream=codec_type,codec_name,width,height,duration:stream_disposition=attached_pic:format=format_name,duration",
		"-protocol_whitelist", inputArgs(input)[1], "-f", inputArgs(input)[3], "-i", input)
	if ctx.Err() != nil {
		return Info{}, fmt.Errorf("ffprobe: %w", ctx.Err())
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return Info{}, &Refusal{Reason: "The video file cannot be read (" + firstLine(errText) + ")"}
		}
		return Info{}, fmt.Errorf("ffprobe: %w", err)
	}
	var p probeOutput
	if err := json.Unmarshal(out, &p); err != nil {
		return Info{}, &Refusal{Reason: "The video file cannot be read"}
	}
	info := Info{Format: p.Format.FormatName}
	for _, s := range p.Streams {
		switch {
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && info.VideoCodec == "":
			info.VideoCodec, info.Width, info.Height = s.CodecName, s.Width, s.Height
			if d, err := strconv.ParseFloat(s.Duration, 64); err == nil {
				info.Duration = d
			}
		case s.CodecType == "audio" && info.AudioCodec == "":
			info.AudioCodec = s.CodecName
		}
	}
	if d, err := strconv.ParseFloat(p.Format.Duration, 64); err == nil && d > info.Duration {
		info.Duration = d
	}
	switch {
	case info.VideoCodec == "":
		return info, &Refusal{Reason: "The file has no video stream"}
	case info.Width <= 0 || info.Height <= 0:
		return info, &Refusal{Reason: "The video stream has no picture size"}
	case info.Width > MaxSide || info.Height > MaxSide:
		return info, &Refusal{Reason: fmt.Sprintf("The video is %dx%d; at most %d pixels a side are accepted", info.Width, info.Height, MaxSide)}
	case math.IsNaN(info.Duration) || info.Duration <= 0:
		return info, &Refusal{Reason: "The video's duration cannot be read"}
	case maxSeconds > 0 && info.Duration > maxSeconds:
		return info, &Refusal{TooLong: true,
			Reason: fmt.Sprintf("The video is %.1f seconds long; at most %g seconds are accepted", info.Duration, maxSeconds)}
	}
	return info, nil
}

// Cover writes a JPEG of the frame at the first second of input (or its first frame, for a
// clip shorter than that) to out.
func (t Tools) Cover(ctx context.Context, input string, duration float64, out string) error {
	at := "1"
	if duration < 1.5 {
		at = "0"
	}
	return t.ffmpeg(ctx, append(append([]string{"-ss", at}, inputArgs(input)...), "-i", input, "-frames:v", "1", "-vf", "scale='min(720,iw)':-2",
		"-q:v", "4", "-f", "image2", "-c:v", "mjpeg", out)...)
}

// Faststart copies input's streams into out with the MP4 index (moov) first.
func (t Tools) Faststart(ctx context.Context, input, out string) error {
	return t.ffmpeg(ctx, append(append(inputArgs(input), "-i", input), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
		"-movflags", "+faststart", "-f", "mp4", out)...)
}

// Transcode writes an H.264/AAC MP4 of input to out, at most 720 pixels on its short side,
// with the index first.
func (t Tools) Transcode(ctx context.Context, input string, width, height int32, out string) error {
	scale := "scale=-2:'min(720,ih)'" // landscape: the height is the short side
	if height > width {
		scale = "scale='min(720,iw)':-2"
	}
	preset := t.Preset
	if preset == "" {
		preset = "veryfast"
	}
	return t.ffmpeg(ctx, append(append(inputArgs(input), "-i", input), "-map", "0:v:0", "-map", "0:a:0?",
		"-vf", scale+",format=yuv420p", "-c:v", "libx264", "-preset", preset, "-crf", "23",
		"-profile:v", "high", "-c:a", "aac", "-b:a", "128k", "-ac", "2",
		"-movflags", "+faststart", "-f", "mp4", out)...)
}

// maxErrorOutput caps what is kept of a run's stderr (for the failure's reason).
const maxErrorOutput = 16 << 10

func (t Tools) ffmpeg(ctx context.Context, args ...string) error {
	base := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}
	if t.Threads > 0 {
		base = append(base, "-threads", strconv.Itoa(t.Threads))
	}
	// -threads before -i bounds the decoder; repeated at the end it bounds the encoder and
	// the filters.
	args = append(base, args...)
	if t.Threads > 0 {
		last := args[len(args)-1]
		args = append(append(args[:len(args)-1:len(args)-1], "-threads", strconv.Itoa(t.Threads),
			"-filter_threads", strconv.Itoa(t.Threads)), last)
	}
	_, errText, err := t.run(ctx, true, t.FFmpeg, 0, args...)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ffmpeg: %w", ctx.Err())
		}
		return fmt.Errorf("ffmpeg: %w: %s", err, firstLine(errText))
	}
	return nil
}

// run starts program with args (at low priority when lowPriority), killed with its parent (a worker killed
// mid-job leaves no ffmpeg running) and when ctx ends, keeping at most maxOut bytes of its
// stdout (0: discard) and maxErrorOutput of its stderr.
func (t Tools) run(ctx context.Context, lowPriority bool, program string, maxOut int, args ...string) ([]byte, string, error) {
	name := program
	if lowPriority && t.nice != "" {
		name, args = t.nice, append([]string{"-n", "10", program}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	stdout := &capped{max: maxOut}
	stderr := &capped{max: maxErrorOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if err == nil && stdout.over {
		err = errors.New("output too large")
	}
	return stdout.buf.Bytes(), stderr.buf.String(), err
}

// capped keeps the first max bytes written to it and drops the rest (the program must not
// block on a full pipe).
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room < len(p) {
		c.over = true
	}
	if room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		return "not a video ffprobe can read"
	}
	return s
}

// MoovAfterMdat reports whether an MP4's index (the moov box) comes after its media data
// (mdat), which keeps playback from starting before the whole file is downloaded. r reads
// the file, size long; only the box headers are read.
func MoovAfterMdat(r io.ReaderAt, size int64) (bool, error) {
	var head [16]byte
	seenMdat := false
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(head[:8], off); err != nil {
			return false, err
		}
		boxSize := int64(uint32(head[0])<<24 | uint32(head[1])<<16 | uint32(head[2])<<8 | uint32(head[3]))
		kind := string(head[4:8])
		switch boxSize {
		case 0: // to the end of the file
			boxSize = size - off
		case 1: // a 64-bit size follows
			if _, err := r.ReadAt(head[8:16], off+8); err != nil {
				return false, err
			}
			boxSize = 0
			for _, b := range head[8:16] {
				boxSize = boxSize<<8 | int64(b)
			}
		}
		switch kind {
		case "moov":
			return seenMdat, nil
		case "mdat":
			seenMdat = true
		}
		if boxSize < 8 {
			return false, errors.New("mp4: bad box size")
		}
		off += boxSize
	}
	return false, nil
}

// RemoveStale removes what runs killed mid-job left in dir: entries older than age.
func RemoveStale(dir string, age time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			_ = os.RemoveAll(dir + string(os.PathSeparator) + e.Name())
		}
	}
}
