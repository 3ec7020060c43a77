package tts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestCache(t *testing.T, dir string, memMB, diskMB int) *Cache {
	t.Helper()
	c, err := NewCache(dir, memMB, diskMB, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Wait) // before the directory is removed
	return c
}

func speakAll(t *testing.T, s Synthesizer, text string, rate int) []int16 {
	t.Helper()
	st, err := s.Synthesize(context.Background(), text, rate)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := ReadAll(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func TestCacheMemoryThenDisk(t *testing.T) {
	dir := t.TempDir()
	fake := &fakeSynth{}
	c := newTestCache(t, dir, 8, 64)
	s := Cached(fake, c)
	const prompt = "Thank you for calling Hotline."
	want := fakeAudio(prompt, 8000)

	if got := speakAll(t, s, prompt, 8000); !slices.Equal(got, want) {
		t.Fatal("first synthesis: wrong audio")
	}
	if got := speakAll(t, s, prompt, 8000); !slices.Equal(got, want) {
		t.Fatal("from memory: wrong audio")
	}
	if _, n := fake.counts(); n != 1 {
		t.Fatalf("provider called %d times for the same prompt, want 1", n)
	}
	if st := s.(*cached).Stats(); st.MemoryHits != 1 || st.Misses != 1 {
		t.Errorf("stats %+v, want one miss then one memory hit", st)
	}
	// Another rate, text or voice is another entry.
	speakAll(t, s, prompt, 16000)
	speakAll(t, s, "Goodbye.", 8000)
	speakAll(t, Cached(&fakeSynth{name: "fake/other"}, c), prompt, 8000)
	if _, n := fake.counts(); n != 3 {
		t.Fatalf("provider called %d times, want 3", n)
	}
	c.Wait()

	// A new process: a new cache on the same directory.
	fake2 := &fakeSynth{}
	s2 := Cached(fake2, newTestCache(t, dir, 8, 64))
	if got := speakAll(t, s2, prompt, 8000); !slices.Equal(got, want) {
		t.Fatal("from disk: wrong audio")
	}
	speakAll(t, s2, prompt, 8000)
	if _, n := fake2.counts(); n != 0 {
		t.Fatalf("provider called %d times after a restart, want 0", n)
	}
	if st := s2.(*cached).Stats(); st.DiskHits != 1 || st.MemoryHits != 1 || st.Misses != 0 {
		t.Errorf("stats %+v, want a disk hit then a memory hit", st)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	if len(files) != 4 {
		t.Errorf("%d files in the cache, want 4", len(files))
	}
	for _, f := range files {
		if name := filepath.Base(f); len(name) != 64+len(".wav") {
			t.Errorf("file %s is not named by a sha256", name)
		}
	}
}

func TestCacheCorruptEntry(t *testing.T) {
	const prompt = "Please hold for the next agent."
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"truncated", func(p string) error {
			fi, _ := os.Stat(p)
			return os.Truncate(p, fi.Size()/2)
		}},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o640) }},
		{"garbage", func(p string) error { return os.WriteFile(p, []byte(strings.Repeat("x", 500)), 0o640) }},
		{"other rate", func(p string) error {
			b, _ := os.ReadFile(p)
			b[24], b[25] = 0x80, 0x3e // 16000 Hz
			return os.WriteFile(p, b, 0o640)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := newTestCache(t, dir, 8, 64)
			speakAll(t, Cached(&fakeSynth{}, c), prompt, 8000)
			c.Wait()
			files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
			if len(files) != 1 {
				t.Fatalf("%d files", len(files))
			}
			if err := tc.corrupt(files[0]); err != nil {
				t.Fatal(err)
			}
			fake := &fakeSynth{}
			c2 := newTestCache(t, dir, 8, 64)
			if got := speakAll(t, Cached(fake, c2), prompt, 8000); !slices.Equal(got, fakeAudio(prompt, 8000)) {
				t.Fatal("wrong audio after a corrupt entry")
			}
			if _, n := fake.counts(); n != 1 {
				t.Fatalf("provider called %d times, want 1 (the corrupt entry re-synthesized)", n)
			}
			c2.Wait()
			// The entry is whole again.
			fake3 := &fakeSynth{}
			speakAll(t, Cached(fake3, newTestCache(t, dir, 8, 64)), prompt, 8000)
			if _, n := fake3.counts(); n != 0 {
				t.Errorf("the rewritten entry was not used")
			}
		})
	}
}

func TestCacheKeepsOnlyWholeAudio(t *testing.T) {
	boom := errors.New("cut off")
	c := newTestCache(t, t.TempDir(), 8, 64)
	fake := &fakeSynth{}
	broken := &brokenSynth{fakeSynth: fake, err: boom}
	s := Cached(broken, c)
	st, _ := s.Synthesize(context.Background(), "Your call is important to us.", 8000)
	if _, err := ReadAll(context.Background(), st); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	// Closed before the end: not kept either.
	st, _ = s.Synthesize(context.Background(), "Thank you for waiting patiently.", 8000)
	st.Read(context.Background())
	st.Close()
	c.Wait()
	broken.err = nil
	speakAll(t, s, "Your call is important to us.", 8000)
	speakAll(t, s, "Thank you for waiting patiently.", 8000)
	if _, n := fake.counts(); n != 4 {
		t.Errorf("provider called %d times, want 4: broken audio must not be cached", n)
	}
}

// brokenSynth's streams fail after the first chunk while err is set.
type brokenSynth struct {
	*fakeSynth
	err error
}

func (b *brokenSynth) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	st, err := b.fakeSynth.Synthesize(ctx, text, rate)
	if err != nil || b.err == nil {
		return st, err
	}
	return &failAfter{Stream: st, err: b.err}, nil
}

type failAfter struct {
	Stream
	err  error
	read bool
}

func (f *failAfter) Read(ctx context.Context) ([]int16, error) {
	if f.read {
		return nil, f.err
	}
	f.read = true
	return f.Stream.Read(ctx)
}

func TestCacheMemoryBound(t *testing.T) {
	c := newTestCache(t, "", 1, 0) // 1 MiB: about 65 s at 8 kHz
	fake := &fakeSynth{}
	s := Cached(fake, c)
	long := strings.Repeat("x", 1500) // 7.5 s of fake audio, 120 kB
	for i := range 20 {
		speakAll(t, s, long+strings.Repeat("y", i), 8000)
	}
	if c.memUsed > 1<<20 {
		t.Errorf("memory cache holds %d bytes, bound 1 MiB", c.memUsed)
	}
	// The most recent entry is still there; the oldest is gone.
	_, before := fake.counts()
	speakAll(t, s, long+strings.Repeat("y", 19), 8000)
	if _, n := fake.counts(); n != before {
		t.Error("most recent entry evicted")
	}
	speakAll(t, s, long, 8000)
	if _, n := fake.counts(); n != before+1 {
		t.Error("oldest entry kept past the bound")
	}
}

func TestCacheDiskBound(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, 0, 1) // no memory, 1 MiB on disk
	s := Cached(&fakeSynth{}, c)
	long := strings.Repeat("x", 1500)
	for i := range 20 {
		speakAll(t, s, long+strings.Repeat("y", i), 8000)
		c.Wait()
		time.Sleep(2 * time.Millisecond) // distinct modification times
	}
	var total int64
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
	}
	if total > 1<<20 {
		t.Errorf("disk cache holds %d bytes in %d files, bound 1 MiB", total, len(files))
	}
	if len(files) < 5 {
		t.Errorf("only %d files kept", len(files))
	}
	// A stale temporary file from a crashed write is cleaned at start.
	stale := filepath.Join(dir, "abc.wav.1.2.tmp")
	os.WriteFile(stale, []byte("partial"), 0o640)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	newTestCache(t, dir, 0, 1)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale temporary file left")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newTestCache(t, t.TempDir(), 1, 4)
	s := Cached(&fakeSynth{}, c)
	texts := []string{"One moment please.", "Thank you for calling.", "Goodbye and have a nice day."}
	done := make(chan error)
	for w := range 8 {
		go func() {
			for i := range 20 {
				text := texts[(w+i)%len(texts)]
				st, err := s.Synthesize(context.Background(), text, 8000)
				if err != nil {
					done <- err
					return
				}
				pcm, err := ReadAll(context.Background(), st)
				if err == nil && !slices.Equal(pcm, fakeAudio(text, 8000)) {
					err = errors.New("wrong audio for " + text)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	c.Wait()
}

// A cached stream's chunks belong to the caller: changing them does not
// change what the next caller hears.
func TestCacheChunksAreCopies(t *testing.T) {
	s := Cached(&fakeSynth{}, newTestCache(t, "", 1, 0))
	const prompt = "Thank you for calling."
	speakAll(t, s, prompt, 8000)
	st, _ := s.Synthesize(context.Background(), prompt, 8000)
	for {
		chunk, err := st.Read(context.Background())
		if err == io.EOF {
			break
		}
		clear(chunk)
	}
	if got := speakAll(t, s, prompt, 8000); !slices.Equal(got, fakeAudio(prompt, 8000)) {
		t.Fatal("a caller's change reached the cache")
	}
}
