package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/dialog"
)

func TestSummarizeKeepsFacts(t *testing.T) {
	b := New(bankFlow(t), nil)
	turns := []dialog.Turn{
		{Speaker: dialog.Bot, Text: "Welcome to Northwind Bank. How can I help you today?"},
		{Speaker: dialog.Caller, Text: "Hi. My name is Ann Lee and my card ending 4821 was stolen."},
		{Speaker: dialog.Bot, Text: "Shall I block the card now? Please say yes or no."},
		{Speaker: dialog.Caller, Text: "Yes."},
		{Speaker: dialog.Caller, Text: "Lovely weather today, isn't it."},
		{Speaker: dialog.Caller, Text: "Hmm, let me think."},
	}
	// Then a fact a turn, more than the summary holds.
	for i := len(turns); i < 30; i++ {
		text := fmt.Sprintf("There was a payment of %d dollars I don't know about.", 10+i)
		turns = append(turns, dialog.Turn{Speaker: dialog.Caller, Text: text})
	}
	// Fold four turns at a time, as the call's memory does.
	summary := ""
	for i := 0; i < len(turns); i += 4 {
		var err error
		summary, err = b.Summarize(context.Background(), summary, turns[i:min(i+4, len(turns))])
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("summary after %d turns:\n%s", len(turns), summary)
	for _, want := range []string{"Ann Lee", "4821", "(Lost or stolen card)", "Shall I block the card now? Caller: yes.", "39 dollars"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, not := range []string{"weather", "let me think"} {
		if strings.Contains(summary, not) {
			t.Errorf("summary keeps small talk %q", not)
		}
	}
	if n := len(strings.Split(summary, "\n")); n != maxSummaryLines {
		t.Errorf("%d lines, want the bound, %d", n, maxSummaryLines)
	}
	again, _ := b.Summarize(context.Background(), summary, nil)
	if again != summary {
		t.Error("no turns adds nothing")
	}
}
