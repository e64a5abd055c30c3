package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func tools(t *testing.T) Tools {
	t.Helper()
	tl := Lookup()
	if !tl.Available() {
		t.Fatal("ffmpeg and ffprobe are required: apt-get install ffmpeg")
	}
	return tl
}

// A playlist stored under a video's name is read as the format it was accepted as (MP4), so
// ffprobe never follows the files or URLs it names.
func TestProbeNeverReadsAPlaylistStoredAsAVideo(t *testing.T) {
	dir := t.TempDir()
	// A file of the machine a playlist could name: a real video, which ffprobe, following the
	// playlist, would read and accept.
	secret := filepath.Join(dir, "secret.ts")
	if b, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:duration=1",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts", secret).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	playlist := filepath.Join(dir, "0123456789abcdef0123456789abcdef.mp4")
	body := "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://" + secret + "\n#EXT-X-ENDLIST\n"
	if err := os.WriteFile(playlist, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tools(t).Probe(context.Background(), playlist, 0)
	if !IsRefusal(err) {
		t.Fatalf("Probe of a playlist = %v, want a refusal", err)
	}
}

func box(kind string, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, uint32(size))
	copy(b[4:], kind)
	return b
}

func TestMoovAfterMdat(t *testing.T) {
	for _, tc := range []struct {
		name  string
		boxes [][]byte
		want  bool
	}{
		{"index first", [][]byte{box("ftyp", 16), box("moov", 40), box("mdat", 100)}, false},
		{"index last", [][]byte{box("ftyp", 16), box("free", 8), box("mdat", 100), box("moov", 40)}, true},
		{"no index", [][]byte{box("ftyp", 16), box("mdat", 100)}, false},
	} {
		data := bytes.Join(tc.boxes, nil)
		got, err := MoovAfterMdat(bytes.NewReader(data), int64(len(data)))
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	bad := box("ftyp", 4) // a size smaller than a box header
	if _, err := MoovAfterMdat(bytes.NewReader(bad), 8); err == nil {
		t.Error("a box of size 4 was accepted")
	}
}

func TestCappedKeepsTheFirstBytes(t *testing.T) {
	c := &capped{max: 5}
	_, _ = c.Write([]byte("abc"))
	_, _ = c.Write([]byte("defgh"))
	if c.buf.String() != "abcde" || !c.over {
		t.Fatalf("capped = %q over=%v", c.buf.String(), c.over)
	}
}
