package knowledge

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// answer is the best passage's text and where it is from.
func answer(s Searcher, q string) (text, id string, version int) {
	ps := s.Search(q, 1)
	if len(ps) == 0 {
		return "", "", 0
	}
	return ps[0].Text, ps[0].ID, ps[0].Version
}

// Of several versions of an article, the newest in effect is cited; one
// not yet in effect or expired never is, and when the newest expires the
// one before it answers again.
func TestVersionsFollowTheClock(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"fees/replacement.md": "---\nsource: fees leaflet 2025\n---\n# Card replacement fee\n\nA replacement card costs 5 dollars.\n",
		"fees/replacement-2026.md": "---\nid: fees/replacement\nversion: 2\nsource: board decision 12\neffective: 2026-01-01\nexpires: 2026-07-01\n---\n" +
			"# Card replacement fee\n\nFrom January a replacement card is free.\n",
		"fees/replacement-2027.md": "---\nid: fees/replacement\nversion: 3\neffective: 2027-01-01T09:00:00Z\n---\n# Card replacement fee\n\nA replacement card costs 3 dollars.\n",
		"promo.md":                 "---\neffective: 2026-03-01\nexpires: 2026-04-01\n---\n# Spring savings bonus\n\nSavings opened in March earn a bonus.\n",
	})
	clock := &fakeClock{t: day("2025-12-31")}
	l, err := LoadLive(dir, WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at      time.Time
		text    string
		version int
		bonus   bool
	}{
		{day("2025-12-31"), "5 dollars", 1, false},
		{day("2026-01-01"), "free", 2, false},
		{day("2026-03-15"), "free", 2, true},
		{day("2026-04-01"), "free", 2, false},
		{day("2026-07-01"), "5 dollars", 1, false}, // version 2 expired: version 1 answers again
		{day("2027-01-01").Add(9*time.Hour - time.Second), "5 dollars", 1, false},
		{day("2027-01-01").Add(9 * time.Hour), "3 dollars", 3, false},
	} {
		clock.set(c.at)
		text, id, version := answer(l, "card replacement fee")
		if !strings.Contains(text, c.text) || id != "fees/replacement" || version != c.version {
			t.Errorf("%s: answer %q from %s v%d, want %q from v%d", c.at, text, id, version, c.text, c.version)
		}
		if got := len(l.Search("spring savings bonus", 3)) > 0 && strings.Contains(l.Search("spring savings bonus", 1)[0].Text, "bonus"); got != c.bonus {
			t.Errorf("%s: promotion cited %v, want %v", c.at, got, c.bonus)
		}
	}

	clock.set(day("2026-02-01"))
	infos := l.Articles()
	var got []string
	for _, in := range infos {
		mark := ""
		if in.Active {
			mark = "*"
		}
		got = append(got, in.ID+" v"+string(rune('0'+in.Version))+mark+" "+in.Source)
	}
	want := []string{
		"fees/replacement v3 fees/replacement-2027.md", "fees/replacement v2* board decision 12",
		"fees/replacement v1 fees leaflet 2025", "promo v1 promo.md",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("articles\n%q\nwant\n%q", got, want)
	}
	doc, err := l.Article("fees/replacement", 0)
	if err != nil || doc.Version != 2 || !doc.Active || !strings.Contains(doc.Text, "free") || !doc.Expires.Equal(day("2026-07-01")) {
		t.Errorf("current version: %+v, %v", doc, err)
	}
	if doc, err := l.Article("promo", 0); err != nil || doc.Active || doc.Version != 1 {
		t.Errorf("an article not in effect is shown in its newest version, inactive: %+v, %v", doc, err)
	}
	if doc, err := l.Article("fees/replacement", 1); err != nil || doc.Active || !strings.Contains(doc.Text, "5 dollars") {
		t.Errorf("version 1: %+v, %v", doc, err)
	}
	if _, err := l.Article("fees/replacement", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := l.Article("nothing", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown article: %v", err)
	}
}

// Front matter that cannot say when or what an article is fails the load
// with a clear error.
func TestMalformedVersions(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"bad date", map[string]string{"a.md": "---\neffective: 1 March\n---\nText."}, "want YYYY-MM-DD"},
		{"date list", map[string]string{"a.md": "---\nexpires: [2026-01-01]\n---\nText."}, "want a date"},
		{"expires first", map[string]string{"a.md": "---\neffective: 2026-02-01\nexpires: 2026-01-01\n---\nText."}, "is not after effective"},
		{"negative version", map[string]string{"a.md": "---\nversion: -2\n---\nText."}, "want 1 or more"},
		{"version not a number", map[string]string{"a.md": "---\nversion: two\n---\nText."}, "front matter"},
		{"bad id", map[string]string{"a.md": "---\nid: ../etc/passwd\n---\nText."}, "id \"../etc/passwd\""},
		{"same version twice", map[string]string{"a.md": "Text.", "b.md": "---\nid: a\n---\nOther text."}, "a.md and b.md"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.files)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrMalformed saying %q", err, c.want)
			}
		})
	}
	kb, err := New(map[string]string{"odd name (1).md": "Text of an odd file."})
	if err != nil || kb.Search("odd file", 1)[0].ID != "odd-name--1-" {
		t.Errorf("a file name that is not an id gives one: %v", err)
	}
}

// Articles put through Live are written to the folder, versioned, served
// from the next search and read back after a restart; a malformed one
// changes nothing.
func TestPutAndDelete(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"branches/opening-hours.md": "# Opening hours\n\nOur branches are open Monday to Friday from nine to five.\n",
	})
	clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)}
	l, err := LoadLive(dir, WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	info, created, err := l.Put("branches/opening-hours", Upload{Format: Markdown, Source: "operations",
		Body: "---\ntitle: Opening hours\nversion: 7\n---\n# Opening hours\n\nOur branches are open every day from eight to eight.\n"})
	if err != nil || created || info.Version != 2 || !info.Active || info.Source != "operations" ||
		!info.Effective.Equal(clock.now()) || info.File != "branches/opening-hours.v2.md" {
		t.Fatalf("replace: %+v, created %v, %v", info, created, err)
	}
	if text, _, v := answer(l, "opening hours"); !strings.Contains(text, "every day") || v != 2 {
		t.Errorf("after the upload the answer is %q (v%d)", text, v)
	}

	info, created, err = l.Put("policies/refunds", Upload{Format: HTML, Effective: day("2026-06-01"), Expires: day("2026-09-01"),
		Body: "<html><head><title>Refund policy</title><script>alert('x')</script></head><body><p>Refunds are paid within <b>ten</b> days.</p></body></html>"})
	if err != nil || !created || info.Version != 1 || info.Active || info.Title != "Refund policy" || info.Source != "api" {
		t.Fatalf("new article, not yet in effect: %+v, created %v, %v", info, created, err)
	}
	if ps := l.Search("refund", 1); len(ps) > 0 {
		t.Errorf("an article not yet in effect answered: %+v", ps)
	}
	clock.set(day("2026-06-01"))
	if text, id, _ := answer(l, "refund"); text != "Refunds are paid within ten days." || id != "policies/refunds" {
		t.Errorf("in effect: %q from %s", text, id)
	}

	if info, _, err := l.Put("policies/late-fees", Upload{Format: Text, Body: "# 5 dollars\n\nafter *ten* days"}); err != nil ||
		info.Title != "late fees" {
		t.Errorf("plain text without a title: %+v, %v", info, err)
	}
	if doc, _ := l.Article("policies/late-fees", 0); doc.Text != "\\# 5 dollars\n\nafter \\*ten\\* days" {
		t.Errorf("plain text is kept as written, escaped: %q", doc.Text)
	}
	if ps := l.Search("late fees", 1); len(ps) != 1 || ps[0].Text != "# 5 dollars. after *ten* days." {
		t.Errorf("plain text is spoken as written: %+v", ps)
	}

	for _, c := range []struct {
		name string
		id   string
		up   Upload
		want error
		says string
	}{
		{"empty", "branches/opening-hours", Upload{Format: Text, Body: " \n\n "}, ErrMalformed, "no text to speak"},
		{"markup only", "branches/opening-hours", Upload{Format: HTML, Body: "<script>x</script><img src=a>"}, ErrMalformed, "no text to speak"},
		{"not UTF-8", "branches/opening-hours", Upload{Format: Text, Body: "caf\xe9"}, ErrMalformed, "not UTF-8"},
		{"too large", "branches/opening-hours", Upload{Format: Text, Body: strings.Repeat("a", MaxArticle+1)}, ErrTooLarge, ""},
		{"bad id", "../x", Upload{Format: Text, Body: "Text."}, ErrMalformed, "id"},
		{"other id", "branches/opening-hours", Upload{Format: Markdown, Body: "---\nid: fees\n---\nText."}, ErrMalformed, "names article \"fees\""},
		{"broken front matter", "branches/opening-hours", Upload{Format: Markdown, Body: "---\ntitle: x\nText."}, ErrMalformed, "never closed"},
		{"expired", "branches/opening-hours", Upload{Format: Text, Body: "Text.", Expires: day("2026-05-01")}, ErrMalformed, "has passed"},
		{"expires before effective", "branches/opening-hours", Upload{Format: Text, Body: "Text.", Effective: day("2026-08-01"), Expires: day("2026-07-01")}, ErrMalformed, "not after effective"},
	} {
		if _, _, err := l.Put(c.id, c.up); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.want, c.says)
		}
	}
	if text, _, v := answer(l, "opening hours"); !strings.Contains(text, "every day") || v != 2 {
		t.Errorf("after malformed uploads the answer is %q (v%d), want version 2's", text, v)
	}

	again, err := LoadLive(dir, WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	if text, _, v := answer(again, "opening hours"); !strings.Contains(text, "every day") || v != 2 {
		t.Errorf("after a restart the answer is %q (v%d)", text, v)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*", ".*")); len(entries) > 0 {
		t.Errorf("temporary files left: %v", entries)
	}

	if err := l.Delete("branches/opening-hours"); err != nil {
		t.Fatal(err)
	}
	if ps := l.Search("opening hours", 1); len(ps) > 0 {
		t.Errorf("a deleted article answered: %+v", ps)
	}
	if err := l.Delete("branches/opening-hours"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting again: %v", err)
	}

	ro, err := LiveFS(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ro.Put("x", Upload{Format: Text, Body: "Text."}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("put on built-in articles: %v", err)
	}
	if err := ro.Delete("policies/refunds"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("delete on built-in articles: %v", err)
	}
}
