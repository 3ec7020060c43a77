package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/redact"
	"github.com/hotline-cc/hotline/store"
)

// badRequest is an error of parsing a request: the client's, 400.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func badf(format string, args ...any) error { return badRequest(fmt.Sprintf(format, args...)) }

// maxErrText caps an error message; maxEcho a request value quoted in one.
const (
	maxErrText = 240
	maxEcho    = 40
)

// safeText makes text fit to send or log: personal data redacted, valid
// UTF-8 without control characters, and not longer than maxErrText.
func safeText(s string) string {
	s = redact.Redact(clip(s, 4*maxErrText))
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return clip(s, maxErrText)
}

// echo quotes a request's value for an error message, cut short: the
// message then goes through safeText, which redacts it.
func echo(v string) string { return strconv.Quote(clip(v, maxEcho)) }

// clip cuts s to at most n bytes on a rune boundary, as valid UTF-8.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// params reads a query's parameters, each at most once, and rejects the
// ones an endpoint does not know.
type params struct {
	q   url.Values
	err error
}

func newParams(q url.Values, known ...string) *params {
	p := &params{q: q}
	for k, vs := range q {
		switch {
		case !contains(known, k) && len(known) == 0:
			p.fail(badf("unknown parameter %s (this request takes none)", echo(k)))
		case !contains(known, k):
			p.fail(badf("unknown parameter %s (want %s)", echo(k), strings.Join(known, ", ")))
		case len(vs) > 1:
			p.fail(badf("parameter %s given %d times", k, len(vs)))
		}
	}
	return p
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// fail keeps one error of several, the same whatever the order the
// parameters are read in.
func (p *params) fail(err error) {
	if p.err == nil || err.Error() < p.err.Error() {
		p.err = err
	}
}

func (p *params) str(k string) string { return p.q.Get(k) }

func (p *params) time(k string) time.Time {
	v := p.q.Get(k)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		p.fail(badf("%s %s: want an RFC 3339 time such as 2025-03-01T10:00:00Z", k, echo(v)))
		return time.Time{}
	}
	return t
}

func (p *params) limit() int {
	v := p.q.Get("limit")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxLimit {
		p.fail(badf("limit %s: want a number from 1 to %d (default %d)", echo(v), store.MaxLimit, store.DefaultLimit))
		return 0
	}
	return n
}

func (p *params) cursor() string {
	v := p.q.Get("cursor")
	if len(v) > 128 || strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		p.fail(badf("cursor %s: want the next cursor of a previous page", echo(v)))
		return ""
	}
	return v
}

// word checks a value that names something: letters, digits, _ + -.
func (p *params) word(k string) string {
	v := p.q.Get(k)
	if len(v) > 64 || strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '+')
	}) >= 0 {
		p.fail(badf("%s %s: want a word (letters, digits, _ + -)", k, echo(v)))
		return ""
	}
	return v
}

func (p *params) oneOf(k string, allowed ...string) string {
	v := p.q.Get(k)
	if v != "" && !contains(allowed, v) {
		p.fail(badf("%s %s: want one of %s", k, echo(v), strings.Join(allowed, ", ")))
		return ""
	}
	return v
}

func (p *params) bool(k string) bool {
	v := p.q.Get(k)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(badf("%s %s: want true or false", k, echo(v)))
	}
	return b
}

// fraction reads a number from 0 to 1 (0 when absent).
func (p *params) fraction(k string) float64 {
	v := p.q.Get(k)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 1) {
		p.fail(badf("%s %s: want a number above 0 and at most 1", k, echo(v)))
		return 0
	}
	return f
}

func (p *params) id(k string) int64 {
	v := p.q.Get(k)
	if v == "" {
		return 0
	}
	id, err := parseID(v)
	if err != nil {
		p.fail(badf("%s %s: want a positive id", k, echo(v)))
	}
	return id
}

// parseID reads an id of a call, recording or callback: a positive decimal
// number.
func parseID(v string) (int64, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 || v[0] == '+' {
		return 0, badf("id %s: want a positive number", echo(v))
	}
	return id, nil
}

// timeRange checks since < until.
func (p *params) timeRange(since, until time.Time) {
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		p.fail(badf("until must be after since"))
	}
}

var dispositions = []string{
	store.DispositionCompleted, store.DispositionAbandoned, store.DispositionTransferred,
	store.DispositionMessage, store.DispositionCallback, store.DispositionFailed,
	store.DispositionRejected, store.DispositionInterrupted,
}

// parseCallFilter reads GET /api/v1/calls' parameters.
func parseCallFilter(q url.Values) (store.CallFilter, error) {
	p := newParams(q, "since", "until", "number", "disposition", "emotion", "ended", "intent", "transferred",
		"crisis", "below_confidence", "limit", "cursor")
	f := store.CallFilter{
		Since:           p.time("since"),
		Until:           p.time("until"),
		Number:          p.str("number"),
		Disposition:     p.oneOf("disposition", dispositions...),
		Emotion:         p.word("emotion"),
		Ended:           p.bool("ended"),
		Intent:          p.word("intent"),
		Transferred:     p.oneOf("transferred", store.TransferredYes, store.TransferredNo),
		Crisis:          p.bool("crisis"),
		BelowConfidence: p.fraction("below_confidence"),
		Limit:           p.limit(),
		Cursor:          p.cursor(),
	}
	p.timeRange(f.Since, f.Until)
	if n := f.Number; len(n) > 64 || !utf8.ValidString(n) || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		p.fail(badf("number %s: want at most 64 characters of a number or address", echo(n)))
	}
	return f, p.err
}

// parseCallbackFilter reads GET /api/v1/callbacks' parameters.
func parseCallbackFilter(q url.Values) (store.CallbackFilter, error) {
	p := newParams(q, "status", "call", "limit", "cursor")
	f := store.CallbackFilter{
		Status: p.oneOf("status", store.CallbackPending, store.CallbackDone, store.CallbackCancelled),
		Call:   p.id("call"),
		Limit:  p.limit(),
		Cursor: p.cursor(),
	}
	return f, p.err
}

// parseAlertFilter reads GET /api/v1/alerts' parameters.
func parseAlertFilter(q url.Values) (store.AlertFilter, error) {
	p := newParams(q, "since", "until", "category", "unacknowledged", "limit", "cursor")
	f := store.AlertFilter{
		Since:          p.time("since"),
		Until:          p.time("until"),
		Category:       p.word("category"),
		Unacknowledged: p.bool("unacknowledged"),
		Limit:          p.limit(),
		Cursor:         p.cursor(),
	}
	p.timeRange(f.Since, f.Until)
	return f, p.err
}
