package tts

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// Cache keeps synthesized audio by provider, voice, rate and text: in
// memory (least recently used first out, bounded in bytes) and on disk (one
// WAV file per entry named by the key's SHA-256, bounded in bytes, least
// recently used first out). Only audio that streamed to its end is kept. A
// Cache is safe for concurrent use and may be shared by several providers.
type Cache struct {
	dir      string // "" for no disk cache
	memLimit int64
	dskLimit int64
	log      *slog.Logger

	writes sync.WaitGroup // disk writes in progress

	mu      sync.Mutex
	lru     *list.List // of *cacheEntry, most recent first
	entries map[string]*list.Element
	memUsed int64
	dskUsed int64 // -1 until the directory has been measured
}

type cacheEntry struct {
	key string
	pcm []int16
}

// CacheStats counts what a Cache served.
type CacheStats struct{ MemoryHits, DiskHits, Misses int }

// NewCache returns a cache holding up to memoryMB in memory and diskMB in
// dir ("" for none). Files left by an interrupted write are removed.
func NewCache(dir string, memoryMB, diskMB int, log *slog.Logger) (*Cache, error) {
	c := &Cache{
		dir: dir, memLimit: int64(memoryMB) << 20, dskLimit: int64(diskMB) << 20, log: log,
		lru: list.New(), entries: map[string]*list.Element{}, dskUsed: -1,
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("tts: cache: %w", err)
		}
		if err := c.measureDisk(); err != nil {
			return nil, fmt.Errorf("tts: cache: %w", err)
		}
	}
	return c, nil
}

// Wait returns once the disk writes in progress are done.
func (c *Cache) Wait() { c.writes.Wait() }

// cacheKey is the SHA-256 of provider|voice|rate|text, where the provider's
// identity names its voice (and, for a server, its model and address).
func cacheKey(id string, rate int, text string) string {
	h := sha256.Sum256([]byte(id + "|" + strconv.Itoa(rate) + "|" + text))
	return hex.EncodeToString(h[:])
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+".wav") }

// getMemory returns the entry's audio and marks it recently used.
func (c *Cache) getMemory(key string) ([]int16, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).pcm, true
	}
	return nil, false
}

func (c *Cache) putMemory(key string, pcm []int16) {
	size := int64(len(pcm)) * 2
	if size > c.memLimit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, pcm: pcm})
	c.memUsed += size
	for c.memUsed > c.memLimit {
		e := c.lru.Back()
		old := e.Value.(*cacheEntry)
		c.lru.Remove(e)
		delete(c.entries, old.key)
		c.memUsed -= int64(len(old.pcm)) * 2
	}
}

// getDisk loads an entry from disk. A file that is not a whole WAV at rate
// is removed, so the text is synthesized again.
func (c *Cache) getDisk(key string, rate int) ([]int16, bool) {
	if c.dir == "" {
		return nil, false
	}
	p := c.path(key)
	pcm, err := loadCached(p, rate)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		c.log.Warn("tts: cache: discarding a corrupt entry", "file", p, "err", err)
		if fi, serr := os.Stat(p); serr == nil {
			c.addDisk(-fi.Size())
		}
		os.Remove(p)
		return nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // recently used: evicted last
	return pcm, true
}

// loadCached reads a cache file, checking the header against the file so
// that a truncated or foreign file is not played.
func loadCached(p string, rate int) ([]int16, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var h [44]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return nil, fmt.Errorf("short header: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	data := int64(le.Uint32(h[40:]))
	switch {
	case string(h[0:4]) != "RIFF" || string(h[8:16]) != "WAVEfmt " || string(h[36:40]) != "data":
		return nil, errors.New("not a cache wav file")
	case int(le.Uint32(h[24:])) != rate || le.Uint16(h[22:]) != 1 || le.Uint16(h[34:]) != 16:
		return nil, fmt.Errorf("format %d Hz, %d channels, %d bits; want %d Hz mono 16-bit",
			le.Uint32(h[24:]), le.Uint16(h[22:]), le.Uint16(h[34:]), rate)
	case data+44 != fi.Size() || int64(le.Uint32(h[4:]))+8 != fi.Size():
		return nil, fmt.Errorf("header says %d bytes of samples, file has %d", data, fi.Size()-44)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return media.LoadWAV(f, rate)
}

// putDisk writes an entry atomically: a temporary file renamed into place,
// so a reader never sees half a file.
func (c *Cache) putDisk(key string, pcm []int16, rate int) {
	if c.dir == "" || int64(len(pcm))*2+44 > c.dskLimit {
		return
	}
	p := c.path(key)
	tmp := fmt.Sprintf("%s.%d.%d.tmp", p, os.Getpid(), time.Now().UnixNano())
	err := func() error {
		rec, err := media.NewRecorder(tmp, rate, 1)
		if err != nil {
			return err
		}
		werr := rec.WriteMono(pcm)
		if cerr := rec.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
		return os.Rename(tmp, p)
	}()
	if err != nil {
		os.Remove(tmp)
		c.log.Warn("tts: cache: cannot write entry", "file", p, "err", err)
		return
	}
	c.addDisk(int64(len(pcm))*2 + 44)
}

// addDisk accounts for bytes written (or removed) and evicts the least
// recently used files when the directory is over its bound.
func (c *Cache) addDisk(n int64) {
	c.mu.Lock()
	c.dskUsed += n
	over := c.dskUsed > c.dskLimit
	c.mu.Unlock()
	if over {
		if err := c.evictDisk(); err != nil {
			c.log.Warn("tts: cache: eviction failed", "dir", c.dir, "err", err)
		}
	}
}

type cacheFile struct {
	path string
	size int64
	used time.Time
}

func (c *Cache) listDisk() ([]cacheFile, error) {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var files []cacheFile
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(c.dir, name)
		if strings.HasSuffix(name, ".tmp") {
			// Left by a write interrupted long enough ago to be dead.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(p)
			}
			continue
		}
		if !strings.HasSuffix(name, ".wav") || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, cacheFile{p, fi.Size(), fi.ModTime()})
	}
	return files, nil
}

func (c *Cache) measureDisk() error {
	files, err := c.listDisk()
	if err != nil {
		return err
	}
	var used int64
	for _, f := range files {
		used += f.size
	}
	c.mu.Lock()
	c.dskUsed = used
	c.mu.Unlock()
	if used > c.dskLimit {
		return c.evictDisk()
	}
	return nil
}

// evictDisk removes the least recently used files until the directory
// holds 90% of its bound, leaving room before the next eviction.
func (c *Cache) evictDisk() error {
	files, err := c.listDisk()
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.Before(files[j].used) })
	var used int64
	for _, f := range files {
		used += f.size
	}
	target := c.dskLimit / 10 * 9
	for _, f := range files {
		if used <= target {
			break
		}
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			used -= f.size
		}
	}
	c.mu.Lock()
	c.dskUsed = used
	c.mu.Unlock()
	return nil
}

// cached is a Synthesizer served from a Cache.
type cached struct {
	inner Synthesizer
	id    string
	c     *Cache

	mu    sync.Mutex
	stats CacheStats
}

// Cached wraps s so that audio it made once is served from c after.
func Cached(s Synthesizer, c *Cache) Synthesizer {
	id := s.Name()
	if k, ok := s.(interface{ cacheID() string }); ok {
		id = k.cacheID()
	}
	return &cached{inner: s, id: id, c: c}
}

func (s *cached) Name() string { return s.inner.Name() }

// Close waits for the cache's disk writes in progress (at shutdown).
func (s *cached) Close() error {
	s.c.Wait()
	return nil
}

// Stats reports hits and misses so far.
func (s *cached) Stats() CacheStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *cached) count(f func(*CacheStats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *cached) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := cacheKey(s.id, rate, text)
	if pcm, ok := s.c.getMemory(key); ok {
		s.count(func(st *CacheStats) { st.MemoryHits++ })
		return newPCMStream(pcm, rate), nil
	}
	if pcm, ok := s.c.getDisk(key, rate); ok {
		s.count(func(st *CacheStats) { st.DiskHits++ })
		s.c.putMemory(key, pcm)
		return newPCMStream(pcm, rate), nil
	}
	s.count(func(st *CacheStats) { st.Misses++ })
	st, err := s.inner.Synthesize(ctx, text, rate)
	if err != nil {
		return nil, err
	}
	return &teeStream{Stream: st, c: s.c, key: key, rate: rate}, nil
}

// teeStream passes a provider's stream through and, when it reaches its
// end, stores the whole audio in the cache.
type teeStream struct {
	Stream
	c    *Cache
	key  string
	rate int
	pcm  []int16
	done bool // stored, or spoiled by an error
}

func (t *teeStream) Read(ctx context.Context) ([]int16, error) {
	chunk, err := t.Stream.Read(ctx)
	if t.done {
		return chunk, err
	}
	t.pcm = append(t.pcm, chunk...)
	switch {
	case errors.Is(err, io.EOF):
		t.done = true
		if len(t.pcm) > 0 {
			t.c.putMemory(t.key, t.pcm)
			// The file is written (and synced) off the reader's path, which
			// is the playback of the next sentence.
			pcm := t.pcm
			t.c.writes.Go(func() { t.c.putDisk(t.key, pcm, t.rate) })
		}
		t.pcm = nil
	case err != nil && ctx.Err() == nil:
		t.done = true // a broken stream is not kept
		t.pcm = nil
	}
	return chunk, err
}
