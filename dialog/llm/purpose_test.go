package llm

import (
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/dialog"
)

// On a call Hotline placed, the model is told why it called; on a call it
// took, nothing of the kind.
func TestCallContextPurpose(t *testing.T) {
	c := &dialog.Conversation{CallID: "c1", Language: "en", Profile: dialog.Profile{Name: "Lena Park",
		Purpose: "remind Lena Park that her card payment is due on March 31 and offer to book a reminder."}}
	got := callContext(c, dialog.Input{Text: "hello"}, nil, nil)
	if !strings.Contains(got, "You called this customer. Purpose of the call: remind Lena Park that her card payment is due on March 31") {
		t.Errorf("context without the purpose:\n%s", got)
	}
	c.Profile.Purpose = ""
	if got := callContext(c, dialog.Input{Text: "hello"}, nil, nil); strings.Contains(got, "You called") {
		t.Errorf("an inbound call's context speaks of a call placed:\n%s", got)
	}
}
