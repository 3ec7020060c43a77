package knowledge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzArticle feeds arbitrary text to the Markdown reader and searches
// what it made: neither may panic, and what is read must be fit to speak.
func FuzzArticle(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(sampleDir, "*", "*.md"))
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src), "lost card")
	}
	for _, s := range []string{
		"", "---", "---\n---", "#", "# \n##\n###", "[a](b", "![x](", "<!--", "```", "~~~\n~~", "|a|\n|-|\n|b|",
		"a\n===", "> > - [ ] x\n---", "\\", "\\*", "_a_b_", "\uE02A", "*" + strings.Repeat("[", 100),
		"---\nkeywords: !!binary aGk=\n---\nx", "---\ntitle: &a [*a]\n---\nx",
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, src, query string) {
		a, err := parseArticle("f.md", src)
		if err != nil {
			return
		}
		for _, s := range a.sections {
			if strings.ContainsAny(s.text, "\n\r") || strings.TrimSpace(s.text) != s.text || s.text == "" || !utf8.ValidString(s.text) {
				t.Fatalf("section text not one spoken line: %q", s.text)
			}
		}
		kb, err := New(map[string]string{"f.md": src})
		if err != nil {
			t.Fatalf("parsed but New failed: %v", err)
		}
		for _, q := range []string{query, a.sections[0].text} {
			for _, p := range kb.Search(q, 3) {
				if p.Score <= 0 {
					t.Fatalf("%q: passage with score %v", q, p.Score)
				}
			}
		}
	})
}
