package knowledge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A policy article replaced on disk answers the next search; a malformed
// one is refused with its name and the previous text keeps serving.
func TestLiveFollowsTheFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fees.md")
	write := func(text string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// A distinct modification time, whatever the file system's
		// timestamp resolution.
		at := time.Now().Add(-age)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(l *Live) string {
		ps := l.Search("card replacement fee", 1)
		if len(ps) == 0 {
			return ""
		}
		return ps[0].Text
	}
	write("# Fees\n\n## Card replacement fee\n\nA replacement card costs 5 dollars.\n", time.Hour)
	l, err := LoadLive(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer(l), "5 dollars") {
		t.Fatalf("first answer %q", answer(l))
	}
	if changed, err := l.Reload(); changed || err != nil {
		t.Errorf("nothing changed: reload %v, %v", changed, err)
	}

	write("# Fees\n\n## Card replacement fee\n\nFrom today a replacement card is free.\n", time.Minute)
	if changed, err := l.Reload(); !changed || err != nil {
		t.Fatalf("replaced article: reload %v, %v", changed, err)
	}
	if got := answer(l); !strings.Contains(got, "free") {
		t.Errorf("after the change the answer is %q", got)
	}

	write("\xff\xfe not an article", 0)
	changed, err := l.Reload()
	if changed || err == nil || !strings.Contains(err.Error(), "fees.md") {
		t.Errorf("malformed article: reload %v, %v; want an error naming fees.md", changed, err)
	}
	if got := answer(l); !strings.Contains(got, "free") {
		t.Errorf("after a malformed article the answer is %q, want the previous one", got)
	}
}
