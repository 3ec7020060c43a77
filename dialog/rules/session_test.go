package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/tts"
)

func bankKnowledge(t testing.TB) *knowledge.Base {
	t.Helper()
	kb, err := knowledge.Load("../../examples/bank/knowledge")
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// call is one call to the bank's flow.
type call struct {
	t *testing.T
	s *Session
}

func newCall(t *testing.T, kb knowledge.Searcher, c *dialog.Conversation) *call {
	t.Helper()
	b := New(bankFlow(t), kb)
	if b.Name() != "rules" {
		t.Errorf("name %q", b.Name())
	}
	return &call{t: t, s: b.NewSession(c).(*Session)}
}

// turn gives the session one input and returns the actions it emitted.
func (c *call) turn(in dialog.Input) []dialog.Action {
	c.t.Helper()
	var got []dialog.Action
	if err := c.s.Respond(context.Background(), in, func(a dialog.Action) error {
		got = append(got, a)
		return nil
	}); err != nil {
		c.t.Fatalf("respond to %+v: %v", in, err)
	}
	if len(got) == 0 {
		c.t.Fatalf("no reply to %+v", in)
	}
	return got
}

func (c *call) say(text string) []dialog.Action { return c.turn(dialog.Input{Text: text}) }
func (c *call) key(keys string) []dialog.Action { return c.turn(dialog.Input{Digits: keys}) }

func kinds(as []dialog.Action) []dialog.Kind {
	var ks []dialog.Kind
	for _, a := range as {
		ks = append(ks, a.Kind)
	}
	return ks
}

func last(as []dialog.Action) dialog.Action { return as[len(as)-1] }

func spoken(as []dialog.Action) string {
	var ts []string
	for _, a := range as {
		ts = append(ts, a.Text)
	}
	return strings.Join(ts, " ")
}

func wantKinds(t *testing.T, as []dialog.Action, want ...dialog.Kind) {
	t.Helper()
	if !slices.Equal(kinds(as), want) {
		t.Fatalf("actions %v, want %v: %+v", kinds(as), want, as)
	}
}

func TestLostCardSpokenDigits(t *testing.T) {
	c := newCall(t, nil, &dialog.Conversation{Profile: dialog.Profile{Name: "Ann Lee", Tier: "gold"}})
	as := c.say("I lost my cart")
	wantKinds(t, as, dialog.Say, dialog.Say)
	if !strings.Contains(spoken(as), "last four digits") {
		t.Errorf("prompt: %q", spoken(as))
	}
	as = c.say("the last four are four eight two one")
	tr := last(as)
	if tr.Kind != dialog.Transfer || tr.Queue != "cards" || !strings.Contains(tr.Reason, "lost or stolen") {
		t.Fatalf("want a transfer to cards: %+v", as)
	}
	if !strings.Contains(spoken(as[:len(as)-1]), "ending 4 8 2 1") {
		t.Errorf("the answer reads the digits back one by one: %q", spoken(as))
	}
	for _, want := range []string{"Ann Lee (gold)", "Lost or stolen card", "card's last four digits: 4821", "Transferred: cards"} {
		if !strings.Contains(tr.Summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, tr.Summary)
		}
	}
	t.Logf("summary for the agent:\n%s", tr.Summary)
}

func TestLostCardDTMFFallback(t *testing.T) {
	c := newCall(t, nil, nil)
	c.say("block my card")
	as := c.say("I'm not sure")
	wantKinds(t, as, dialog.CollectDigits)
	if as[0].MaxDigits != 4 || !strings.Contains(as[0].Text, "key in") {
		t.Errorf("after one failed spoken try the prompt asks for keys: %+v", as[0])
	}
	as = c.key("4821")
	if tr := last(as); tr.Kind != dialog.Transfer || tr.Queue != "cards" || !strings.Contains(tr.Summary, "4821") {
		t.Fatalf("want a transfer to cards with the digits: %+v", as)
	}
}

func TestSlotGivesUp(t *testing.T) {
	c := newCall(t, nil, nil)
	c.say("my card was stolen")
	c.say("I don't know")
	c.key("12")      // too few
	as := c.key("*") // third failure
	tr := last(as)
	if tr.Kind != dialog.Transfer || tr.Queue != "cards" || !strings.Contains(tr.Reason, "not given") {
		t.Fatalf("after the last try the intent's transfer goes ahead: %+v", as)
	}
	if !strings.Contains(tr.Summary, "Could not give: card's last four digits") {
		t.Errorf("summary: %s", tr.Summary)
	}
}

func TestSlotChangeOfMind(t *testing.T) {
	c := newCall(t, nil, nil)
	c.say("I lost my card")
	as := c.say("can I just talk to a real person")
	if tr := last(as); tr.Kind != dialog.Transfer || tr.Queue != "general" {
		t.Fatalf("a new intent during a slot is served: %+v", as)
	}
}

func TestChineseCall(t *testing.T) {
	c := newCall(t, nil, nil)
	as := c.say("我的卡丢了")
	if !strings.Contains(spoken(as), "最后四位") {
		t.Fatalf("prompt in Chinese: %q", spoken(as))
	}
	as = c.say("四八二一")
	tr := last(as)
	if tr.Kind != dialog.Transfer || tr.Queue != "cards" || !strings.Contains(spoken(as), "尾号4 8 2 1") {
		t.Fatalf("want a transfer in Chinese: %+v", as)
	}
}

func TestKnowledgeAnswerSentences(t *testing.T) {
	kb, err := knowledge.New(map[string]string{"hours.md": "# Opening hours\n\n" +
		"Our branches are open Monday to Friday from 9 am to 5 pm. On Saturday we open from 9 am to 1 pm. " +
		"Branches are closed on Sundays. Our phone line is open every day."})
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(t, kb, nil)
	as := c.say("what time do you open")
	wantKinds(t, as, dialog.Say, dialog.Say, dialog.Say)
	want := []string{"Our branches are open Monday to Friday from 9 am to 5 pm.", "On Saturday we open from 9 am to 1 pm."}
	if as[0].Text != want[0] || as[1].Text != want[1] {
		t.Errorf("the passage's first two sentences, one an action: %q", spoken(as))
	}
	if !strings.Contains(as[2].Text, "anything else") {
		t.Errorf("then anything else: %q", as[2].Text)
	}
	// The answer names the article it is from; what the flow says does not.
	for i, a := range as {
		if want := i < 2; (a.Cite != nil) != want || want && (a.Cite.Article != "hours" || a.Cite.Version != 1) {
			t.Errorf("sentence %d %q cites %+v", i, a.Text, a.Cite)
		}
	}
	if !strings.Contains(c.s.Summary(), "Answered: Opening hours") {
		t.Errorf("summary: %s", c.s.Summary())
	}
}

// The opening hours change on disk during a call: the next answer of the
// same call gives the new hours.
func TestKnowledgeChangesDuringACall(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hours.md")
	write := func(hours string, age time.Duration) {
		t.Helper()
		if err := os.WriteFile(path, []byte("# Opening hours\n\nOur branches are open "+hours+".\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write("Monday to Friday from 9 am to 5 pm", time.Hour)
	kb, err := knowledge.LoadLive(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(t, kb, nil)
	if got := spoken(c.say("what time do you open")); !strings.Contains(got, "9 am to 5 pm") {
		t.Fatalf("first answer %q", got)
	}
	write("every day from 8 am to 8 pm", time.Minute)
	if changed, err := kb.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if got := spoken(c.say("what time do you open")); !strings.Contains(got, "8 am to 8 pm") {
		t.Errorf("after the change the same call heard %q", got)
	}
}

func TestKnowledgeSampleBase(t *testing.T) {
	c := newCall(t, bankKnowledge(t), nil)
	for _, q := range []string{"what time do you open", "营业时间", "转账限额", "international transfer", "what are your fees", "how do I reset my pin"} {
		as := c.say(q)
		says := 0
		for _, a := range as {
			if a.Kind != dialog.Say {
				t.Errorf("%q: %+v", q, a)
			}
			if n := len(tts.SplitSentences(a.Text)); n != 1 {
				t.Errorf("%q: %q is %d sentences", q, a.Text, n)
			}
			says++
		}
		if says < 2 {
			t.Errorf("%q: want an answer and anything else: %+v", q, as)
		}
		t.Logf("%s → %s", q, spoken(as))
	}
	if zh := spoken(c.say("营业时间")); !strings.Contains(zh, "网点营业时间") {
		t.Errorf("a Chinese question is answered from the Chinese article: %q", zh)
	}
}

func TestOpenAccountOffersHuman(t *testing.T) {
	c := newCall(t, bankKnowledge(t), nil)
	as := c.say("I'd like to open an account")
	if !strings.Contains(spoken(as), "photo ID") || !strings.Contains(last(as).Text, "Say yes") {
		t.Fatalf("answer then offer of a person: %q", spoken(as))
	}
	as = c.say("yes please")
	if tr := last(as); tr.Kind != dialog.Transfer || tr.Queue != "general" {
		t.Fatalf("yes to the offer transfers: %+v", as)
	}
}

func TestNotUnderstoodTwiceOffersHuman(t *testing.T) {
	c := newCall(t, nil, nil)
	as := c.say("the weather is lovely")
	wantKinds(t, as, dialog.Say, dialog.Say)
	if !strings.Contains(spoken(as), "didn't catch") {
		t.Errorf("first miss asks again: %q", spoken(as))
	}
	as = c.say("purple monkey dishwasher")
	if !strings.Contains(spoken(as), "speak to one of our team") {
		t.Fatalf("second miss offers a person: %q", spoken(as))
	}
	as = c.key("0")
	wantKinds(t, as, dialog.Say, dialog.Transfer)
	if !strings.Contains(as[0].Text, "putting you through") {
		t.Errorf("the caller is told: %q", as[0].Text)
	}
	tr := last(as)
	if tr.Kind != dialog.Transfer || tr.Queue != "general" || !strings.Contains(tr.Summary, "Not understood: 2 turns") {
		t.Fatalf("key 0 accepts: %+v", as)
	}
}

func TestOfferDeclined(t *testing.T) {
	c := newCall(t, bankKnowledge(t), nil)
	c.say("blah")
	c.say("blah blah")
	as := c.say("no thanks")
	if !strings.Contains(spoken(as), "anything else") {
		t.Fatalf("no goes on: %q", spoken(as))
	}
	as = c.say("what time do you close")
	if strings.Contains(spoken(as), "speak to one of our team") {
		t.Errorf("a new question after a declined offer is served: %q", spoken(as))
	}
}

func TestGoodbyeHangsUp(t *testing.T) {
	c := newCall(t, nil, nil)
	as := c.say("no that's everything, goodbye")
	wantKinds(t, as, dialog.Hangup)
	if !strings.Contains(as[0].Text, "Goodbye") {
		t.Errorf("hangup says goodbye: %+v", as[0])
	}
	c = newCall(t, nil, &dialog.Conversation{Language: "zh"})
	if as := c.say("再见"); as[0].Kind != dialog.Hangup || !strings.Contains(as[0].Text, "再见") {
		t.Errorf("in Chinese: %+v", as)
	}
}

func TestCloseAccountConfirm(t *testing.T) {
	c := newCall(t, nil, nil)
	as := c.say("I want to close my account")
	if !strings.Contains(spoken(as), "yes or no") {
		t.Fatalf("confirmation asked: %q", spoken(as))
	}
	if g := c.s.Grammar(); !slices.Contains(g, "yes") || slices.Contains(g, "what time do you open") {
		t.Errorf("yes-no grammar: %v", g)
	}
	as = c.say("yes that's right")
	if tr := last(as); tr.Kind != dialog.Transfer || tr.Queue != "accounts" || !strings.Contains(tr.Summary, "confirmed closing: yes") {
		t.Fatalf("%+v", as)
	}
	c = newCall(t, nil, nil)
	if as := c.say("I don't want to close my account"); strings.Contains(spoken(as), "yes or no") {
		t.Errorf("a negated request is not served: %q", spoken(as))
	}
}

func TestMenuKeys(t *testing.T) {
	c := newCall(t, nil, nil)
	if as := c.key("1"); !strings.Contains(spoken(as), "last four digits of the card") {
		t.Errorf("key 1 is the lost card: %q", spoken(as))
	}
	c = newCall(t, nil, nil)
	if as := c.say("press two"); !strings.Contains(spoken(as), "account number") {
		t.Errorf("saying two is key 2, the balance: %q", spoken(as))
	}
	c = newCall(t, nil, nil)
	if as := c.key("9"); !strings.Contains(spoken(as), "Press one") {
		t.Errorf("a key not in the menu reads the menu: %q", spoken(as))
	}
	if as := c.key("4"); last(as).Queue != "fraud" || !strings.Contains(last(as).Reason, "HIGH PRIORITY") {
		t.Errorf("key 4 is fraud: %+v", as)
	}
}

func TestBalanceVerification(t *testing.T) {
	c := newCall(t, nil, nil)
	c.say("check my balance")
	as := c.say("one two three four")
	if tr := last(as); tr.Kind != dialog.Transfer || tr.Queue != "accounts" || !strings.Contains(tr.Summary, "account's last four digits: 1234") {
		t.Fatalf("%+v", as)
	}
}

func TestGrammar(t *testing.T) {
	c := newCall(t, nil, nil)
	g := c.s.Grammar()
	word := regexp.MustCompile(`^[a-z']+( [a-z']+)*$`)
	for _, p := range g {
		if !word.MatchString(p) {
			t.Errorf("phrase %q is not lower-case words", p)
		}
	}
	for _, want := range []string{"what time do you open", "i lost my card", "lost card", "zero", "nine", "yes", "no",
		"agent", "representative", "operator", "goodbye"} {
		if !slices.Contains(g, want) {
			t.Errorf("grammar lacks %q", want)
		}
	}
	if !slices.IsSorted(g) || len(slices.Compact(slices.Clone(g))) != len(g) {
		t.Error("grammar is sorted without repeats")
	}
	c.say("I lost my card")
	d := c.s.Grammar()
	if !slices.Contains(d, "four") || !slices.Contains(d, "operator") || slices.Contains(d, "i lost my card") {
		t.Errorf("digits grammar: %v", d)
	}
	if got := grammarPhrase("Press 1, then #"); got != "press one then" {
		t.Errorf("normalized %q", got)
	}
}

func TestEmitErrorStops(t *testing.T) {
	c := newCall(t, nil, nil)
	stop := errors.New("caller talked over the reply")
	calls := 0
	err := c.s.Respond(context.Background(), dialog.Input{Text: "I lost my card"}, func(dialog.Action) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d emits, want the emit error after one", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.s.Respond(ctx, dialog.Input{Text: "hello"}, func(dialog.Action) error {
		t.Error("emitted after the context ended")
		return nil
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestLanguageFollowsCaller(t *testing.T) {
	c := newCall(t, nil, &dialog.Conversation{Profile: dialog.Profile{Language: "zh"}})
	if g := c.s.Greeting(); !strings.Contains(g, "北风银行") {
		t.Errorf("greeting in the profile's language: %q", g)
	}
	if as := c.say("what time do you open"); !strings.Contains(spoken(as), "anything") && !strings.Contains(spoken(as), "team") {
		t.Errorf("an English turn is answered in English: %q", spoken(as))
	}
	if as := c.turn(dialog.Input{Text: "blah", Language: "zh"}); !strings.Contains(spoken(as), "抱歉") {
		t.Errorf("the recognizer's language is followed: %q", spoken(as))
	}
}

func TestEmptyTurn(t *testing.T) {
	c := newCall(t, nil, nil)
	if as := c.turn(dialog.Input{}); !strings.Contains(spoken(as), "didn't catch") {
		t.Errorf("silence asks again: %q", spoken(as))
	}
}

func TestParseDigits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"four eight two one", "4821"},
		{"4821", "4821"},
		{"48 21", "4821"},
		{"it's four eight two one thanks", "4821"},
		{"the last four are four eight two one", "4821"},
		{"for eight to one", "4821"},
		{"double four two one", "4421"},
		{"oh nine one two", "0912"},
		{"四八二一", "4821"},
		{"尾号是幺两三四", "1234"},
		{"four eight two", ""},
		{"for the card", ""},
		{"I don't know", ""},
	} {
		got, ok := parseDigits(c.in, 4, 4)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("parseDigits(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

// BenchmarkRespond runs a scripted call on the sample flow and base and
// reports the cost of one turn.
func BenchmarkRespond(b *testing.B) {
	br := New(bankFlow(b), bankKnowledge(b))
	script := []dialog.Input{
		{Text: "I lost my cart"}, {Text: "four eight two one"},
		{Text: "what time do you open"}, {Text: "我的卡丢了"}, {Digits: "4821"},
		{Text: "the weather is nice"}, {Text: "how much does it cost to send money abroad"},
		{Text: "no that's everything goodbye"},
	}
	emit := func(dialog.Action) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		s := br.NewSession(&dialog.Conversation{})
		for _, in := range script {
			if err := s.Respond(context.Background(), in, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(script)), "ns/turn")
}
