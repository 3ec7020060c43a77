package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// Hotline is killed with SIGKILL in the middle of a conversation. After a
// restart, the call's record holds every turn said before the kill, and
// the call is closed out as interrupted.
func TestKilledMidCallKeepsEveryTurn(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	n := startHotline(t, "", "dialog: {brain: rules}")
	phrases := []string{"what are your opening hours", "i lost my card", "goodbye"}
	c := startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 15 * time.Second, 40 * time.Second})
	call := map[string]any{"call_id": c.sipp.res.CallID}

	// The kill comes once Hotline has asked for the card's last digits
	// (the turn is in the call's transcript file, written when the prompt
	// has been spoken), before the caller answers.
	tr := n.logs.must(t, "transcript", call, 10*time.Second)
	var want []string
	asked := func() bool {
		want = want[:0]
		lost := false
		for _, turn := range readTranscript(t, fmt.Sprint(tr["path"])) {
			text := fmt.Sprint(turn["text"])
			if text != "" {
				want = append(want, text)
			}
			if lost && turn["speaker"] == "hotline" && text != "" {
				return true
			}
			lost = lost || text == "i lost my card"
		}
		return false
	}
	deadline := time.Now().Add(40 * time.Second)
	for !asked() {
		if time.Now().After(deadline) {
			t.Fatalf("Hotline did not ask for the card's digits; turns %q\n%s", want, n.logs.textAbove("DEBUG"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.Kill()
	c.sipp.cancel()
	c.sipp.cmd.Wait()
	c.capt.stop(t)

	n2 := restartHotline(t, n)
	closed := n2.logs.must(t, "calls interrupted by the last stop closed", nil, 5*time.Second)
	t.Logf("after the restart: %v", closed["calls"])

	st, err := store.Open(t.Context(), store.Config{Driver: store.SQLite, Path: filepath.Join(n.Dir, "hotline.db"), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ListCalls(t.Context(), store.CallFilter{})
	if err != nil || len(page.Calls) != 1 {
		t.Fatalf("calls in the record: %+v, %v", page.Calls, err)
	}
	rec := page.Calls[0]
	if rec.CallID != call["call_id"] || rec.Disposition != store.DispositionInterrupted {
		t.Errorf("the call's record %+v, want %v closed as interrupted", rec, call["call_id"])
	}
	detail, err := st.Call(t.Context(), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tn := range detail.Turns {
		if tn.Text != "" {
			got = append(got, tn.Text)
		}
	}
	for _, w := range want {
		if w != "" && !slices.Contains(got, w) {
			t.Errorf("turn %q, said before the kill, is not in the record %q", w, got)
		}
	}
	if len(detail.Recordings) == 0 || len(detail.Emotions) == 0 {
		t.Errorf("the record lacks the call's recording (%d) or its emotion timeline (%d)", len(detail.Recordings), len(detail.Emotions))
	}
	t.Logf("%d turns in the transcript before the kill, %d in the record after the restart", len(want), len(got))
}
