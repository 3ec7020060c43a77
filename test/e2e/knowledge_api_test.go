package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A supervisor replaces a policy article through the API while a caller
// is on the line: a malformed document is refused with a clear error and
// the article in effect keeps serving; the replacement answers the
// caller's next question, and the call's record names the version each
// answer came from.
func TestKnowledgeReplacedThroughTheAPI(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "branches"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "branches", "opening-hours.md"), []byte("---\nsource: branch handbook\n---\n"+
		"# Opening hours\n\n## Branch opening hours\n\nOur branches are open Monday to Friday from nine to five.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startHotline(t, "", fmt.Sprintf("dialog: {brain: rules, knowledge: %q}", dir))
	api := newAPIClient(t, n)
	send := func(method, path, ctype, body string) (int, map[string]any) {
		t.Helper()
		resp, b := api.send(method, path, ctype, body)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %s %q: %v", method, path, resp.Status, b, err)
		}
		return resp.StatusCode, v
	}
	const article = "/api/v1/knowledge/branches/opening-hours"
	current := func() string {
		t.Helper()
		status, a := send("GET", article, "", "")
		if status != 200 {
			t.Fatalf("GET %s: %d %v", article, status, a)
		}
		return fmt.Sprintf("v%v active %v", a["version"], a["active"])
	}
	if got := current(); got != "v1 active true" {
		t.Fatalf("before the call the article is %s", got)
	}

	c, call := startHoursCall(t, n)
	waitFirstHours(t, n, call, map[string]any{"article": "branches/opening-hours", "article_version": 1.0})

	for _, bad := range []struct{ query, ctype, body, says string }{
		{"", "text/html", "<html><script>var hours = 'never';</script><style>p{}</style></html>", "no text to speak"},
		{"?effective=next-monday", "text/markdown", "Our branches are open on weekends only.", "want a date YYYY-MM-DD"},
		{"", "application/pdf", "%PDF-1.7", "want Content-Type text/markdown, text/plain or text/html"},
	} {
		status, e := send("PUT", article+bad.query, bad.ctype, bad.body)
		if msg := fmt.Sprint(e["error"]); status/100 != 4 || !strings.Contains(msg, bad.says) {
			t.Errorf("malformed upload %q: %d %q, want a 4xx saying %q", bad.body, status, msg, bad.says)
		}
	}
	if got := current(); got != "v1 active true" {
		t.Errorf("after malformed uploads the article is %s, want v1 active", got)
	}

	status, a := send("PUT", article+"?source=operations+memo+42", "text/html",
		"<h1>Opening hours</h1><h2>Branch opening hours</h2><p>Our branches are open every day from eight in the morning to eight in the evening.</p>")
	if status != 200 || a["version"] != 2.0 || a["active"] != true || a["source"] != "operations memo 42" {
		t.Fatalf("replacement: %d %v", status, a)
	}
	if _, err := os.Stat(filepath.Join(dir, "branches", "opening-hours.v2.md")); err != nil {
		t.Errorf("the replacement is not in the knowledge folder: %v", err)
	}

	sr := c.sipp.wait(t)
	c.capt.stop(t)
	sr.expectSuccess(t)
	n.logs.none(t, "call flow failed", call)
	checkHoursAnswers(t, n, call)

	n.logs.must(t, "call ended", call, 5*time.Second)
	status, page := send("GET", "/api/v1/calls", "", "")
	calls, _ := page["calls"].([]any)
	if status != 200 || len(calls) != 1 {
		t.Fatalf("calls: %d %v", status, page)
	}
	id := calls[0].(map[string]any)["id"]
	status, detail := send("GET", fmt.Sprintf("/api/v1/calls/%v", id), "", "")
	turns, _ := detail["transcript"].([]any)
	var cited []string
	for _, tn := range turns {
		tn := tn.(map[string]any)
		if c, ok := tn["citation"].(map[string]any); ok && tn["speaker"] == "hotline" {
			text, _ := tn["text"].(string)
			cited = append(cited, fmt.Sprintf("%v v%v: %s", c["article"], c["version"], text[:min(len(text), 40)]))
		}
	}
	want := []string{
		"branches/opening-hours v1: Our branches are open Monday to Friday f",
		"branches/opening-hours v2: Our branches are open every day from eig",
	}
	if status != 200 || strings.Join(cited, "|") != strings.Join(want, "|") {
		t.Errorf("answers cite\n%q\nwant\n%q", cited, want)
	}
}
