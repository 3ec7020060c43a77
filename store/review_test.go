package store

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pgtest"
)

// The review's records, on both databases like the rest of the suite.
var reviewSuite = []struct {
	name string
	fn   func(t *testing.T, db newDB)
}{
	{"Marks", testMarks},
	{"Examples", testExamples},
	{"ReviewFilters", testReviewFilters},
	{"DailyFigures", testDailyFigures},
}

func runReview(t *testing.T, db newDB) {
	for _, tc := range reviewSuite {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, db) })
	}
}

func TestReviewSQLite(t *testing.T) { runReview(t, sqliteDB) }

func TestReviewPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	runReview(t, func(t testing.TB) Config {
		c := DefaultConfig()
		c.Driver, c.DSN = Postgres, srv.NewDatabase(t)
		return c
	})
}

// reviewCalls are the calls of the review tests, by name.
type reviewCalls struct {
	balance, lostCard, crisis, nextDay, open int64
}

var day1 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// seedReview writes, on 1 March: a balance question Hotline answered
// alone (60 s); a lost card, badly recognized, handed to alice (120 s);
// a caller in crisis handed over (30 s). On 2 March: one more call
// Hotline answered alone (90 s), and one still open.
func seedReview(t *testing.T, s *Store) reviewCalls {
	t.Helper()
	call := func(start time.Time, length time.Duration, disp, agent string, turns ...Turn) int64 {
		t.Helper()
		id := startCall(t, s, CallStart{From: "+15550100", To: "100", At: start})
		if err := s.CallAnswered(ctx, id, start); err != nil {
			t.Fatal(err)
		}
		for i, tn := range turns {
			tn.At = start.Add(time.Duration(i) * time.Second)
			must(s.AddTurn(ctx, id, tn))(t)
		}
		if disp != "" {
			if err := s.CallEnded(ctx, id, CallEnd{At: start.Add(length), Disposition: disp, Agent: agent}); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	caller := func(text string, conf float64) Turn {
		return Turn{Speaker: SpeakerCaller, Text: text, Confidence: conf}
	}
	reply := func(text, intent string) Turn {
		return Turn{Speaker: SpeakerHotline, Text: text, Confidence: -1, Intent: intent}
	}
	var c reviewCalls
	c.balance = call(day1.Add(9*time.Hour), 60*time.Second, DispositionCompleted, "",
		caller("what is my balance", 0.92), reply("Your balance is in the app.", "balance"))
	c.lostCard = call(day1.Add(10*time.Hour), 120*time.Second, DispositionCompleted, "alice",
		caller("I lost my cart", 0.31), reply("Let me block your card.", "lost_card"))
	must(s.AddTransfer(ctx, c.lostCard, Transfer{At: day1.Add(10*time.Hour + 5*time.Second), Queue: "cards", Reason: "the caller asked for a person"}))(t)
	must(s.AddTransfer(ctx, c.lostCard, Transfer{At: day1.Add(10*time.Hour + 9*time.Second), Queue: "cards", Agent: "alice", Reason: "the caller asked for a person"}))(t)
	c.crisis = call(day1.Add(11*time.Hour), 30*time.Second, DispositionCompleted, "",
		caller("I can't go on", 0.8))
	must(s.AddCrisisAlert(ctx, c.crisis, CrisisAlert{At: day1.Add(11*time.Hour + time.Second), Category: "self_harm"}))(t)
	must(s.AddTransfer(ctx, c.crisis, Transfer{At: day1.Add(11*time.Hour + 2*time.Second), Queue: "crisis", Reason: "crisis"}))(t)
	c.nextDay = call(day1.Add(33*time.Hour), 90*time.Second, DispositionCompleted, "",
		caller("when do you open", 0.7), reply("We open at nine.", "hours"))
	c.open = call(day1.Add(34*time.Hour), 0, "", "", caller("hello", 0.2))
	return c
}

func testMarks(t *testing.T, db newDB) {
	s := open(t, db(t))
	c := seedReview(t, s)
	by := "sup"
	m := must(s.MarkAnswer(ctx, Mark{Call: c.balance, Seq: 2, Verdict: VerdictGood, By: by, At: at(0)}))(t)
	if m.Verdict != VerdictGood || m.By != by {
		t.Errorf("mark %+v", m)
	}
	// A second mark of the answer replaces the first; the correction is
	// redacted.
	must(s.MarkAnswer(ctx, Mark{Call: c.balance, Seq: 2, Verdict: VerdictWrong,
		Correction: "  Say: call 415-555-0199 for the balance. ", By: "lead", At: at(time.Minute)}))(t)
	d := must(s.Call(ctx, c.balance))(t)
	if len(d.Marks) != 1 {
		t.Fatalf("marks %+v: want one", d.Marks)
	}
	got := d.Marks[0]
	if got.Seq != 2 || got.Verdict != VerdictWrong || got.By != "lead" || strings.Contains(got.Correction, "555") ||
		!strings.HasPrefix(got.Correction, "Say: call ") {
		t.Errorf("mark %+v: want lead's wrong verdict with the number redacted", got)
	}
	sameTime(t, "marked at", got.At, at(time.Minute))
	if d.Turns[1].Intent != "balance" || d.Turns[0].Intent != "" {
		t.Errorf("intents %q, %q: want the reply's", d.Turns[0].Intent, d.Turns[1].Intent)
	}

	for _, tc := range []struct {
		name string
		m    Mark
		want error
	}{
		{"caller's turn", Mark{Call: c.balance, Seq: 1, Verdict: VerdictWrong, By: by}, ErrInvalid},
		{"no such turn", Mark{Call: c.balance, Seq: 9, Verdict: VerdictWrong, By: by}, ErrNotFound},
		{"no such call", Mark{Call: 999999, Seq: 1, Verdict: VerdictWrong, By: by}, ErrNotFound},
		{"verdict", Mark{Call: c.balance, Seq: 2, Verdict: "meh", By: by}, ErrInvalid},
		{"seq", Mark{Call: c.balance, Seq: 0, Verdict: VerdictGood, By: by}, ErrInvalid},
		{"nobody", Mark{Call: c.balance, Seq: 2, Verdict: VerdictGood}, ErrInvalid},
		{"call id", Mark{Call: -1, Seq: 2, Verdict: VerdictGood, By: by}, ErrInvalid},
		{"long correction", Mark{Call: c.balance, Seq: 2, Verdict: VerdictWrong, By: by, Correction: strings.Repeat("x", MaxCorrection+1)}, ErrInvalid},
		{"bad UTF-8", Mark{Call: c.balance, Seq: 2, Verdict: VerdictWrong, By: by, Correction: "\xff"}, ErrInvalid},
	} {
		if _, err := s.MarkAnswer(ctx, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func testExamples(t *testing.T, db newDB) {
	s := open(t, db(t))
	c := seedReview(t, s)
	e := must(s.AddExample(ctx, Example{Intent: "lost_card", Lang: "en", Phrase: "  I lost my  cart ", Call: c.lostCard, Seq: 2, AddedBy: "sup", AddedAt: at(0)}))(t)
	if e.ID <= 0 || e.Phrase != "I lost my cart" || e.Call != c.lostCard || e.Seq != 2 {
		t.Errorf("example %+v", e)
	}
	// The same phrase again is the one stored.
	again := must(s.AddExample(ctx, Example{Intent: "lost_card", Lang: "en", Phrase: "I lost my cart", AddedBy: "other"}))(t)
	if again.ID != e.ID || again.AddedBy != "sup" || again.Call != c.lostCard {
		t.Errorf("again %+v, want %+v", again, e)
	}
	must(s.AddExample(ctx, Example{Intent: "balance", Lang: "zh", Phrase: "我的余额", AddedBy: "sup"}))(t)
	pii := must(s.AddExample(ctx, Example{Intent: "balance", Lang: "en", Phrase: "balance for 4111 1111 1111 1111", AddedBy: "sup"}))(t)
	if strings.Contains(pii.Phrase, "1111") {
		t.Errorf("phrase %q not redacted", pii.Phrase)
	}
	all := must(s.Examples(ctx))(t)
	var got []string
	for _, x := range all {
		got = append(got, x.Intent+"/"+x.Lang+"/"+x.Phrase)
	}
	want := []string{"lost_card/en/I lost my cart", "balance/zh/我的余额", "balance/en/" + pii.Phrase}
	if !slices.Equal(got, want) {
		t.Errorf("examples %q, want %q", got, want)
	}
	sameTime(t, "added at", all[0].AddedAt, at(0))

	for _, tc := range []struct {
		name string
		e    Example
		want error
	}{
		{"intent", Example{Intent: "lost card", Lang: "en", Phrase: "x y", AddedBy: "sup"}, ErrInvalid},
		{"language", Example{Intent: "balance", Lang: "fr", Phrase: "mon solde", AddedBy: "sup"}, ErrInvalid},
		{"empty", Example{Intent: "balance", Lang: "en", Phrase: "  ", AddedBy: "sup"}, ErrInvalid},
		{"no words", Example{Intent: "balance", Lang: "en", Phrase: "1234 ?", AddedBy: "sup"}, ErrInvalid},
		{"long", Example{Intent: "balance", Lang: "en", Phrase: strings.Repeat("a", MaxPhrase+1), AddedBy: "sup"}, ErrInvalid},
		{"control", Example{Intent: "balance", Lang: "en", Phrase: "a\x00b", AddedBy: "sup"}, ErrInvalid},
		{"seq without call", Example{Intent: "balance", Lang: "en", Phrase: "my balance", Seq: 2, AddedBy: "sup"}, ErrInvalid},
		{"nobody", Example{Intent: "balance", Lang: "en", Phrase: "my balance"}, ErrInvalid},
		{"no such call", Example{Intent: "balance", Lang: "en", Phrase: "my balance", Call: 999999, Seq: 1, AddedBy: "sup"}, ErrNotFound},
	} {
		if _, err := s.AddExample(ctx, tc.e); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func testReviewFilters(t *testing.T, db newDB) {
	s := open(t, db(t))
	c := seedReview(t, s)
	list := func(f CallFilter) []int64 {
		t.Helper()
		page := must(s.ListCalls(ctx, f))(t)
		ids := callIDs(page.Calls)
		slices.Sort(ids)
		return ids
	}
	for _, tc := range []struct {
		name string
		f    CallFilter
		want []int64
	}{
		{"ended", CallFilter{Ended: true}, []int64{c.balance, c.lostCard, c.crisis, c.nextDay}},
		{"intent", CallFilter{Intent: "lost_card"}, []int64{c.lostCard}},
		{"transferred", CallFilter{Transferred: TransferredYes}, []int64{c.lostCard, c.crisis}},
		{"not transferred", CallFilter{Transferred: TransferredNo, Ended: true}, []int64{c.balance, c.nextDay}},
		{"crisis", CallFilter{Crisis: true}, []int64{c.crisis}},
		{"low confidence", CallFilter{BelowConfidence: 0.5}, []int64{c.lostCard, c.open}},
		{"low confidence, ended", CallFilter{BelowConfidence: 0.5, Ended: true}, []int64{c.lostCard}},
		{"nothing", CallFilter{Intent: "hours", Crisis: true}, []int64{}},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, f := range []CallFilter{
		{Intent: "two words"}, {Transferred: "maybe"}, {BelowConfidence: 1.5}, {BelowConfidence: -0.1},
	} {
		if _, err := s.ListCalls(ctx, f); !errors.Is(err, ErrInvalid) {
			t.Errorf("filter %+v: %v, want ErrInvalid", f, err)
		}
	}
	if _, err := s.AddTurn(ctx, c.open, Turn{Speaker: SpeakerHotline, Intent: "not a name"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("turn with a bad intent: %v", err)
	}
}

func testDailyFigures(t *testing.T, db newDB) {
	s := open(t, db(t))
	c := seedReview(t, s)
	must(s.MarkAnswer(ctx, Mark{Call: c.nextDay, Seq: 2, Verdict: VerdictWrong, Correction: "We open at eight.", By: "sup"}))(t)
	must(s.MarkAnswer(ctx, Mark{Call: c.balance, Seq: 2, Verdict: VerdictGood, By: "sup"}))(t)
	days := must(s.DailyFigures(ctx, day1, day1.AddDate(0, 0, 3)))(t)
	if len(days) != 3 {
		t.Fatalf("%d days, want 3", len(days))
	}
	want := []DayFigures{
		{Day: day1, Calls: 3, Contained: 1, HandleTime: 70 * time.Second, Crisis: 1,
			Transfers: map[string]int{"the caller asked for a person": 1, "crisis": 1}},
		{Day: day1.AddDate(0, 0, 1), Calls: 1, Contained: 1, HandleTime: 90 * time.Second, MarkedWrong: 1, Transfers: map[string]int{}},
		{Day: day1.AddDate(0, 0, 2), Transfers: map[string]int{}},
	}
	for i, w := range want {
		g := days[i]
		if !g.Day.Equal(w.Day) || g.Calls != w.Calls || g.Contained != w.Contained || g.HandleTime != w.HandleTime ||
			g.Crisis != w.Crisis || g.MarkedWrong != w.MarkedWrong || !maps.Equal(g.Transfers, w.Transfers) {
			t.Errorf("day %d: %+v, want %+v", i, g, w)
		}
	}
	// A range starting on the second day leaves the first out.
	days = must(s.DailyFigures(ctx, day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2)))(t)
	if len(days) != 1 || days[0].Calls != 1 || days[0].MarkedWrong != 1 {
		t.Errorf("second day alone: %+v", days)
	}
	for _, r := range [][2]time.Time{
		{day1, day1},
		{day1.AddDate(0, 0, 1), day1},
		{day1.Add(time.Hour), day1.AddDate(0, 0, 1)},
		{day1, day1.AddDate(0, 0, MaxFigureDays+1)},
		{time.Time{}, day1},
	} {
		if _, err := s.DailyFigures(ctx, r[0], r[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("range %v: %v, want ErrInvalid", r, err)
		}
	}
}
