package controllers_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"tiktok/config"
	"tiktok/internal/apitest"
)

// box is an ISO base media (MP4) box: 32-bit size, 4-letter type, payload.
func box(kind string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(out, uint32(8+len(body)))
	copy(out[4:], kind)
	return append(out, body...)
}

// smallMP4 builds a real, minimal MP4 file: an ftyp box (brand isom), a moov box with a
// movie header (1 s at 1000 units per second) and an mdat box holding the media bytes.
func smallMP4(mediaBytes int) []byte {
	ftyp := box("ftyp", []byte("isom"), []byte{0, 0, 2, 0}, []byte("isomiso2mp41"))
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:], 1000)    // timescale
	binary.BigEndian.PutUint32(mvhd[16:], 1000)    // duration
	binary.BigEndian.PutUint32(mvhd[20:], 0x10000) // rate 1.0
	binary.BigEndian.PutUint16(mvhd[24:], 0x100)   // volume 1.0
	for i, v := range []uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000} {
		binary.BigEndian.PutUint32(mvhd[36+4*i:], v) // unity matrix
	}
	binary.BigEndian.PutUint32(mvhd[96:], 2) // next track id
	media := bytes.Repeat([]byte{0x42}, mediaBytes)
	return bytes.Join([][]byte{ftyp, box("moov", box("mvhd", mvhd)), box("mdat", media)}, nil)
}

// smallPNG encodes a real 4x4 PNG image.
func smallPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type formPart struct {
	field, filename, contentType string
	data                         []byte
}

// upload sends a multipart POST /api/videos.
func upload(api *apitest.API, token string, parts ...formPart) *apitest.Response {
	return serveForm(api, "POST", "/api/videos", token, parts...)
}

func storedFiles(t *testing.T, api *apitest.API) []string {
	t.Helper()
	es, err := os.ReadDir(api.Config.UploadDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestVideoUploads(t *testing.T) {
	api := apitest.New(t, db, apitest.WithConfig(func(c *config.Config) { c.MaxVideoMB = 1 }))
	alice := api.NewUser("uploader")
	mp4 := smallMP4(2000)
	thumb := smallPNG(t)
	videosBefore := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, alice.ID)

	t.Run("a real mp4 with a png thumbnail is stored and served", func(t *testing.T) {
		api.T = t
		var v videoJSON
		upload(api, alice.Token,
			formPart{field: "caption", data: []byte(" my clip ")},
			formPart{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: mp4},
			formPart{field: "thumbnail", filename: "thumb.png", contentType: "image/png", data: thumb},
			formPart{field: "audioName", data: []byte("original sound")},
		).Status(http.StatusCreated).Decode(&v)
		if !strings.HasPrefix(v.VideoURL, "http://localhost:8000/uploads/") || !strings.HasSuffix(v.VideoURL, ".mp4") ||
			v.ThumbnailURL == nil || !strings.HasSuffix(*v.ThumbnailURL, ".png") {
			t.Fatalf("urls: %+v", v)
		}
		if *v.Caption != "my clip" || *v.AudioName != "original sound" || v.UserID != alice.ID {
			t.Fatalf("fields: %+v", v)
		}
		if strings.Contains(v.VideoURL, "clip") {
			t.Fatalf("the stored name must be random, not the client's: %s", v.VideoURL)
		}

		r := api.Do("GET", v.VideoURL, nil, "").Status(http.StatusOK)
		if !bytes.Equal(r.Body, mp4) || r.Header.Get("Content-Type") != "video/mp4" {
			t.Fatalf("GET %s: %d bytes, type %q", v.VideoURL, len(r.Body), r.Header.Get("Content-Type"))
		}
		r = api.Do("GET", v.VideoURL, nil, "", "Range: bytes=4-11").Status(http.StatusPartialContent)
		if string(r.Body) != "ftypisom" || r.Header.Get("Content-Range") != "bytes 4-11/"+itoa(len(mp4)) {
			t.Fatalf("range: %q %q", r.Body, r.Header.Get("Content-Range"))
		}
		r = api.Do("GET", *v.ThumbnailURL, nil, "").Status(http.StatusOK)
		if !bytes.Equal(r.Body, thumb) || r.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("thumbnail: type %q", r.Header.Get("Content-Type"))
		}

		// Deleting the video removes both files.
		api.Do("DELETE", path("/api/videos/%d", v.ID), nil, alice.Token).Status(http.StatusOK)
		if left := storedFiles(t, api); len(left) != 0 {
			t.Fatalf("files left after the delete: %v", left)
		}
		api.Do("GET", v.VideoURL, nil, "").Status(http.StatusNotFound)
	})

	failures := []struct {
		name   string
		parts  []formPart
		status int
		code   string
	}{
		{"a text file renamed to .mp4 is 415",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: []byte("just some text, not a video at all")}},
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"an image sent as the video is 415",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: thumb}},
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"a video over MAX_VIDEO_MB is 413",
			[]formPart{{field: "video", filename: "big.mp4", contentType: "video/mp4", data: smallMP4(1 << 20)}},
			http.StatusRequestEntityTooLarge, "payload_too_large"},
		{"a thumbnail over 5 MB is 413 and the video written before it goes",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: mp4},
				{field: "thumbnail", filename: "t.png", contentType: "image/png", data: append(smallPNG(t), make([]byte, 5<<20)...)}},
			http.StatusRequestEntityTooLarge, "payload_too_large"},
		{"a bad thumbnail after the video was written leaves no file",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: mp4},
				{field: "thumbnail", filename: "t.png", contentType: "image/png", data: []byte("<svg/>")}},
			http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"a caption too long after the video was written leaves no file",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: mp4},
				{field: "caption", data: []byte(strings.Repeat("x", 2300))}},
			http.StatusBadRequest, "validation_failed"},
		{"a form without a video file is 400",
			[]formPart{{field: "caption", data: []byte("no video")}},
			http.StatusBadRequest, "validation_failed"},
		{"an empty video file is 400",
			[]formPart{{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: nil}},
			http.StatusBadRequest, "validation_failed"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			api.T = t
			upload(api, alice.Token, f.parts...).Error(f.status, f.code)
			if left := storedFiles(t, api); len(left) != 0 {
				t.Fatalf("files left behind: %v", left)
			}
		})
	}

	t.Run("a body over the route's cap is refused before reading", func(t *testing.T) {
		api.T = t
		req := httptest.NewRequest("POST", "/api/videos", io.LimitReader(zeros{}, 8<<20))
		req.ContentLength = 8 << 20
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		api.Serve(req).Error(http.StatusRequestEntityTooLarge, "payload_too_large")
	})
	t.Run("an upload needs a token", func(t *testing.T) {
		api.T = t
		upload(api, "", formPart{field: "video", filename: "clip.mp4", contentType: "video/mp4", data: mp4}).
			Error(http.StatusUnauthorized, "token_missing")
		if left := storedFiles(t, api); len(left) != 0 {
			t.Fatalf("files left behind: %v", left)
		}
	})
	if n := countOf(t, `SELECT count(*) FROM videos WHERE user_id = ?`, alice.ID); n != videosBefore {
		t.Fatalf("failed uploads left %d rows", n-videosBefore)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func itoa(n int) string { return path("%d", n) }
