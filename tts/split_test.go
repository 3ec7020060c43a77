package tts

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitSentences(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"empty", "", nil},
		{"blank", "  \n\t ", nil},
		{"punctuation only", "...!?", nil},
		{"one", "Thank you for calling Hotline.", []string{"Thank you for calling Hotline."}},
		{"no stop", "Thank you for calling Hotline", []string{"Thank you for calling Hotline"}},
		{"english", "Thank you for calling. How can I help you today? Please hold!",
			[]string{"Thank you for calling.", "How can I help you today?", "Please hold!"}},
		{"semicolon", "Sales are open until six; support never closes.",
			[]string{"Sales are open until six;", "support never closes."}},
		{"abbreviations", "Dr. Smith will call you back. Mr. and Mrs. Jones are waiting, e.g. at 5 p.m. tomorrow.",
			[]string{"Dr. Smith will call you back.", "Mr. and Mrs. Jones are waiting, e.g. at 5 p.m. tomorrow."}},
		{"initials", "Ask for J. R. Smith at the front desk. He knows.",
			[]string{"Ask for J. R. Smith at the front desk. He knows."}},
		{"decimals", "The rate is 3.5 percent. Your balance is $1,204.75 today.",
			[]string{"The rate is 3.5 percent.", "Your balance is $1,204.75 today."}},
		{"address", "Visit hotline.cc for details. Goodbye for now.",
			[]string{"Visit hotline.cc for details.", "Goodbye for now."}},
		{"number abbreviation", "Your ticket is No. 42 in the queue. I said no. Then he left.",
			[]string{"Your ticket is No. 42 in the queue.", "I said no. Then he left."}},
		{"ellipsis and runs", "Well... that is odd?! Let me check again.",
			[]string{"Well... that is odd?!", "Let me check again."}},
		{"quotes", `He said "call me back." Then he hung up.`,
			[]string{`He said "call me back."`, "Then he hung up."}},
		{"merges short", "Yes. Your order shipped on Monday. OK.",
			[]string{"Yes. Your order shipped on Monday. OK."}},
		{"short alone", "Hi.", []string{"Hi."}},
		{"whitespace", "  Hello   there,\n  friend.   Bye now, see you soon. ",
			[]string{"Hello there, friend.", "Bye now, see you soon."}},
		{"chinese", "您好，欢迎致电热线。请问有什么可以帮您？我们的营业时间是早上九点到晚上六点！",
			[]string{"您好，欢迎致电热线。", "请问有什么可以帮您？", "我们的营业时间是早上九点到晚上六点！"}},
		{"chinese merge short", "好的。您的订单已经发货了；预计明天送达。",
			[]string{"好的。您的订单已经发货了；", "预计明天送达。"}},
		{"chinese decimals", "利率是3.5%。谢谢您的来电。", []string{"利率是3.5%。", "谢谢您的来电。"}},
		{"mixed", "Your code is A12. 您的验证码是A12。", []string{"Your code is A12.", "您的验证码是A12。"}},
		{"chinese quote", "他说：“请稍等。”然后挂断了电话，没有留下任何信息。",
			[]string{"他说：“请稍等。”", "然后挂断了电话，没有留下任何信息。"}},
		{"list", "You can:\n- check your balance\n- pay a bill\n1. Press one\n2. Press two for an agent",
			[]string{"You can: check your balance", "pay a bill", "1. Press one", "2. Press two for an agent"}},
		{"paragraphs", "First paragraph without a stop\n\nSecond paragraph here",
			[]string{"First paragraph without a stop", "Second paragraph here"}},
		{"wrapped lines", "This sentence is wrapped\nacross two lines. And this one ends.",
			[]string{"This sentence is wrapped across two lines.", "And this one ends."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitSentences(tc.text)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitSentences(%q)\n got %q\nwant %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestSplitSentencesLong(t *testing.T) {
	long := strings.Repeat("we will look into the account history, ", 20) + "and then call you back."
	got := SplitSentences(long)
	if len(got) < 3 {
		t.Fatalf("a %d-letter run-on sentence gave %d pieces, want it split", weight(long), len(got))
	}
	for _, s := range got {
		if weight(s) > maxSentence {
			t.Errorf("piece of weight %d > %d: %q", weight(s), maxSentence, s)
		}
		if !strings.HasSuffix(s, ",") && !strings.HasSuffix(s, ".") {
			t.Errorf("piece not cut at a comma: %q", s)
		}
	}
	if strings.Join(got, " ") != collapseSpace(long) {
		t.Errorf("pieces do not add up to the text")
	}
	zh := strings.Repeat("请您耐心等待", 40) // no punctuation at all
	var n int
	for _, s := range SplitSentences(zh) {
		n += len([]rune(s))
		if weight(s) > maxSentence {
			t.Errorf("piece of weight %d", weight(s))
		}
	}
	if n != len([]rune(zh)) {
		t.Errorf("Chinese pieces hold %d characters, want %d", n, len([]rune(zh)))
	}
}

func FuzzSplitSentences(f *testing.F) {
	for _, s := range []string{"Dr. No. 3.5!", "你好。再见！", "a\n\n- b\n1. c", "...", "Ok."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SplitSentences(s)
		for _, p := range got {
			if p == "" || p != strings.TrimSpace(p) {
				t.Fatalf("bad piece %q from %q", p, s)
			}
		}
		// Nothing spoken is lost: every letter appears in order.
		var in, out []rune
		for _, r := range collapseSpace(s) {
			if weight(string(r)) > 0 {
				in = append(in, r)
			}
		}
		for _, r := range strings.Join(got, " ") {
			if weight(string(r)) > 0 {
				out = append(out, r)
			}
		}
		if string(in) != string(out) && !hasBullet(s) {
			t.Fatalf("letters changed: %q -> %q", s, got)
		}
	})
}

// hasBullet: bullet marks are dropped, and "+" or "·" may be letters'
// neighbours only as layout.
func hasBullet(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if isBullet(strings.TrimSpace(line)) {
			return true
		}
	}
	return false
}
