package knowledge

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

const sampleDir = "../examples/bank/knowledge"

func sample(t testing.TB) *Base {
	t.Helper()
	kb, err := Load(sampleDir)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// question is what a caller asks and the section that answers it; heading
// "" accepts any section of the article.
type question struct {
	q, doc, heading string
}

// questions are callers' questions as a recognizer hands them over: lower
// case, no punctuation, filler words, and some with a word misheard or
// dropped (marked "asr").
var questions = []question{
	{"I lost my credit card", "cards/lost-or-stolen-card.md", "Report a lost or stolen card"},
	{"my wallet was stolen with my debit card in it", "cards/lost-or-stolen-card.md", "Report a lost or stolen card"},
	{"how long does a replacement card take", "cards/lost-or-stolen-card.md", "Your replacement card"},
	{"i found my card again can i still use it", "cards/lost-or-stolen-card.md", "If you find your card again"},
	{"how do i activate my new card", "cards/card-activation.md", "How to activate a new card"},
	{"my new card hasnt arrived yet", "cards/card-activation.md", "My card has not arrived"},
	{"i forgot my pin", "cards/pin.md", "Forgotten PIN"},
	{"i forgot my pen", "cards/pin.md", "Forgotten PIN"}, // asr: pen for pin
	{"how can i change my pin", "cards/pin.md", "Change your PIN"},
	{"my card is blocked i typed the wrong pin three times", "cards/pin.md", "Card blocked after three wrong PINs"},
	{"why was my card declined", "cards/declined-payments.md", "Why a payment was declined"},
	{"can i use my card when i travel abroad", "cards/declined-payments.md", "Using your card abroad"},
	{"what documents do i need to open an account", "accounts/opening-an-account.md", "Documents you need"},
	{"what do i need to bring to open a count", "accounts/opening-an-account.md", ""}, // asr: a count
	{"how do i get a bank statement", "accounts/statements.md", "Getting a statement"},
	{"can i get paper statements", "accounts/statements.md", "Paper statements"},
	{"how much interest do you charge on an overdraft", "accounts/overdraft.md", "Overdraft interest"},
	{"i want to close my account", "accounts/closing-an-account.md", "How to close your account"},
	{"i forgot my password for online banking", "online/online-banking-login.md", "Forgotten password"},
	{"i cant log in to online banking it says locked", "online/online-banking-login.md", "Locked out after wrong attempts"},
	{"i am not getting the one time code", "online/online-banking-login.md", "One-time code not arriving"},
	{"the app wont let me log in", "online/mobile-app.md", "Cannot log in to the app"},
	{"i got a new phone what do i do with the app", "online/mobile-app.md", "New or lost phone"},
	{"how do i send money to another country", "transfers/international-transfers.md", "How to send money abroad"},
	{"how much does an international transfer cost", "transfers/international-transfers.md", "Fees and exchange rates"},
	{"how much can i transfer per day", "transfers/payments-and-limits.md", "Daily transfer limits"},
	{"i sent money to the wrong account", "transfers/payments-and-limits.md", "Money sent to the wrong account"},
	{"what is the difference between a fixed and variable mortgage", "loans/mortgages.md", "Fixed and variable rates"},
	{"what are your mortgage rates", "loans/mortgages.md", ""},
	{"can i pay off my loan early", "loans/personal-loans.md", "Paying off a loan early"},
	{"is there a fee for using a cash machine abroad", "fees/account-fees.md", "Cash machine and card fees"},
	{"whats the monthly fee for my account", "fees/account-fees.md", "Monthly account fees"},
	{"is there a fee at the a t m abroad", "fees/account-fees.md", "Cash machine and card fees"}, // asr: spelled out
	{"what time do you open on saturday", "branches/opening-hours.md", "Branch opening hours"},
	{"what are your branch opening ours", "branches/opening-hours.md", "Branch opening hours"}, // asr: ours
	{"when can i call you on the phone", "branches/opening-hours.md", "Phone banking hours"},
	{"there is a payment on my account i did not make", "security/fraud.md", "Report fraud or a payment you did not make"},
	{"i think i was scanned", "security/fraud.md", ""},                                                    // asr: scammed
	{"i need a new pass word for online banking", "online/online-banking-login.md", "Forgotten password"}, // asr: split word
	{"how much is the over draft interest", "accounts/overdraft.md", "Overdraft interest"},                // asr: split word
	{"how do i set up a standing order", "transfers/payments-and-limits.md", "Standing orders"},
	{"can i over pay my mortgage", "loans/mortgages.md", "Overpaying your mortgage"}, // asr: split word
	{"someone called saying they were from the bank and asked for my pin", "security/fraud.md", "Scam calls and messages"},
	{"i think i been scammed", "security/fraud.md", ""}, // asr: dropped "have"
	{"我的银行卡丢了怎么办", "zh/lost-card.md", "如何挂失"},
	{"我要挂失", "zh/lost-card.md", "如何挂失"},
	{"银行卡被偷了", "zh/lost-card.md", "如何挂失"},
	{"补办新卡要多久", "zh/lost-card.md", "补办新卡"},
	{"你们几点开门", "zh/opening-hours.md", "网点营业时间"},
	{"周六营业吗", "zh/opening-hours.md", "网点营业时间"},
	{"星期天上班吗", "zh/opening-hours.md", "网点营业时间"},
	{"电话银行几点有人接听", "zh/opening-hours.md", "电话银行服务时间"},
	{"每天转账限额是多少", "zh/transfer-limits.md", "每日转账限额"},
	{"境外汇款手续费多少", "zh/transfer-limits.md", "境外汇款"},
	{"汇款几天到账", "zh/transfer-limits.md", "境外汇款"},
	{"手机银行 transfer 限额", "zh/transfer-limits.md", "每日转账限额"}, // mixed
}

func TestQuestions(t *testing.T) {
	kb := sample(t)
	right := 0
	for _, q := range questions {
		got := kb.Search(q.q, 3)
		if len(got) > 0 && got[0].Doc == q.doc && (q.heading == "" || got[0].Heading == q.heading) {
			right++
			continue
		}
		t.Errorf("%q: want %s %q, got %s", q.q, q.doc, q.heading, describe(got))
	}
	t.Logf("top-1 accuracy: %d/%d (%.1f%%)", right, len(questions), 100*float64(right)/float64(len(questions)))
}

// TestOffTopic holds scores apart: a question the base answers scores
// above small talk, a lone common word or a topic without an article, so a
// brain can set a minimum score. A lone rare word does not stay below:
// "name" scores 3.7 (one article asks for the recipient's name) and "银行"
// 5.3, every Chinese word being rare in a base that is mostly English.
func TestOffTopic(t *testing.T) {
	kb := sample(t)
	top := func(q string) float64 {
		if got := kb.Search(q, 1); len(got) > 0 {
			return got[0].Score
		}
		return 0
	}
	lowest, lowQ := math.Inf(1), ""
	for _, q := range questions {
		if s := top(q.q); s < lowest {
			lowest, lowQ = s, q.q
		}
	}
	highest, highQ := 0.0, ""
	for _, q := range []string{"card", "my account", "bank", "卡", "hello", "thank you goodbye", "what's the weather like",
		"I want to speak to someone", "tell me a joke", "我想查一下余额", "你好", "谢谢再见"} {
		if s := top(q); s > highest {
			highest, highQ = s, q
		}
	}
	t.Logf("lowest answered question scores %.2f (%q), highest off-topic one %.2f (%q)", lowest, lowQ, highest, highQ)
	if highest >= lowest {
		t.Errorf("off-topic %q scores %.2f, not below answered %q at %.2f", highQ, highest, lowQ, lowest)
	}
}

// TestFuzzyMeasured shows what the fuzzy lookup is for. Besides the table,
// every English question is asked again with one word misheard (a vowel
// changed: "card" as "cord"), once per word.
func TestFuzzyMeasured(t *testing.T) {
	kb := sample(t)
	var misheard []question
	for _, q := range questions {
		ws := strings.Fields(q.q)
		for i, w := range ws {
			m := mishear(w)
			if m == w || stopwords[w] || len(w) < 4 {
				continue
			}
			v := slices.Clone(ws)
			v[i] = m
			misheard = append(misheard, question{strings.Join(v, " "), q.doc, q.heading})
		}
	}
	top1 := func(qs []question, fuzzy bool) (n int) {
		for _, q := range qs {
			if got := kb.search(q.q, 1, fuzzy); len(got) > 0 && got[0].Doc == q.doc && (q.heading == "" || got[0].Heading == q.heading) {
				n++
			}
		}
		return n
	}
	for _, set := range []struct {
		name string
		qs   []question
	}{{"table", questions}, {"one word misheard", misheard}} {
		with, without := top1(set.qs, true), top1(set.qs, false)
		t.Logf("%s: top-1 %d/%d (%.1f%%) with the fuzzy lookup, %d/%d (%.1f%%) without",
			set.name, with, len(set.qs), pct(with, len(set.qs)), without, len(set.qs), pct(without, len(set.qs)))
		if with <= without {
			t.Errorf("%s: the fuzzy lookup answers %d, %d without it: it should answer more", set.name, with, without)
		}
	}
}

// mishear changes the first vowel after the first letter.
func mishear(w string) string {
	for i := 1; i < len(w); i++ {
		if j := strings.IndexByte("aeiou", w[i]); j >= 0 {
			return w[:i] + string("eaeao"[j]) + w[i+1:]
		}
	}
	return w
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(of) }

func describe(ps []Passage) string {
	if len(ps) == 0 {
		return "nothing"
	}
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s %q (%.2f)", p.Doc, p.Heading, p.Score))
	}
	return strings.Join(s, ", ")
}

// TestQueryTerms checks the repairs made to a recognizer's words.
func TestQueryTerms(t *testing.T) {
	kb := sample(t)
	for _, c := range []struct {
		q     string
		fuzzy bool
		want  string
		w     float64
	}{
		{"a t m", false, "atm", 1},          // spelled out
		{"log in", false, "login", 1},       // split
		{"pass word", false, "password", 1}, // split
		{"forgot pen", true, "pin", fuzzyWeight},
		{"scammed", true, "scam", 1},
		{"scanned", true, "scam", fuzzyWeight},
		{"activ", true, "activat", fuzzyWeight},       // cut short
		{"transferal", true, "transfer", fuzzyWeight}, // a known word with an ending the stemmer leaves
	} {
		got := kb.queryTerms(c.q, c.fuzzy)
		if got[c.want] != c.w {
			t.Errorf("%q: terms %v, want %q weighing %v", c.q, got, c.want, c.w)
		}
	}
	if got := kb.queryTerms("pen 1235", false); len(got) != 0 {
		t.Errorf("without the fuzzy lookup, unknown words are dropped: %v", got)
	}
	if got := kb.queryTerms("1235", true); len(got) != 0 {
		t.Errorf("numbers are never corrected: %v", got)
	}
}

func TestSource(t *testing.T) {
	ps := []Passage{
		{ID: "cards/fees", Version: 2, Heading: "Fees", Text: "A replacement card costs 10 euros."},
		{ID: "cards/delivery", Version: 1, Heading: "Delivery", Text: "A new card arrives within five working days."},
	}
	for _, c := range []struct {
		text, want string
	}{
		{"A replacement card costs 10 euros.", "cards/fees"},
		{"Your new card should arrive within five days.", "cards/delivery"},
		{"A new card costs 10 euros and arrives within five working days.", "cards/delivery"},
		{"Replacing it costs ten euros, I am afraid.", ""},
		{"Is there anything else I can help with?", ""},
		{"Card.", ""},
		{"", ""},
	} {
		p, ok := Source(c.text, ps)
		if ok != (c.want != "") || p.ID != c.want {
			t.Errorf("%q: source %q (%v), want %q", c.text, p.ID, ok, c.want)
		}
	}
}
