package knowledge

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Searcher finds the passages that answer a query: a Base, or a Live one.
type Searcher interface {
	Search(query string, k int) []Passage
}

// Live is a knowledge base read from a folder that follows the folder's
// changes: each Reload that finds the articles changed builds a new Base
// and swaps it in at once, so the next search (the next turn of every call
// in progress) answers from the new text. A folder that no longer loads
// (a malformed article) keeps the previous Base serving. Safe for
// concurrent use.
type Live struct {
	dir  string
	cur  atomic.Pointer[Base]
	seen string // the folder's fingerprint when cur was loaded; Reload's
}

// LoadLive loads dir (as Load) and returns it live.
func LoadLive(dir string) (*Live, error) {
	l := &Live{dir: dir}
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Search searches the current Base.
func (l *Live) Search(query string, k int) []Passage { return l.cur.Load().Search(query, k) }

// Len is the current Base's number of sections.
func (l *Live) Len() int { return l.cur.Load().Len() }

// Reload loads the folder again if its articles changed (names, sizes or
// modification times) and reports whether it swapped in a new Base. On an
// error the previous Base keeps serving. Reload is not safe for concurrent
// use with itself: one watcher calls it.
func (l *Live) Reload() (bool, error) {
	fp, err := fingerprint(l.dir)
	if err != nil {
		return false, fmt.Errorf("knowledge: %s: %w", l.dir, err)
	}
	if fp == l.seen && l.cur.Load() != nil {
		return false, nil
	}
	kb, err := Load(l.dir)
	if err != nil {
		return false, err
	}
	l.cur.Store(kb)
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
