package api

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/redact"
	"github.com/hotline-cc/hotline/store"
)

// IntentView is one intent of the rule flow.
type IntentView struct {
	Name  string
	Title string
}

// Intents is the rule flow's intents, for reviewing Hotline's answers:
// what they are, and teaching one another phrase.
type Intents interface {
	Intents() []IntentView
	// AddExample makes the intent recognise phrase, in lang (en or zh),
	// from the next turn of every call on. An error wrapping
	// ErrUnknownIntent is answered 404; any other is the phrase's fault
	// (400).
	AddExample(intent, lang, phrase string) error
}

// ErrUnknownIntent: the flow has no intent of that name.
var ErrUnknownIntent = errors.New("no such intent")

// linkTTL is how long a signed link to a recording plays: long enough to
// review a call, short enough that a copied link soon dies.
const linkTTL = time.Hour

// recordingLinkMAC signs a link to one recording of one call until exp.
func (s *server) recordingLinkMAC(call, rid int64, exp int64) string {
	return base64.RawURLEncoding.EncodeToString(sessionMAC(s.sessionKey, fmt.Sprintf("recording:%d:%d:%d", call, rid, exp)))
}

// signRecordings gives a supervisor's view of a call a link to play each
// recording: an audio element cannot send the bearer token, and must ask
// for ranges of the file itself.
func (s *server) signRecordings(d *callDetailJSON, now time.Time) {
	exp := now.Add(linkTTL).Unix()
	for i := range d.Recordings {
		r := &d.Recordings[i]
		r.PlayURL = fmt.Sprintf("%s?exp=%d&sig=%s", r.URL, exp, s.recordingLinkMAC(d.ID, r.ID, exp))
	}
}

// recordingAuth admits a recording's request by its bearer token, or by
// the signed link the call's detail gave a supervisor.
func (s *server) recordingAuth() http.Handler {
	withToken := s.auth(RoleSupervisor, s.recording)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if len(q) == 0 {
			withToken.ServeHTTP(w, r)
			return
		}
		p := newParams(q, "exp", "sig")
		exp, err := strconv.ParseInt(p.str("exp"), 10, 64)
		if p.err != nil || err != nil || p.str("sig") == "" {
			writeError(w, http.StatusBadRequest, "a recording's link takes exp and sig, as the call's detail gives it")
			return
		}
		call, err1 := parseID(r.PathValue("id"))
		rid, err2 := parseID(r.PathValue("rid"))
		if err1 != nil || err2 != nil {
			s.fail(w, r, errors.Join(err1, err2))
			return
		}
		want := s.recordingLinkMAC(call, rid, exp)
		if len(p.str("sig")) != len(want) || !hmac.Equal([]byte(p.str("sig")), []byte(want)) || time.Now().Unix() >= exp {
			writeError(w, http.StatusUnauthorized, "the recording's link is not valid or has expired: open the call again")
			return
		}
		if rl, ok := r.Context().Value(reqLogKey).(*reqLog); ok {
			rl.who = "signed link"
		}
		s.recording(w, r.WithContext(context.WithValue(r.Context(), principalKey, principal{name: "signed link", role: RoleSupervisor})))
	})
}

type markJSON struct {
	Seq        int       `json:"seq"`
	Verdict    string    `json:"verdict"`
	Correction string    `json:"correction,omitempty"`
	By         string    `json:"by"`
	At         time.Time `json:"at"`
}

func toMark(m store.Mark) markJSON {
	return markJSON{Seq: m.Seq, Verdict: m.Verdict, Correction: m.Correction, By: m.By, At: m.At.UTC()}
}

// markRequest is the body of PUT /api/v1/calls/{id}/turns/{seq}/mark.
type markRequest struct {
	Verdict    string `json:"verdict"`
	Correction string `json:"correction"`
}

// parseMark reads PUT /api/v1/calls/{id}/turns/{seq}/mark's body.
func parseMark(r io.Reader) (markRequest, error) {
	var req markRequest
	if err := decodeBody(r, &req); err != nil {
		return markRequest{}, err
	}
	var bad []string
	if req.Verdict != store.VerdictGood && req.Verdict != store.VerdictWrong {
		bad = append(bad, fmt.Sprintf("verdict %s: want good or wrong", echo(req.Verdict)))
	}
	if len(req.Correction) > store.MaxCorrection || !utf8.ValidString(req.Correction) || strings.IndexByte(req.Correction, 0) >= 0 {
		bad = append(bad, fmt.Sprintf("correction: want text of at most %d bytes", store.MaxCorrection))
	}
	if req.Verdict == store.VerdictGood && strings.TrimSpace(req.Correction) != "" {
		bad = append(bad, "correction: only an answer marked wrong takes one")
	}
	return req, badList(bad)
}

// markAnswer records a supervisor's verdict on one of Hotline's answers.
func (s *server) markAnswer(w http.ResponseWriter, r *http.Request) {
	call, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seq, err := parseID(r.PathValue("seq"))
	if err != nil || seq > 1<<31-1 {
		s.fail(w, r, badf("turn %s: want the answer's turn number", echo(r.PathValue("seq"))))
		return
	}
	if !isJSON(w, r) {
		return
	}
	req, err := parseMark(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	m, err := s.deps.Store.MarkAnswer(ctx, store.Mark{Call: call, Seq: int(seq), Verdict: req.Verdict,
		Correction: req.Correction, By: principalOf(r.Context()).name})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMark(m))
}

type intentJSON struct {
	Name  string   `json:"name"`
	Title string   `json:"title"`
	Added []string `json:"added"`
}

// intents lists the flow's intents with the phrases added to each.
func (s *server) intents(w http.ResponseWriter, r *http.Request) {
	if err := newParams(r.URL.Query()).err; err != nil {
		s.fail(w, r, err)
		return
	}
	out := []intentJSON{}
	if s.deps.Intents != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
		defer cancel()
		added, err := s.deps.Store.Examples(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		byIntent := map[string][]string{}
		for _, e := range added {
			byIntent[e.Intent] = append(byIntent[e.Intent], e.Phrase)
		}
		for _, it := range s.deps.Intents.Intents() {
			out = append(out, intentJSON{Name: it.Name, Title: it.Title, Added: append([]string{}, byIntent[it.Name]...)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"intents": out})
}

// exampleRequest is the body of POST /api/v1/intents/{name}/examples.
type exampleRequest struct {
	Phrase string `json:"phrase"`
	// Lang is en or zh; empty: zh for a phrase in Chinese characters,
	// else en.
	Lang string `json:"lang"`
	// Call and Seq name the answer the phrase corrects, if any.
	Call int64 `json:"call"`
	Seq  int   `json:"seq"`
}

type exampleJSON struct {
	ID      int64     `json:"id"`
	Intent  string    `json:"intent"`
	Lang    string    `json:"lang"`
	Phrase  string    `json:"phrase"`
	Call    int64     `json:"call,omitempty"`
	Seq     int       `json:"seq,omitempty"`
	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`
}

// parseExample reads POST /api/v1/intents/{name}/examples' body.
func parseExample(r io.Reader) (exampleRequest, error) {
	var req exampleRequest
	if err := decodeBody(r, &req); err != nil {
		return exampleRequest{}, err
	}
	req.Phrase = strings.Join(strings.Fields(req.Phrase), " ")
	var bad []string
	if err := store.CheckPhrase(req.Phrase); err != nil {
		bad = append(bad, strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error()))
	}
	if req.Lang == "" {
		req.Lang = "en"
		if strings.ContainsFunc(req.Phrase, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			req.Lang = "zh"
		}
	}
	if req.Lang != "en" && req.Lang != "zh" {
		bad = append(bad, fmt.Sprintf("lang %s: want en or zh", echo(req.Lang)))
	}
	if req.Call < 0 || req.Seq < 0 || (req.Call == 0) != (req.Seq == 0) {
		bad = append(bad, "call and seq: want both (the answer the phrase corrects), or neither")
	}
	return req, badList(bad)
}

// addExample teaches an intent a phrase: live in the rule brain at once,
// and kept in the store for the next start.
func (s *server) addExample(w http.ResponseWriter, r *http.Request) {
	if s.deps.Intents == nil {
		writeError(w, http.StatusNotImplemented, "this node has no rule flow to teach")
		return
	}
	intent := r.PathValue("name")
	if !validName(intent) || strings.ContainsAny(intent, ".@") {
		s.fail(w, r, badf("intent %s: want an intent's name", echo(intent)))
		return
	}
	if !isJSON(w, r) {
		return
	}
	req, err := parseExample(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	known := false
	for _, it := range s.deps.Intents.Intents() {
		known = known || it.Name == intent
	}
	if !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no intent %s in the flow", intent))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	if req.Call > 0 {
		// The answer named must exist before the brain learns anything.
		if _, err := s.deps.Store.Call(ctx, req.Call); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	// What the store keeps is redacted; the brain learns the same words.
	phrase := redact.Redact(req.Phrase)
	if err := s.deps.Intents.AddExample(intent, req.Lang, phrase); err != nil {
		if errors.Is(err, ErrUnknownIntent) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no intent %s in the flow", intent))
			return
		}
		s.fail(w, r, badf("phrase: %s", strings.TrimPrefix(err.Error(), "rules: add example: ")))
		return
	}
	by := principalOf(r.Context()).name
	e, err := s.deps.Store.AddExample(ctx, store.Example{Intent: intent, Lang: req.Lang, Phrase: phrase, Call: req.Call, Seq: req.Seq, AddedBy: by})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("api: example phrase added", "intent", intent, "lang", req.Lang, "by", by)
	writeJSON(w, http.StatusCreated, exampleJSON{ID: e.ID, Intent: e.Intent, Lang: e.Lang, Phrase: e.Phrase,
		Call: e.Call, Seq: e.Seq, AddedBy: e.AddedBy, AddedAt: e.AddedAt.UTC()})
}

type dayJSON struct {
	Date string `json:"date"`
	// Calls answered and ended; Contained finished by Hotline alone.
	Calls       int            `json:"calls"`
	Contained   int            `json:"contained"`
	Containment *float64       `json:"containment,omitempty"` // Contained / Calls; absent without calls
	Transfers   map[string]int `json:"transfers"`
	HandleMS    int64          `json:"avg_handle_ms"`
	Crisis      int            `json:"crisis"`
	MarkedWrong int            `json:"marked_wrong"`
}

const dayLayout = "2006-01-02"

// parseFigureRange reads GET /api/v1/figures' parameters: since and until
// are days (YYYY-MM-DD, UTC), until excluded; by default the last 7 days
// through today.
func parseFigureRange(q url.Values, now time.Time) (time.Time, time.Time, error) {
	p := newParams(q, "since", "until")
	day := func(k string, def time.Time) time.Time {
		v := p.str(k)
		if v == "" {
			return def
		}
		t, err := time.Parse(dayLayout, v)
		if err != nil {
			p.fail(badf("%s %s: want a day such as 2025-03-01", k, echo(v)))
		}
		return t
	}
	until := day("until", now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1))
	since := day("since", until.AddDate(0, 0, -7))
	if p.err == nil {
		switch n := until.Sub(since) / (24 * time.Hour); {
		case n < 1:
			p.fail(badf("until must be after since"))
		case n > store.MaxFigureDays:
			p.fail(badf("since to until: %d days, want at most %d", n, store.MaxFigureDays))
		}
	}
	return since, until, p.err
}

// figures gives the daily figures of the review.
func (s *server) figures(w http.ResponseWriter, r *http.Request) {
	since, until, err := parseFigureRange(r.URL.Query(), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	days, err := s.deps.Store.DailyFigures(ctx, since, until)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]dayJSON, 0, len(days))
	for _, d := range days {
		dj := dayJSON{Date: d.Day.Format(dayLayout), Calls: d.Calls, Contained: d.Contained, Transfers: map[string]int{},
			HandleMS: d.HandleTime.Milliseconds(), Crisis: d.Crisis, MarkedWrong: d.MarkedWrong}
		if d.Calls > 0 {
			c := float64(d.Contained) / float64(d.Calls)
			dj.Containment = &c
		}
		for reason, n := range d.Transfers {
			dj.Transfers[safeText(reason)] += n
		}
		out = append(out, dj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since.Format(dayLayout), "until": until.Format(dayLayout), "days": out})
}
