package guard

import "testing"

func TestWantsHuman(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"Agent.", true},
		{"agent please", true},
		{"Representative!", true},
		{"representative, representative", true},
		{"a real person please", true},
		{"Operator", true},
		{"human", true},
		{"Can I speak to someone?", true},
		{"I want to talk to a real person", true},
		{"let me speak with a representative", true},
		{"I need an agent", true},
		{"can I get a human", true},
		{"give me a live agent now", true},
		{"transfer me please", true},
		{"Could you put me through to customer service", true},
		{"is there a human I can talk to", true},
		{"why can't I talk to a person", true},
		{"I don't want to talk to a robot", true},
		{"I'd like to speak to your manager", true},
		{"um I just want a human being", true},
		{"This is useless. Agent!", true},
		{"get me a person", true},

		{"I am not a robot", false},
		{"my agent told me to call you", false},
		{"the travel agent booked it", false},
		{"I don't need an agent", false},
		{"no need to transfer me, thanks", false},
		{"Don't transfer me, I'll wait.", false},
		{"I'd rather not talk to a person", false},
		{"I spoke with a representative last week", false},
		{"The agent I talked to was rude", false},
		{"It was human error on your side", false},
		{"I work in human resources", false},
		{"Are you a real person?", false},
		{"the operator of the website sent me a letter", false},
		{"I need to talk to my agent first", false},
		{"my real estate agent says the payment is late", false},
		{"", false},

		{"人工", true},
		{"转人工", true},
		{"人工服务", true},
		{"真人", true},
		{"我要转人工", true},
		{"帮我转人工客服吧", true},
		{"我想跟真人说话", true},
		{"能不能转人工", true},
		{"为什么不能转人工", true},
		{"喂，人工！", true},
		{"找个客服", true},
		{"帮我转接一下", true},
		{"我不想跟机器人说话", true},
		{"我 要 转 人工", true},

		{"不用转人工", false},
		{"不要人工，我自己查", false},
		{"我不需要人工服务", false},
		{"人工智能真厉害", false},
		{"人工费多少钱", false},
		{"你是真人吗", false},
		{"我是真人", false},
		{"我要看真人秀", false},
		{"公园里有个人工湖", false},
		{"我们的人工成本很高", false},
	} {
		if got := WantsHuman(tt.text); got != tt.want {
			t.Errorf("WantsHuman(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// FuzzGuard checks that the text guards never panic and agree with
// themselves on any input.
func FuzzGuard(f *testing.F) {
	for _, tts := range crisisCorpus {
		for _, tt := range tts {
			f.Add(tt.text)
		}
	}
	for _, s := range []string{"", "'", "n't", "'s", "不", "能不", "\xff\xfe", "i", "not", "我", "转人工\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c1, ok1 := DetectCrisis(text)
		c2, ok2 := DetectCrisis(text)
		if c1 != c2 || ok1 != ok2 {
			t.Fatalf("DetectCrisis(%q) not deterministic", text)
		}
		if ok1 && (c1.Phrase == "" || (c1.Lang != "en" && c1.Lang != "zh")) {
			t.Fatalf("DetectCrisis(%q) = %+v", text, c1)
		}
		WantsHuman(text)
	})
}

// Every phrase the guardrails give the recognizer's grammar is one they
// act on.
func TestPhrasesAreActedOn(t *testing.T) {
	for _, p := range Phrases {
		_, crisis := DetectCrisis(p)
		if !crisis && !WantsHuman(p) {
			t.Errorf("%q is in the grammar but neither a crisis nor a request for a person", p)
		}
	}
}
