package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/openaitest"
	openai "github.com/sashabaranov/go-openai"
)

// The caller asks a question in their own words, hears the answer from
// the knowledge base, then asks for a person and is handed over with a
// summary: once with the embedded rule brain, once with the LLM brain on
// an OpenAI-compatible test server.
func TestSIPpDialog(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	phrases := []string{"what are your opening hours", "i want to speak to an agent"}
	// The greeting lasts about 3 s; the answer about 8 s.
	starts := []time.Duration{4 * time.Second, 17 * time.Second}

	t.Run("rules", func(t *testing.T) {
		t.Parallel()
		n := startHotline(t, "", "dialog: {brain: rules}")
		c := startSpokenCall(t, n, "slt", phrases, starts)
		sr := c.sipp.wait(t)
		c.capt.stop(t)
		answer, transfer := checkDialogCall(t, n, sr)
		if !strings.Contains(answer, "Monday to Friday") {
			t.Errorf("the answer %q is not the opening hours article", answer)
		}
		if sum := fmt.Sprint(transfer["summary"]); !strings.Contains(sum, "Opening hours") {
			t.Errorf("the agent's summary %q does not say what the caller asked", sum)
		}
	})

	t.Run("llm", func(t *testing.T) {
		t.Parallel()
		srv := openaitest.New(t, e2eOpenAIKey)
		srv.Answer(func(r openaitest.Request) openaitest.Reply {
			msgs := r.Chat.Messages
			last := msgs[len(msgs)-1]
			switch {
			case !r.Chat.Stream:
				return openaitest.Text("The caller asked for the opening hours and was told them, then asked for an agent.")
			case last.Role == openai.ChatMessageRoleTool:
				return openaitest.Text("Our branches are open ", "Monday to Friday from nine to five. ",
					"On Saturdays we open from nine to one.")
			default:
				return openaitest.Calls(openaitest.ToolCall{ID: "call_1", Name: "lookup_knowledge",
					Args: `{"query": "opening hours"}`, Split: 3})
			}
		})
		n := startHotline(t, "", fmt.Sprintf("dialog: {brain: llm}\nllm: {base_url: %q, model: test-model}", srv.URL))
		c := startSpokenCall(t, n, "slt", phrases, starts)
		sr := c.sipp.wait(t)
		c.capt.stop(t)
		answer, transfer := checkDialogCall(t, n, sr)
		if !strings.Contains(answer, "Monday to Friday from nine to five") {
			t.Errorf("the answer %q is not the model's", answer)
		}
		if sum := fmt.Sprint(transfer["summary"]); !strings.Contains(sum, "opening hours") {
			t.Errorf("the agent's summary %q is not the model's", sum)
		}
		// The model was asked with the caller's words, looked the
		// question up, and got the article back.
		var asked, lookedUp bool
		for _, r := range srv.Requests() {
			for _, m := range r.Chat.Messages {
				asked = asked || m.Role == openai.ChatMessageRoleUser && strings.Contains(m.Content, "opening hours")
				lookedUp = lookedUp || m.Role == openai.ChatMessageRoleTool && strings.Contains(m.Content, "Monday to Friday")
			}
		}
		if !asked || !lookedUp {
			t.Errorf("requests to the model: caller's words %v, knowledge returned %v", asked, lookedUp)
		}
	})
}

// checkDialogCall checks that the call heard both phrases, answered the
// first and handed the call over on the second; it returns the answer and
// the transfer's log line.
func checkDialogCall(t *testing.T, n *node, sr sippResult) (string, map[string]any) {
	t.Helper()
	sr.expectSuccess(t)
	call := map[string]any{"call_id": sr.CallID}
	n.logs.must(t, "call ended", call, 10*time.Second)
	n.logs.none(t, "call flow failed", call)
	var heard []string
	for _, r := range n.logs.find("caller said", call) {
		heard = append(heard, fmt.Sprint(r["text"]))
	}
	t.Logf("Hotline heard %q", heard)
	var answer string
	for _, r := range n.logs.find("hotline said", call) {
		t.Logf("Hotline said %q (first audio after %v ms)", r["text"], r["first_audio_ms"])
		if text := fmt.Sprint(r["text"]); strings.Contains(text, "Monday") {
			answer = text
		}
	}
	transfer := n.logs.must(t, "transfer", call, time.Second)
	t.Logf("transfer to %v (%v): %v", transfer["queue"], transfer["reason"], transfer["summary"])
	if transfer["queue"] != "general" {
		t.Errorf("transferred to %v, want the general queue", transfer["queue"])
	}
	return answer, transfer
}
