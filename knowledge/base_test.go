package knowledge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cards/deep/lost.md", "# Lost card\n\nCall us to block it.\n\n## Replacement\n\nA new card comes in five days.")
	write("HOURS.MD", "# Hours\nOpen nine to five.")
	write("notes.txt", "# Not an article\nignored")
	write(".#lost.md", "\xff editor lock file")
	write(".git/README.md", "\xff not ours")
	kb, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if kb.Len() != 3 {
		t.Fatalf("%d sections, want 3", kb.Len())
	}
	got := kb.Search("lost card", 1)
	if len(got) != 1 || got[0].Doc != "cards/deep/lost.md" || got[0].Title != "Lost card" || got[0].Heading != "" || got[0].Text != "Call us to block it." || got[0].Score <= 0 {
		t.Errorf("lost card: %+v", got)
	}
	if got := kb.Search("hours", 5); len(got) != 1 || got[0].Doc != "HOURS.MD" {
		t.Errorf("hours: %+v", got)
	}

	write("cards/broken.md", "---\ntitle: never closed\n")
	if _, err := Load(dir); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "cards/broken.md") {
		t.Errorf("broken article: %v, want ErrMalformed naming cards/broken.md", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v, want fs.ErrNotExist", err)
	}

	empty, err := Load(t.TempDir())
	if err != nil || empty.Len() != 0 || empty.Search("card", 3) != nil {
		t.Errorf("empty folder: %v, %d sections", err, empty.Len())
	}
}

func TestSearchEdges(t *testing.T) {
	kb := sample(t)
	for _, q := range []string{"", "   ", "the and of what is", "xyzzy qwerty", "？！"} {
		if got := kb.Search(q, 3); got != nil {
			t.Errorf("%q: %s, want nil", q, describe(got))
		}
	}
	if got := kb.Search("card", 0); got != nil {
		t.Errorf("k 0: %d passages", len(got))
	}
	got := kb.Search("card", 1000)
	if len(got) < 10 || len(got) > kb.Len() {
		t.Fatalf("card: %d passages of %d", len(got), kb.Len())
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Errorf("not best first at %d: %.3f after %.3f", i, got[i].Score, got[i-1].Score)
		}
	}
	// The same query always gets the same answer, ties included.
	again := kb.Search("card", 1000)
	for i := range got {
		if got[i] != again[i] {
			t.Fatalf("second search differs at %d", i)
		}
	}
	// A passage handed out is the caller's: changing it changes nothing.
	got[0].Text = "changed"
	if kb.Search("card", 1)[0].Text == "changed" {
		t.Error("Search hands out the base's own passage")
	}
}

// TestSampleBase holds the sample articles to what the brains expect of
// them: twenty articles of two to four sections, some in Chinese, whose
// sections start with a sentence short enough to be the whole answer.
func TestSampleBase(t *testing.T) {
	kb := sample(t)
	sections := map[string]int{}
	chinese := map[string]bool{}
	for _, p := range kb.passages {
		sections[p.Doc]++
		if strings.ContainsFunc(p.Title, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			chinese[p.Doc] = true
		}
		if strings.ContainsAny(p.Text, "*#[]|`<>_\n") {
			t.Errorf("%s %q: Markdown left in %q", p.Doc, p.Heading, p.Text)
		}
		if first := firstSentence(p.Text); len([]rune(first)) > 160 {
			t.Errorf("%s %q: first sentence is %d characters: %q", p.Doc, p.Heading, len([]rune(first)), first)
		}
	}
	if len(sections) != 20 || len(chinese) < 3 {
		t.Errorf("%d articles, %d in Chinese; want 20, at least 3", len(sections), len(chinese))
	}
	for doc, n := range sections {
		if n < 2 || n > 4 {
			t.Errorf("%s: %d sections, want 2 to 4", doc, n)
		}
	}
}

func firstSentence(s string) string {
	if i := strings.IndexAny(s, ".?!。？！"); i >= 0 {
		return s[:i]
	}
	return s
}

// TestConcurrentReload searches from many goroutines while the base is
// swapped, as the folder watcher will do; run with -race.
func TestConcurrentReload(t *testing.T) {
	var cur atomic.Pointer[Base]
	cur.Store(sample(t))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				q := questions[(g*50+i)%len(questions)]
				if got := cur.Load().Search(q.q, 3); len(got) == 0 || got[0].Doc != q.doc {
					t.Errorf("%q: %s", q.q, describe(got))
					return
				}
			}
		})
	}
	for range 3 {
		cur.Store(sample(t))
	}
	wg.Wait()
}

// Example shows the rule brain's use: the best section, and its first
// sentence as the spoken answer.
func Example() {
	kb, err := Load("../examples/bank/knowledge")
	if err != nil {
		panic(err)
	}
	for _, q := range []string{"i lost my debit card", "你们几点开门"} {
		best := kb.Search(q, 1)[0]
		fmt.Printf("%s / %s: %s\n", best.Title, best.Heading, firstSentence(best.Text))
	}
	// Output:
	// Lost or stolen card / Report a lost or stolen card: Call us straight away on 0800 555 0100, day or night, and we will block your card at once
	// 营业时间 / 网点营业时间: 网点营业时间为周一至周五上午九点到下午五点，周六上午九点到下午一点
}
