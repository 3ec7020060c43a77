package knowledge

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHTMLToMarkdown(t *testing.T) {
	for _, c := range []struct {
		name, html, title string
		// spoken is the article's sections as read aloud, "heading: text".
		spoken []string
	}{
		{"page", `<!DOCTYPE html><html><head><title> Refund
			policy </title><style>p{color:red}</style><script>var x = "<p>not text</p>";</script></head>
			<body><h1>Refunds</h1><p>Refunds are paid within <b>ten</b> days.</p><h2>Exceptions</h2>
			<ul><li>Sale items</li><li>Gift cards</li></ul></body></html>`,
			"Refund policy", []string{": Refunds are paid within ten days.", "Exceptions: Sale items. Gift cards."}},
		{"entities", `<p>Fees &amp; charges: &lt;none&gt; &#8364;0 &eacute;t&eacute;</p>`,
			"", []string{": Fees & charges: <none> €0 été."}},
		{"markdown in text stays text", `<p># not a heading *not bold* [not](a link) | pipe</p><p>- not a list</p><p>1. not numbered</p><p>---</p>`,
			"", []string{": # not a heading *not bold* [not](a link) | pipe. - not a list. 1. not numbered. ---."}},
		{"markup in text stays text", `<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;!-- kept --&gt;</p>`,
			"", []string{": <script>alert(1)</script> <!-- kept -->."}},
		{"blocks are paragraphs", `<div>one<br>two</div>three<table><tr><th>Service</th><th>Fee</th></tr><tr><td>Abroad</td><td>2 dollars</td></tr></table>`,
			"", []string{": one. two. three. Service, Fee. Abroad, 2 dollars."}},
		{"inline elements join words", `<p>in<em>line</em> and <a href="javascript:x()">a link</a><img src="x.png" alt="logo"></p>`,
			"", []string{": inline and a link."}},
		{"dropped content", `<p>kept</p><noscript>no</noscript><svg><text>no</text></svg><template><p>no</p></template><iframe src=x>no</iframe><select><option>no</select><p>also kept</p>`,
			"", []string{": kept. also kept."}},
		{"unclosed script drops the rest", `<p>kept</p><script>x<p>gone`, "", []string{": kept."}},
		{"stray end tags", `</script></p>text</div>`, "", []string{": text."}},
		{"deep headings stay in their section", `<h2>Fees</h2><h5>Small print</h5><p>Text.</p>`, "", []string{"Fees: Small print. Text."}},
		{"chinese", `<h2>营业时间</h2><p>周一至周五</p>`, "", []string{"营业时间: 周一至周五。"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			title, md := HTMLToMarkdown(c.html)
			if title != c.title {
				t.Errorf("title %q, want %q", title, c.title)
			}
			a, err := parseArticle("page.md", md)
			if err != nil {
				t.Fatalf("%v\nmarkdown:\n%s", err, md)
			}
			var got []string
			for _, s := range a.sections {
				got = append(got, s.heading+": "+s.text)
			}
			if strings.Join(got, "\n") != strings.Join(c.spoken, "\n") {
				t.Errorf("spoken\n%q\nwant\n%q\nmarkdown:\n%s", got, c.spoken, md)
			}
		})
	}
}

func TestTextToMarkdown(t *testing.T) {
	md := TextToMarkdown("Refunds are paid\r\nwithin ten days.\r\n\r\n  \n* not a list, _not emphasis_\n\n# not a heading")
	a, err := parseArticle("t.md", md)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.sections) != 1 || a.sections[0].text != "Refunds are paid within ten days. * not a list, _not emphasis_. # not a heading." {
		t.Errorf("sections %+v\nmarkdown:\n%s", a.sections, md)
	}
}

// FuzzHTML feeds arbitrary HTML to the converter: it must not panic, and
// what it makes must be an article whose text has no markup of its own.
func FuzzHTML(f *testing.F) {
	for _, s := range []string{
		"", "<", "<p>a</p>", "<script>", "<title>t", "</svg></svg>x", "<svg><svg/>x</svg>y", "<h1>a<h2>b",
		"<li>- x", "<td>a<td>b", "&amp;&#0;&#xFFFFFF;", "<p>\\*a\\*</p>", "<!-- x", "<pre>```</pre>", "<p>1) x</p>",
		"<embed><p>x</p>", "\x00<p>\xff</p>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		title, md := HTMLToMarkdown(src)
		for _, s := range []string{title, md} {
			if !utf8.ValidString(s) && utf8.ValidString(src) {
				t.Fatalf("invalid UTF-8 out of valid input: %q", s)
			}
		}
		if !utf8.ValidString(md) || strings.ContainsRune(md, 0) {
			return
		}
		a, err := parseArticle("f.md", md)
		if err != nil {
			return
		}
		for _, s := range a.sections {
			if strings.ContainsAny(s.text, "\n\r") || s.text == "" {
				t.Fatalf("section text not one spoken line: %q", s.text)
			}
		}
	})
}

// FuzzFrontMatter feeds arbitrary front matter to the article reader:
// what it accepts has a valid id, a version from 1, and dates in order.
func FuzzFrontMatter(f *testing.F) {
	for _, s := range []string{
		"id: a\nversion: 2\nsource: s\neffective: 2026-01-01\nexpires: 2026-02-01",
		"effective: 2026-01-01T10:00:00+02:00", "version: 0", "version: 99999999999999999999", "id: a/../b",
		"id: [a]", "effective: {a: b}", "expires: 2026-13-01", "keywords: a, b", "title: &a [*a]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, fm string) {
		a, err := parseArticle("f.md", "---\n"+fm+"\n---\n# Title\n\nText.\n")
		if err != nil {
			return
		}
		if !ValidID(a.id) || a.version < 1 || (!a.expires.IsZero() && !a.expires.After(a.effective)) {
			t.Fatalf("accepted %+v", a.meta)
		}
	})
}
