package knowledge

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Searcher finds the passages that answer a query: a Base, or a Live one.
type Searcher interface {
	Search(query string, k int) []Passage
}

// Live is a knowledge base that follows its folder's changes and the
// calendar. Each Reload that finds the articles changed reads them again
// and swaps them in at once, so the next search (the next turn of every
// call in progress) answers from the new text; a folder that no longer
// loads (a malformed article) keeps the previous articles serving. Each
// search answers from the versions in effect at that moment on Live's
// clock: of each article, the newest version whose effective time has
// come and that has not expired. Safe for concurrent use.
type Live struct {
	// dir is the folder; empty for articles built into the binary, which
	// never change and cannot be written.
	dir string
	now func() time.Time

	mu   sync.Mutex // one Reload, Put or Delete at a time
	seen string     // the folder's fingerprint when lib was read
	lib  atomic.Pointer[library]
	// view is the Base of the versions in effect when it was built; it
	// serves every search while the same versions are in effect.
	view atomic.Pointer[view]
}

type view struct {
	lib  *library
	key  string
	base *Base
}

// Option configures a Live.
type Option func(*Live)

// WithClock makes Live tell the time with now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(l *Live) { l.now = now } }

// LoadLive loads dir (as Load) and returns it live.
func LoadLive(dir string, opts ...Option) (*Live, error) {
	l := newLive(dir, opts)
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// LiveFS loads the articles under dir of fsys (as LoadFS). They never
// change, but the versions in effect follow the clock; Put and Delete
// return ErrReadOnly.
func LiveFS(fsys fs.FS, dir string, opts ...Option) (*Live, error) {
	l := newLive("", opts)
	docs, err := readFS(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("knowledge: %w", err)
	}
	lib, err := newLibrary(docs)
	if err != nil {
		return nil, err
	}
	l.lib.Store(lib)
	return l, nil
}

func newLive(dir string, opts []Option) *Live {
	l := &Live{dir: dir, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Search searches the versions in effect now.
func (l *Live) Search(query string, k int) []Passage { return l.base().Search(query, k) }

// Len is the number of sections in effect now.
func (l *Live) Len() int { return l.base().Len() }

// Dir is the folder Live follows; empty for articles built into the
// binary.
func (l *Live) Dir() string { return l.dir }

// base is the Base of the versions in effect now, built again only when
// the articles or the versions in effect changed.
func (l *Live) base() *Base {
	lib := l.lib.Load()
	active := lib.active(l.now())
	k := key(active)
	if v := l.view.Load(); v != nil && v.lib == lib && v.key == k {
		return v.base
	}
	b := newBase(lib.pick(active))
	l.view.Store(&view{lib: lib, key: k, base: b})
	return b
}

// Articles describes every version of every article, by id and then
// newest first, marking the ones in effect now.
func (l *Live) Articles() []Info { return l.lib.Load().infos(l.now()) }

// Article returns a version of the article id with its text: version 0 is
// the one in effect now, or the newest when none is. An unknown id or
// version is ErrNotFound.
func (l *Live) Article(id string, version int) (Doc, error) {
	lib := l.lib.Load()
	vs := lib.versions(id)
	if len(vs) == 0 {
		return Doc{}, fmt.Errorf("knowledge: article %q: %w", clipText(id, 40), ErrNotFound)
	}
	now := l.now()
	cur := current(vs, now)
	a := cur
	switch {
	case version > 0:
		i := slices.IndexFunc(vs, func(a *article) bool { return a.version == version })
		if i < 0 {
			return Doc{}, fmt.Errorf("knowledge: article %q version %d: %w", id, version, ErrNotFound)
		}
		a = vs[i]
	case a == nil:
		a = vs[len(vs)-1]
	}
	return Doc{Info: a.info(a == cur), Text: a.body}, nil
}

// current is the version of vs (one article's, oldest first) in effect
// at t, or nil.
func current(vs []*article, t time.Time) *article {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].inEffect(t) {
			return vs[i]
		}
	}
	return nil
}

// Reload reads the folder again if its articles changed (names, sizes or
// modification times) and reports whether it swapped them in. On an
// error the previous articles keep serving.
func (l *Live) Reload() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reload()
}

func (l *Live) reload() (bool, error) {
	if l.dir == "" {
		return false, nil
	}
	fp, err := fingerprint(l.dir)
	if err != nil {
		return false, fmt.Errorf("knowledge: %s: %w", l.dir, err)
	}
	if fp == l.seen && l.lib.Load() != nil {
		return false, nil
	}
	docs, err := readFS(os.DirFS(l.dir), ".")
	if err != nil {
		return false, fmt.Errorf("knowledge: load %s: %w", l.dir, err)
	}
	lib, err := newLibrary(docs)
	if err != nil {
		return false, fmt.Errorf("knowledge: load %s: %w", l.dir, err)
	}
	l.lib.Store(lib)
	l.seen = fp
	return true, nil
}

// Watch reloads the folder every interval until ctx ends, logging each
// change and each failure (after which the previous articles keep
// serving). Run it in a goroutine its owner waits for.
func (l *Live) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			switch changed, err := l.Reload(); {
			case err != nil:
				log.Error("knowledge not reloaded: the previous articles keep serving", "dir", l.dir, "err", err)
			case changed:
				log.Info("knowledge reloaded", "dir", l.dir, "sections", l.Len())
			}
		}
	}
}

// fingerprint sums up the articles under dir: a change to any of them, or
// one added or removed, changes it.
func fingerprint(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".md") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String(), err
}
