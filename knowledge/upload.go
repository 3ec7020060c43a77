package knowledge

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Errors of Article, Put and Delete, besides ErrMalformed.
var (
	// ErrNotFound: no article (or version) with that id.
	ErrNotFound = errors.New("no such article")
	// ErrReadOnly: the articles are built into the binary; there is no
	// folder to write them to.
	ErrReadOnly = errors.New("the knowledge base is built into the binary and cannot be changed: configure dialog.knowledge, a folder")
	// ErrTooLarge: the document is larger than an article may be.
	ErrTooLarge = fmt.Errorf("document larger than %d bytes", MaxArticle)
)

// MaxArticle bounds one article's document, in bytes.
const MaxArticle = maxArticle

// Format is the kind of document uploaded.
type Format int

// The formats an article may be uploaded in.
const (
	// Markdown is an article as the folder holds them, front matter
	// included.
	Markdown Format = iota + 1
	// Text is plain text: paragraphs separated by blank lines.
	Text
	// HTML is a web page or fragment: its text is kept, its markup,
	// scripts and styles dropped.
	HTML
)

// Upload is a new version of an article.
type Upload struct {
	Format Format
	Body   string
	// Title and Source, when set, replace what the document says.
	Title, Source string
	// Effective, when set, replaces the document's; else the version is in
	// effect from the upload. Expires, when set, replaces the document's.
	Effective, Expires time.Time
}

// Put adds the next version of the article id from up, writes it to the
// folder as <id>.v<version>.md (atomically: the folder never holds half a
// file), and serves it from the next search if it is in effect. It
// reports whether the article is new. A malformed document changes
// nothing: the error wraps ErrMalformed (or ErrTooLarge) and says why.
func (l *Live) Put(id string, up Upload) (Info, bool, error) {
	if l.dir == "" {
		return Info{}, false, ErrReadOnly
	}
	bad := func(format string, args ...any) (Info, bool, error) {
		return Info{}, false, fmt.Errorf("knowledge: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	switch {
	case !ValidID(id):
		return bad("id %q: want words of letters, digits, - _ . joined by /, at most %d characters", clipText(id, 40), maxID)
	case len(up.Body) > maxArticle:
		return Info{}, false, fmt.Errorf("knowledge: %w", ErrTooLarge)
	case !utf8.ValidString(up.Body) || strings.ContainsRune(up.Body, 0):
		return bad("the document is not UTF-8 text")
	}
	var fm frontMatter
	var body string
	switch up.Format {
	case Markdown:
		var lines []string
		var err error
		if fm, lines, err = splitFrontMatter(normalize(up.Body)); err != nil {
			return bad("%v", err)
		}
		body = strings.Join(lines, "\n")
	case Text:
		body = TextToMarkdown(up.Body)
	case HTML:
		var title string
		title, body = HTMLToMarkdown(up.Body)
		fm.Title = title
	default:
		return bad("unknown format %d", up.Format)
	}
	if fm.ID != "" && fm.ID != id {
		return bad("front matter names article %q, not %q", clipText(fm.ID, 40), id)
	}
	now := l.now()
	fm.ID = id
	fm.Title = cmp.Or(up.Title, fm.Title)
	fm.Source = cmp.Or(up.Source, fm.Source, "api")
	if !up.Effective.IsZero() {
		fm.Effective.Time = up.Effective
	}
	if fm.Effective.IsZero() {
		fm.Effective.Time = now.UTC().Truncate(time.Second)
	}
	if !up.Expires.IsZero() {
		fm.Expires.Time = up.Expires
	}
	if !fm.Expires.IsZero() && !fm.Expires.After(now) {
		return bad("expires %s has passed: the article would never be cited", fm.Expires.Format(time.DateOnly))
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.reload(); err != nil {
		return Info{}, false, err
	}
	versions := l.lib.Load().versions(id)
	fm.Version = 1
	if len(versions) > 0 {
		fm.Version = versions[len(versions)-1].version + 1
	}
	head, err := yaml.Marshal(fm)
	if err != nil {
		return Info{}, false, fmt.Errorf("knowledge: %s: %w", id, err)
	}
	name := id + ".v" + strconv.Itoa(fm.Version) + ".md"
	src := "---\n" + string(head) + "---\n" + body
	a, err := parseArticle(name, src)
	if err != nil {
		return Info{}, false, err
	}
	path := filepath.Join(l.dir, filepath.FromSlash(name))
	if _, err := os.Lstat(path); err == nil {
		return Info{}, false, fmt.Errorf("knowledge: %s exists and is not version %d of %s: %w", name, fm.Version, id, ErrMalformed)
	}
	if err := writeAtomic(path, []byte(src)); err != nil {
		return Info{}, false, fmt.Errorf("knowledge: %w", err)
	}
	if _, err := l.reload(); err != nil {
		// The folder does not load with the new file (another file made
		// it fail meanwhile): the upload is taken back, and the previous
		// articles keep serving.
		return Info{}, false, errors.Join(err, os.Remove(path))
	}
	cur := current(l.lib.Load().versions(id), now)
	return a.info(cur != nil && cur.version == a.version), len(versions) == 0, nil
}

// Delete removes every version of the article id from the folder; the
// next search no longer finds it.
func (l *Live) Delete(id string) error {
	if l.dir == "" {
		return ErrReadOnly
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.reload(); err != nil {
		return err
	}
	versions := l.lib.Load().versions(id)
	if len(versions) == 0 {
		return fmt.Errorf("knowledge: article %q: %w", clipText(id, 40), ErrNotFound)
	}
	var errs []error
	for _, a := range versions {
		if err := os.Remove(filepath.Join(l.dir, filepath.FromSlash(a.file))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	_, err := l.reload()
	return errors.Join(append(errs, err)...)
}

// writeAtomic writes a file by renaming a complete, synced temporary one
// over it. The temporary file's name is hidden and not *.md, so neither a
// load nor the watch ever reads it.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".upload-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	// The rename itself is durable once the folder is synced.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
