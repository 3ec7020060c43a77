package knowledge

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Info describes one version of an article.
type Info struct {
	ID      string
	Version int
	Title   string
	Source  string
	// Effective is when the version starts to be cited (zero: always);
	// Expires when it stops (zero: never).
	Effective, Expires time.Time
	// Active is set on the version cited now: the newest one in effect
	// and not expired.
	Active bool
	// File is the article's file, relative to the knowledge folder.
	File string
}

// Doc is one version of an article with its text.
type Doc struct {
	Info
	// Text is the article's Markdown, without its front matter.
	Text string
}

// library is every version of every article read from a folder, sorted by
// id and then version.
type library struct {
	arts []*article
}

// newLibrary parses docs, keyed by file name. Two files that claim the
// same version of one article are malformed: which to cite would be a
// guess.
func newLibrary(docs map[string]string) (*library, error) {
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	slices.Sort(names)
	lib := &library{}
	var errs []error
	for _, name := range names {
		if name == "" {
			errs = append(errs, fmt.Errorf("knowledge: an article has no name: %w", ErrMalformed))
			continue
		}
		a, err := parseArticle(name, docs[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lib.arts = append(lib.arts, &a)
	}
	slices.SortStableFunc(lib.arts, func(a, b *article) int {
		return cmp.Or(strings.Compare(a.id, b.id), cmp.Compare(a.version, b.version))
	})
	for i := 1; i < len(lib.arts); i++ {
		if a, b := lib.arts[i-1], lib.arts[i]; a.id == b.id && a.version == b.version {
			errs = append(errs, fmt.Errorf("knowledge: %s and %s: %w: both are version %d of %s", a.file, b.file, ErrMalformed, a.version, a.id))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return lib, nil
}

// inEffect reports whether a version may be cited at t.
func (a *article) inEffect(t time.Time) bool {
	return !t.Before(a.effective) && (a.expires.IsZero() || t.Before(a.expires))
}

// active returns the index of each article's version cited at t: the
// newest in effect. An article with none in effect is not cited at all.
func (lib *library) active(t time.Time) []int {
	var out []int
	for i := 0; i < len(lib.arts); {
		j := i
		for j < len(lib.arts) && lib.arts[j].id == lib.arts[i].id {
			j++
		}
		for k := j - 1; k >= i; k-- {
			if lib.arts[k].inEffect(t) {
				out = append(out, k)
				break
			}
		}
		i = j
	}
	return out
}

// activeAt returns the versions cited at t.
func (lib *library) activeAt(t time.Time) []*article { return lib.pick(lib.active(t)) }

// pick returns the versions at the indices, in file name order: the order
// a Base keeps for ties.
func (lib *library) pick(indices []int) []*article {
	out := make([]*article, 0, len(indices))
	for _, i := range indices {
		out = append(out, lib.arts[i])
	}
	slices.SortFunc(out, func(a, b *article) int { return strings.Compare(a.file, b.file) })
	return out
}

// key names the set of versions active: a Base built for one time serves
// every time with the same key.
func key(active []int) string {
	var b strings.Builder
	for _, i := range active {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	return b.String()
}

// infos describes every version at t, by id and then newest first.
func (lib *library) infos(t time.Time) []Info {
	active := lib.active(t)
	out := make([]Info, 0, len(lib.arts))
	for i, a := range lib.arts {
		out = append(out, a.info(slices.Contains(active, i)))
	}
	slices.SortStableFunc(out, func(a, b Info) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), cmp.Compare(b.Version, a.Version))
	})
	return out
}

// versions returns the versions of id, oldest first.
func (lib *library) versions(id string) []*article {
	i, _ := slices.BinarySearchFunc(lib.arts, id, func(a *article, id string) int { return strings.Compare(a.id, id) })
	j := i
	for j < len(lib.arts) && lib.arts[j].id == id {
		j++
	}
	return lib.arts[i:j]
}

func (a *article) info(active bool) Info {
	return Info{ID: a.id, Version: a.version, Title: a.title, Source: a.source, Effective: a.effective,
		Expires: a.expires, Active: active, File: a.file}
}
