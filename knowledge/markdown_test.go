package knowledge

import (
	"errors"
	"strings"
	"testing"
)

func TestParseArticle(t *testing.T) {
	src := "\uFEFF---\r\ntitle: Card *help*\r\nkeywords: lost, stolen , \r\nowner: cards team\r\n---\r\n" + `# Ignored title

Intro with a [link](https://example.com/a "t") and ![a logo](logo.png), **bold**,
_emphasis_, snake_case, ` + "`code`" + ` and a \*literal star\*.

## Report it <!-- reviewed
over two lines -->

Call &amp; block:

- first item
- [x] second item
  continues here
1. numbered [ref link][r]

[r]: https://example.com/r

` + "```sh\ncurl https://example.com\n## not a heading\n```" + `

> Quoted line
---

### Fees ###

| Service | Fee | When |
|---|:--:|---|
| Abroad | 2 dollars | always |
| Home | | |

#### Small print
Text after small print<br>with a break

Setext heading
==============

挂失银行卡
请立即拨打电话
`
	a, err := parseArticle("cards/card-help.md", src)
	if err != nil {
		t.Fatal(err)
	}
	if a.title != "Card help" {
		t.Errorf("title %q, want the front matter's", a.title)
	}
	if want := []string{"lost", "stolen"}; strings.Join(a.keywords, "|") != strings.Join(want, "|") {
		t.Errorf("keywords %q, want %q", a.keywords, want)
	}
	want := []section{
		{"", "", "Intro with a link and, bold, emphasis, snake_case, code and a *literal star*."},
		{"Report it", "", "Call & block: first item. second item continues here. numbered ref link. Quoted line."},
		{"Fees", "Report it", "Abroad: Fee 2 dollars, When always. Home. Small print. Text after small print with a break."},
		{"Setext heading", "", "挂失银行卡请立即拨打电话。"},
	}
	if len(a.sections) != len(want) {
		t.Fatalf("%d sections, want %d: %q", len(a.sections), len(want), a.sections)
	}
	for i, w := range want {
		if a.sections[i] != w {
			t.Errorf("section %d:\n got %q\nwant %q", i, a.sections[i], w)
		}
	}
}

func TestParseTitle(t *testing.T) {
	for _, c := range []struct{ name, src, title, heading string }{
		{"a.md", "# Title\n\n## Part\ntext", "Title", "Part"},
		{"cards/lost_card-help.md", "## Part\ntext", "lost card help", "Part"},
		{"b.md", "Title\n=====\ntext", "Title", ""},
		{"c.md", "text first\n# Title\n", "Title", ""},
		{"d.md", "# One\ntext\n# Two\nmore", "One", ""},
	} {
		a, err := parseArticle(c.name, c.src)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if a.title != c.title || a.sections[0].heading != c.heading {
			t.Errorf("%s: title %q, first heading %q; want %q, %q", c.name, a.title, a.sections[0].heading, c.title, c.heading)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct{ name, src, why string }{
		{"latin1.md", "caf\xe9", "not UTF-8"},
		{"binary.md", "PK\x03\x04\x00\x00", "not UTF-8"},
		{"open.md", "---\ntitle: x\n# Title\ntext", "never closed"},
		{"yaml.md", "---\ntitle: [unclosed\n---\ntext", "front matter"},
		{"keywords.md", "---\nkeywords: {a: b}\n---\ntext", "front matter"},
		{"list.md", "---\n- a\n---\ntext", "front matter"},
		{"empty.md", "", "no text"},
		{"headings.md", "# Title\n## Part\n```\ncode only\n```\n", "no text"},
		{"big.md", strings.Repeat("a", maxArticle+1), "more than"},
	} {
		_, err := New(map[string]string{"ok.md": "# Fine\ntext", c.name: c.src})
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: error %v, want ErrMalformed naming the file and %q", c.name, err, c.why)
		}
	}
	_, err := New(map[string]string{"a.md": "", "b.md": "\xff", "c.md": "fine"})
	if err == nil || !strings.Contains(err.Error(), "a.md") || !strings.Contains(err.Error(), "b.md") || strings.Contains(err.Error(), "c.md") {
		t.Errorf("error %v, want both broken files named and the good one not", err)
	}
	if _, err := New(map[string]string{"": "text"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("an unnamed article: %v, want ErrMalformed", err)
	}
}
