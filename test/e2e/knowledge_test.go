package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An operator changes the opening hours while a caller is on the line:
// the caller's next question is answered from the new article, without a
// restart and without dropping the call.
func TestKnowledgeChangesDuringACall(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	dir := t.TempDir()
	article := filepath.Join(dir, "hours.md")
	write := func(hours string) {
		t.Helper()
		text := "# Opening hours\n\n## Branch opening hours\n\nOur branches are open " + hours + ".\n"
		if err := os.WriteFile(article, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Monday to Friday from nine to five")
	n := startHotline(t, "", fmt.Sprintf("dialog: {brain: rules, knowledge: %q}", dir))

	c, call := startHoursCall(t, n)
	waitFirstHours(t, n, call, nil)
	write("every day from eight in the morning to eight in the evening")
	n.logs.must(t, "knowledge reloaded", nil, 15*time.Second)

	sr := c.sipp.wait(t)
	c.capt.stop(t)
	sr.expectSuccess(t)
	checkHoursAnswers(t, n, call)
}

// startHoursCall starts a caller who asks for the opening hours twice, the
// second time once the knowledge has changed.
func startHoursCall(t *testing.T, n *node) (c *spokenCall, call map[string]any) {
	t.Helper()
	phrases := []string{"what are your opening hours", "what are your opening hours"}
	c = startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 22 * time.Second})
	return c, map[string]any{"call_id": c.sipp.res.CallID}
}

// waitFirstHours waits for the call's first answer to give the hours the
// article said at first, its log line with the attributes of call and
// cites. The line holds the sentences ready when the answer began to
// play, so it is matched by its start.
func waitFirstHours(t *testing.T, n *node, call, cites map[string]any) {
	t.Helper()
	attrs := maps.Clone(call)
	maps.Copy(attrs, cites)
	answered := func() bool {
		for _, r := range n.logs.find("hotline said", attrs) {
			if strings.HasPrefix(fmt.Sprint(r["text"]), "Our branches are open Monday to Friday from nine to five.") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(20 * time.Second); !answered(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first answer was not the first article:\n%s", n.logs.textAbove("DEBUG"))
		}
	}
}

// checkHoursAnswers checks that the call was told the old hours, then the
// new ones.
func checkHoursAnswers(t *testing.T, n *node, call map[string]any) {
	t.Helper()
	var answers []string
	for _, r := range n.logs.find("hotline said", call) {
		if text := fmt.Sprint(r["text"]); strings.HasPrefix(text, "Our branches") {
			answers = append(answers, text)
		}
	}
	if len(answers) != 2 || !strings.Contains(answers[1], "every day from eight in the morning") {
		t.Errorf("answers %q, want the old hours, then the new ones", answers)
	}
}
