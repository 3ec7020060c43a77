package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/store"
)

// fakeIntents is a flow of two intents that learns phrases; a phrase of
// "the" alone has nothing to match.
type fakeIntents struct {
	mu    sync.Mutex
	added []string // intent/lang/phrase
}

func (f *fakeIntents) Intents() []IntentView {
	return []IntentView{{Name: "lost_card", Title: "Lost or stolen card"}, {Name: "balance", Title: "Balance"}}
}

func (f *fakeIntents) AddExample(intent, lang, phrase string) error {
	if intent != "lost_card" && intent != "balance" {
		return fmt.Errorf("intent %s: %w", intent, ErrUnknownIntent)
	}
	if phrase == "the" {
		return errors.New("rules: add example: phrase \"the\" has no word to match")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, intent+"/"+lang+"/"+phrase)
	return nil
}

func (f *fakeIntents) learned() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.added)
}

func newReviewFixture(t *testing.T) (*fixture, *fakeIntents) {
	fi := &fakeIntents{}
	f := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) { d.Intents = fi })
	return f, fi
}

// sendJSON makes a request with a JSON body.
func (f *fixture) sendJSON(t testing.TB, method, path, token, body string) response {
	t.Helper()
	return f.send(t, method, path, token, "application/json", body)
}

func TestReviewAuth(t *testing.T) {
	f, _ := newReviewFixture(t)
	mark := fmt.Sprintf("/api/v1/calls/%d/turns/1/mark", f.c1)
	for _, tc := range []struct {
		method, path, body string
	}{
		{http.MethodPut, mark, `{"verdict":"good"}`},
		{http.MethodGet, "/api/v1/intents", ""},
		{http.MethodPost, "/api/v1/intents/balance/examples", `{"phrase":"how much money do I have"}`},
		{http.MethodGet, "/api/v1/figures", ""},
	} {
		for _, c := range []struct {
			token string
			want  int
		}{{"", 401}, {"wrong-token-0123456789abcdef", 401}, {aliceToken, 403}} {
			if r := f.sendJSON(t, tc.method, tc.path, c.token, tc.body); r.status != c.want {
				t.Errorf("%s %s with %q: %d, want %d: %s", tc.method, tc.path, c.token, r.status, c.want, r.body)
			}
		}
		for _, tok := range []string{supToken, adminToken} {
			if r := f.sendJSON(t, tc.method, tc.path, tok, tc.body); r.status/100 != 2 {
				t.Errorf("%s %s as %s: %d: %s", tc.method, tc.path, tok, r.status, r.body)
			}
		}
	}
}

func TestMarkAnswer(t *testing.T) {
	f, _ := newReviewFixture(t)
	path := fmt.Sprintf("/api/v1/calls/%d/turns/1/mark", f.c1)
	r := f.sendJSON(t, http.MethodPut, path, supToken, `{"verdict":"wrong","correction":"Say: call us on 415-555-0100 about it."}`)
	if r.status != http.StatusOK {
		t.Fatalf("mark: %d %s", r.status, r.body)
	}
	var m markJSON
	r.json(t, &m)
	if m.Seq != 1 || m.Verdict != "wrong" || m.By != "sup" || strings.Contains(m.Correction, "555") || time.Since(m.At) > time.Minute {
		t.Errorf("mark %+v", m)
	}
	var d callDetailJSON
	f.get(t, fmt.Sprintf("/api/v1/calls/%d", f.c1), supToken).json(t, &d)
	if len(d.Marks) != 1 || d.Marks[0] != m {
		t.Errorf("detail's marks %+v, want %+v", d.Marks, m)
	}

	for _, tc := range []struct {
		path, ctype, body string
		want              int
		msg               string
	}{
		{path, "application/json", `{"verdict":"meh"}`, 400, "verdict"},
		{path, "application/json", `{"verdict":"good","correction":"better"}`, 400, "only an answer marked wrong"},
		{path, "application/json", `{"verdict":"wrong","extra":1}`, 400, "unknown field"},
		{path, "application/json", `{"verdict":"wrong","correction":"` + strings.Repeat("x", store.MaxCorrection+1) + `"}`, 400, "at most"},
		{path, "text/plain", `{"verdict":"good"}`, 415, "application/json"},
		{fmt.Sprintf("/api/v1/calls/%d/turns/2/mark", f.c1), "application/json", `{"verdict":"good"}`, 400, "not an answer of Hotline's"},
		{fmt.Sprintf("/api/v1/calls/%d/turns/99/mark", f.c1), "application/json", `{"verdict":"good"}`, 404, "not found"},
		{"/api/v1/calls/0/turns/1/mark", "application/json", `{"verdict":"good"}`, 400, "positive"},
		{fmt.Sprintf("/api/v1/calls/%d/turns/x/mark", f.c1), "application/json", `{"verdict":"good"}`, 400, "turn"},
		{"/api/v1/calls/999999/turns/1/mark", "application/json", `{"verdict":"good"}`, 404, "not found"},
	} {
		r := f.send(t, http.MethodPut, tc.path, supToken, tc.ctype, tc.body)
		if r.status != tc.want || !strings.Contains(string(r.body), tc.msg) {
			t.Errorf("%s %.40s: %d %s, want %d with %q", tc.path, tc.body, r.status, r.body, tc.want, tc.msg)
		}
	}
}

func TestAddExample(t *testing.T) {
	f, fi := newReviewFixture(t)
	r := f.sendJSON(t, http.MethodPost, "/api/v1/intents/lost_card/examples", supToken,
		fmt.Sprintf(`{"phrase":"  my card 4111 1111 1111 1111 got eaten ","call":%d,"seq":1}`, f.c1))
	if r.status != http.StatusCreated {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	var e exampleJSON
	r.json(t, &e)
	if e.Intent != "lost_card" || e.Lang != "en" || e.Call != f.c1 || e.Seq != 1 || e.AddedBy != "sup" || strings.Contains(e.Phrase, "1111") {
		t.Errorf("example %+v", e)
	}
	if r := f.sendJSON(t, http.MethodPost, "/api/v1/intents/balance/examples", supToken, `{"phrase":"我还有多少钱"}`); r.status != http.StatusCreated {
		t.Errorf("Chinese: %d %s", r.status, r.body)
	}
	want := []string{"lost_card/en/" + e.Phrase, "balance/zh/我还有多少钱"}
	if got := fi.learned(); !slices.Equal(got, want) {
		t.Errorf("the brain learned %q, want %q", got, want)
	}
	var list struct{ Intents []intentJSON }
	f.get(t, "/api/v1/intents", supToken).json(t, &list)
	if len(list.Intents) != 2 || list.Intents[0].Name != "lost_card" || list.Intents[0].Title != "Lost or stolen card" ||
		!slices.Equal(list.Intents[0].Added, []string{e.Phrase}) || !slices.Equal(list.Intents[1].Added, []string{"我还有多少钱"}) {
		t.Errorf("intents %+v", list.Intents)
	}

	for _, tc := range []struct {
		intent, body string
		want         int
		msg          string
	}{
		{"lost_card", `{"phrase":""}`, 400, "phrase"},
		{"lost_card", `{"phrase":"42"}`, 400, "words a caller says"},
		{"lost_card", `{"phrase":"` + strings.Repeat("a", store.MaxPhrase+1) + `"}`, 400, "at most"},
		{"lost_card", `{"phrase":"lost it","lang":"fr"}`, 400, "lang"},
		{"lost_card", `{"phrase":"lost it","seq":3}`, 400, "call and seq"},
		{"lost_card", `{"phrase":"the"}`, 400, "no word to match"},
		{"lost_card", `{"phrase":"lost it","call":999999,"seq":1}`, 404, "not found"},
		{"lost_card", `{"phrase":"lost it"} {}`, 400, "one JSON object"},
		{"no_such", `{"phrase":"lost it"}`, 404, "no intent"},
		{"a.b", `{"phrase":"lost it"}`, 400, "intent"},
	} {
		r := f.sendJSON(t, http.MethodPost, "/api/v1/intents/"+tc.intent+"/examples", supToken, tc.body)
		if r.status != tc.want || !strings.Contains(string(r.body), tc.msg) {
			t.Errorf("%s %.50s: %d %s, want %d with %q", tc.intent, tc.body, r.status, r.body, tc.want, tc.msg)
		}
	}
	if got := fi.learned(); len(got) != 2 {
		t.Errorf("rejected phrases reached the brain: %q", got)
	}

	// A node without a rule flow teaches nothing.
	plain := newFixture(t)
	if r := plain.sendJSON(t, http.MethodPost, "/api/v1/intents/balance/examples", supToken, `{"phrase":"my money"}`); r.status != http.StatusNotImplemented {
		t.Errorf("without intents: %d", r.status)
	}
	var none struct{ Intents []intentJSON }
	plain.get(t, "/api/v1/intents", supToken).json(t, &none)
	if none.Intents == nil || len(none.Intents) != 0 {
		t.Errorf("without intents: %+v", none)
	}
}

func TestFigures(t *testing.T) {
	f, _ := newReviewFixture(t)
	// c1 was handed to alice; the others ended without a person.
	must(f.store.MarkAnswer(context.Background(), store.Mark{Call: f.c1, Seq: 1, Verdict: store.VerdictWrong, By: "sup"}))(t)
	r := f.get(t, "/api/v1/figures?since=2025-03-01&until=2025-03-03", supToken)
	if r.status != http.StatusOK {
		t.Fatalf("figures: %d %s", r.status, r.body)
	}
	var out struct {
		Since, Until string
		Days         []dayJSON
	}
	r.json(t, &out)
	if out.Since != "2025-03-01" || out.Until != "2025-03-03" || len(out.Days) != 2 {
		t.Fatalf("figures %+v", out)
	}
	d := out.Days[0]
	// Answered calls: only c1 (the others never were).
	if d.Date != "2025-03-01" || d.Calls != 1 || d.Contained != 0 || d.Containment == nil || *d.Containment != 0 ||
		d.HandleMS != 59000 || d.Crisis != 1 || d.MarkedWrong != 1 || len(d.Transfers) != 0 {
		t.Errorf("1 March: %+v", d)
	}
	if d := out.Days[1]; d.Calls != 0 || d.Containment != nil || d.Transfers == nil {
		t.Errorf("2 March: %+v", d)
	}
	var def struct{ Since, Until string }
	f.get(t, "/api/v1/figures", supToken).json(t, &def)
	today := time.Now().UTC().Format(dayLayout)
	if def.Until != time.Now().UTC().AddDate(0, 0, 1).Format(dayLayout) || def.Since != time.Now().UTC().AddDate(0, 0, -6).Format(dayLayout) {
		t.Errorf("default range %+v (today %s)", def, today)
	}

	for _, q := range []string{"since=2025-3-1", "until=yesterday", "since=2025-03-02&until=2025-03-01",
		"since=2025-03-01&until=2025-03-01", "since=2020-01-01&until=2025-01-01", "days=3", "since=2025-03-01&since=2025-03-02"} {
		if r := f.get(t, "/api/v1/figures?"+q, supToken); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("%s: %d %s, want 400", q, r.status, r.body)
		}
	}
}

func TestReviewFilters(t *testing.T) {
	f, _ := newReviewFixture(t)
	ctx := context.Background()
	must(f.store.AddTurn(ctx, f.calls[0], store.Turn{Speaker: store.SpeakerHotline, Text: "Your balance is in the app.", Confidence: -1, Intent: "balance"}))(t)
	for q, want := range map[string][]int64{
		"intent=balance":                   {f.calls[0]},
		"crisis=true":                      {f.c1},
		"transferred=yes":                  {f.c1},
		"below_confidence=0.85":            {f.c1},
		"below_confidence=0.5":             {},
		"ended=true&intent=balance":        {f.calls[0]},
		"transferred=no&emotion=tense":     {},
		"crisis=true&below_confidence=0.9": {f.c1},
	} {
		if got := ids(f.list(t, "?"+q).Calls); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	var d callDetailJSON
	f.get(t, fmt.Sprintf("/api/v1/calls/%d", f.calls[0]), supToken).json(t, &d)
	if n := len(d.Transcript); n == 0 || d.Transcript[n-1].Intent != "balance" {
		t.Errorf("transcript %+v: want the reply's intent", d.Transcript)
	}
	for _, q := range []string{"intent=a%20b", "transferred=maybe", "crisis=sure", "below_confidence=0", "below_confidence=1.5",
		"below_confidence=NaN", "ended=2"} {
		if r := f.get(t, "/api/v1/calls?"+q, supToken); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, r.status, r.body)
		}
	}
}

// A supervisor's view of a call links each recording for an audio element:
// signed, it plays without a token, with ranges, until it expires; a link
// changed in any way is refused.
func TestRecordingLink(t *testing.T) {
	f, _ := newReviewFixture(t)
	var d callDetailJSON
	f.get(t, fmt.Sprintf("/api/v1/calls/%d", f.c1), supToken).json(t, &d)
	var link string
	for _, r := range d.Recordings {
		if r.ID == f.recIn {
			link = r.PlayURL
		}
	}
	if !strings.HasPrefix(link, fmt.Sprintf("/api/v1/calls/%d/recordings/%d?exp=", f.c1, f.recIn)) {
		t.Fatalf("play_url %q", link)
	}
	r := f.get(t, link, "", "Range", "bytes=0-99")
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, f.wav[:100]) {
		t.Fatalf("signed link with a range: %d, %d bytes", r.status, len(r.body))
	}
	u, _ := url.Parse(link)
	q := u.Query()
	exp, sig := q.Get("exp"), q.Get("sig")
	other := fmt.Sprintf("/api/v1/calls/%d/recordings/%d", f.c1, f.recOut)
	for what, path := range map[string]string{
		"other recording": other + "?" + u.RawQuery,
		"later expiry":    u.Path + "?exp=9" + exp + "&sig=" + sig,
		"changed sig":     u.Path + "?exp=" + exp + "&sig=A" + sig[1:],
		"expired":         u.Path + "?exp=1000&sig=" + f.srvSig(t, f.c1, f.recIn, 1000),
	} {
		if r := f.get(t, path, ""); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", what, r.status)
		}
	}
	for what, path := range map[string]string{
		"no sig":      u.Path + "?exp=" + exp,
		"extra":       link + "&x=1",
		"bad exp":     u.Path + "?exp=soon&sig=" + sig,
		"twice":       link + "&sig=" + sig,
		"bad call id": fmt.Sprintf("/api/v1/calls/x/recordings/%d?", f.recIn) + u.RawQuery,
	} {
		if r := f.get(t, path, ""); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", what, r.status)
		}
	}
	// An agent's view of their own call carries no link.
	var own callDetailJSON
	f.get(t, fmt.Sprintf("/api/v1/calls/%d", f.c1), aliceToken).json(t, &own)
	for _, r := range own.Recordings {
		if r.PlayURL != "" {
			t.Errorf("agent's view links %q", r.PlayURL)
		}
	}
}

// srvSig signs a link as the fixture's server does: with the process's
// key, the test configuration naming no other.
func (f *fixture) srvSig(t *testing.T, call, rid, exp int64) string {
	t.Helper()
	s := &server{sessionKey: processKey()}
	return s.recordingLinkMAC(call, rid, exp)
}

// Whatever the body, the review's decoding never panics; a rejection is a
// clear, short message; and what is accepted is what the handlers rely on.
func FuzzReviewBody(f *testing.F) {
	for _, seed := range []string{
		`{"verdict":"wrong","correction":"say this"}`, `{"verdict":"good"}`, `{"verdict":"good","correction":"x"}`,
		`{"phrase":"I lost my card","lang":"en","call":1,"seq":2}`, `{"phrase":"我的卡"}`, `{"phrase":"a\u0000b"}`,
		`{"phrase":"x","call":-1,"seq":1}`, `{"verdict":1}`, `[]`, `null`, ``, `{`, `{"phrase":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if m, err := parseMark(bytes.NewReader(body)); err != nil {
			checkBad(t, "mark", err)
		} else if (m.Verdict != store.VerdictGood && m.Verdict != store.VerdictWrong) || len(m.Correction) > store.MaxCorrection ||
			!utf8.ValidString(m.Correction) || m.Verdict == store.VerdictGood && strings.TrimSpace(m.Correction) != "" {
			t.Fatalf("mark accepted %+v", m)
		}
		if e, err := parseExample(bytes.NewReader(body)); err != nil {
			checkBad(t, "example", err)
		} else if store.CheckPhrase(e.Phrase) != nil || (e.Lang != "en" && e.Lang != "zh") || e.Call < 0 || e.Seq < 0 || (e.Call == 0) != (e.Seq == 0) {
			t.Fatalf("example accepted %+v", e)
		}
	})
}

// Whatever the query, the figures' range is a clear 400 or a range the
// store takes.
func FuzzFigureRange(f *testing.F) {
	for _, seed := range []string{"since=2025-03-01&until=2025-03-08", "since=2025-03-08&until=2025-03-01", "until=x", "a=b", "since=0001-01-01"} {
		f.Add(seed)
	}
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		since, until, err := parseFigureRange(q, now)
		if err != nil {
			var bad badRequest
			if !errors.As(err, &bad) {
				t.Fatalf("%v is not a bad request", err)
			}
			return
		}
		n := until.Sub(since) / (24 * time.Hour)
		if n < 1 || n > store.MaxFigureDays || !since.Equal(since.Truncate(24*time.Hour)) {
			t.Fatalf("accepted %s to %s", since, until)
		}
	})
}

// The review page is served like the desktops: no token, no framing.
func TestReviewPage(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{"/review/": "review.js", "/review/review.js": "/api/v1/figures"} {
		r := f.get(t, path, "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
			t.Errorf("%s: %d, want %q in the body", path, r.status, want)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: headers %v", path, r.header)
		}
	}
}
