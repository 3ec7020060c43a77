package rules

import (
	"testing"

	"github.com/hotline-cc/hotline/redact"
)

func bankFlow(t testing.TB) *Flow {
	t.Helper()
	f, err := LoadFlow("../../examples/bank/flow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// recognized are utterances as a recognizer hands them over: words dropped
// or misheard, other wordings than the examples'. An empty intent means
// the utterance must not be taken for any intent.
var recognized = []struct{ text, intent string }{
	// Homophones and near-homophones.
	{"I lost my cart", "lost_card"},
	{"lost my cart", "lost_card"},
	{"my card was stolen yesterday", "lost_card"},
	{"my card got stolen", "lost_card"},
	{"somebody stole my purse with my cards", "lost_card"},
	{"please block the card", "lost_card"},
	{"can you freeze my cart", "lost_card"},
	{"I've lost my debit card", "lost_card"},
	{"card lost", "lost_card"},
	{"I need to activate the new card", "activate_card"},
	{"activation of my card", "activate_card"},
	{"my new cart came in the post", "activate_card"},
	{"I haven't lost my card, I want to activate it", "activate_card"},
	{"what time do you open", "opening_hours"},
	{"when do you open tomorrow", "opening_hours"},
	{"what are the opening ours", "opening_hours"},
	{"is the branch open on sunday", "opening_hours"},
	{"what time do you close today", "opening_hours"},
	{"check balance", "balance"},
	{"how much is my balance", "balance"},
	{"what is the balance of my account", "balance"},
	{"how much money is in my account", "balance"},
	{"what fees do you charge", "fees"},
	{"what are the charges", "fees"},
	{"how much is the monthly fee", "fees"},
	{"I want to send money to my family abroad", "international_transfer"},
	{"international transfers", "international_transfer"},
	{"transfer money to an overseas account", "international_transfer"},
	{"what's the daily limit for transfers", "transfer_limits"},
	{"increase my transfer limit", "transfer_limits"},
	{"I'd like to open a account", "open_account"},
	{"open new account", "open_account"},
	{"how do I open an account with you", "open_account"},
	{"I want to close my account please", "close_account"},
	{"I don't want to close my account", ""},
	{"I'd like to apply for a mortgage", "loan"},
	{"can I get a lone", "loan"},
	{"personal loan please", "loan"},
	{"I want to report a fraud", "fraud"},
	{"there is a payment on my account I don't recognise", "fraud"},
	{"I've been scammed", "fraud"},
	{"I want to make a complaint about the branch", "complaint"},
	{"your service is terrible", "complaint"},
	{"let me talk to a real person", "agent"},
	{"agent", "agent"},
	{"operator please", "agent"},
	{"can I speak to a representative", "agent"},
	{"no that's all goodbye", "goodbye"},
	{"bye bye", "goodbye"},
	{"card", ""},
	{"hello", ""},
	{"the weather is nice", ""},
	// Chinese.
	{"我的卡丢了", "lost_card"},
	{"我卡丢了", "lost_card"},
	{"银行卡被偷了", "lost_card"},
	{"我要挂失我的银行卡", "lost_card"},
	{"我的新卡怎么激活", "activate_card"},
	{"营业时间", "opening_hours"},
	{"你们周六几点开门", "opening_hours"},
	{"查余额", "balance"},
	{"我账户里有多少钱", "balance"},
	{"转账限额", "transfer_limits"},
	{"每天转账限额是多少", "transfer_limits"},
	{"我想往国外汇款", "international_transfer"},
	{"手续费多少钱", "fees"},
	{"我想开个户", "open_account"},
	{"我想申请房贷", "loan"},
	{"我的账户被盗刷了", "fraud"},
	{"我要投诉你们的服务", "complaint"},
	{"转人工服务", "agent"},
	{"好的再见", "goodbye"},
	{"今天天气很好", ""},
}

func TestMatchRecognized(t *testing.T) {
	f := bankFlow(t)
	right := 0
	for _, c := range recognized {
		m := f.Match(c.text)
		got := m.Intent
		if m.Score < f.Threshold {
			got = ""
		}
		if got == c.intent {
			right++
		} else {
			t.Logf("miss: %q → %q (%.2f), want %q", c.text, m.Intent, m.Score, c.intent)
		}
	}
	acc := float64(right) / float64(len(recognized))
	t.Logf("accuracy on recognized speech: %d/%d = %.1f%%", right, len(recognized), 100*acc)
	if acc < 0.95 {
		t.Errorf("accuracy %.1f%% is under 95%%", 100*acc)
	}
}

func TestMatchExamples(t *testing.T) {
	f := bankFlow(t)
	n := 0
	for _, it := range f.Intents {
		for _, exs := range it.Examples {
			for _, e := range exs {
				n++
				if m := f.Match(e); m.Intent != it.Name || m.Score < f.Threshold {
					t.Errorf("example %q of %s → %q (%.2f)", e, it.Name, m.Intent, m.Score)
				}
			}
		}
	}
	t.Logf("%d examples matched their intent", n)
}

// Every label the redaction writes is one the matcher reads as a pause,
// not as a word.
func TestRedactionLabelsAreKnown(t *testing.T) {
	for _, l := range []string{redact.Card, redact.ID, redact.IBAN, redact.SSN, redact.Phone, redact.Email} {
		if !redactionLabel.MatchString(l) {
			t.Errorf("redaction label %s is read as words", l)
		}
	}
}
