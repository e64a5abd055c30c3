package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"

	"tiktok/storage"
)

// sampleMedia gives the sample data its media URLs: other sites' by default, or, with
// -local-files, small files it writes to UPLOAD_DIR under random names, referenced as
// "/uploads/<name>" the way uploads to a server on the local disk are. Those make a database
// to try `go run . storage migrate` on. Their names come from a generator of their own, so
// the rest of the data is the same with and without the flag.
type sampleMedia struct {
	dir     string // "" for URLs of other sites
	names   *rand.Rand
	written []string
}

func newSampleMedia(opts options) (*sampleMedia, error) {
	m := &sampleMedia{names: rand.New(rand.NewPCG(opts.Seed, 0xf11e5))}
	if opts.LocalFiles {
		if err := os.MkdirAll(opts.UploadDir, 0o755); err != nil {
			return nil, fmt.Errorf("UPLOAD_DIR %s: %w", opts.UploadDir, err)
		}
		m.dir = opts.UploadDir
	}
	return m, nil
}

// avatar is user n's avatar: a small PNG of its own colour.
func (m *sampleMedia) avatar(n int, email string) (string, error) {
	if m.dir == "" {
		return "https://i.pravatar.cc/150?u=" + email, nil
	}
	var b bytes.Buffer
	if err := png.Encode(&b, square(n)); err != nil {
		return "", err
	}
	return m.write("png", b.Bytes())
}

// video is video j of user n: the first bytes of an MP4 (enough for a type check, not to play).
func (m *sampleMedia) video(n, j int) (string, error) {
	if m.dir == "" {
		return fmt.Sprintf("https://example.com/videos/user%d_video%d.mp4", n, j), nil
	}
	data := append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), fmt.Sprintf("\x00\x00\x00\x20mdatuser %d video %d.....", n, j)...)
	return m.write("mp4", data)
}

// thumbnail is the cover of video j of user n: a small JPEG.
func (m *sampleMedia) thumbnail(n, j int) (string, error) {
	if m.dir == "" {
		return fmt.Sprintf("https://example.com/thumbnails/user%d_video%d.jpg", n, j), nil
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, square(n*7+j), nil); err != nil {
		return "", err
	}
	return m.write("jpg", b.Bytes())
}

func (m *sampleMedia) write(ext string, data []byte) (string, error) {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(m.names.Uint32())
	}
	name := hex.EncodeToString(b) + "." + ext
	path := filepath.Join(m.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	m.written = append(m.written, path)
	return storage.URLPrefix + name, nil
}

// removeWritten deletes the files written, when the transaction that referenced them failed.
func (m *sampleMedia) removeWritten() {
	for _, p := range m.written {
		_ = os.Remove(p)
	}
	m.written = nil
}

// square is a 16x16 image of one colour picked by n.
func square(n int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	c := color.RGBA{R: uint8(n * 53), G: uint8(n * 97), B: uint8(n * 151), A: 255}
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, c)
		}
	}
	return img
}
