package api

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/store"
)

// Whatever the query, parsing never panics; a rejection is a clear,
// short, redacted message; and what the API accepts the store accepts too
// (a cursor's content aside, which only the store can read), so a 400
// never comes from deeper than the parameters.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"since=2025-03-01T10:00:00Z&until=2025-03-02T00:00:00%2B08:00",
		"limit=50&cursor=Y2FsbHM6MTc0MDgyNjgwMDAwMDAwMDo3",
		"number=%2B1415&disposition=abandoned&emotion=angry",
		"status=pending&call=12",
		"category=self_harm&unacknowledged=true",
		"limit=-1", "limit=1001", "since=yesterday", "cursor=%00", "number=%ff%fe",
		"emotion=" + url.QueryEscape("jane@example.com"), "a=1&a=2", "4111111111111111=1",
	} {
		f.Add(seed)
	}
	st := openStore(f)

	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		ctx := context.Background()
		check := func(what string, err error, cursor string, call func() error) {
			if err != nil {
				checkBad(t, what, err)
				return
			}
			if err := call(); errors.Is(err, store.ErrInvalid) && cursor == "" {
				t.Fatalf("%s: the API accepted %q, the store refused it: %v", what, raw, err)
			} else if err != nil && !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%s: store: %v", what, err)
			}
		}
		cf, err := parseCallFilter(q)
		check("calls", err, cf.Cursor, func() error { _, err := st.ListCalls(ctx, cf); return err })
		bf, err := parseCallbackFilter(q)
		check("callbacks", err, bf.Cursor, func() error { _, err := st.Callbacks(ctx, bf); return err })
		af, err := parseAlertFilter(q)
		check("alerts", err, af.Cursor, func() error { _, err := st.CrisisAlerts(ctx, af); return err })
	})
}

// Whatever the body, the login's and the state change's decoding never
// panics; a rejection is a clear, short message; and what is accepted is
// what the handlers rely on.
func FuzzDeskBody(f *testing.F) {
	for _, seed := range []string{
		`{"agent":"alice","password":"pw"}`,
		`{"state":"available"}`,
		`{"state":"not_ready","reason":"lunch"}`,
		`{"state":"not_ready","reason":"a\u0000b"}`,
		`{"agent":"a b","password":""}`,
		`{"state":"available"} {}`, `[]`, `null`, `"x"`, `{"state":1}`, `{"x":1}`, ``, `{`,
		`{"agent":"\ud800","password":"\xff"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if l, err := parseLogin(bytes.NewReader(body)); err != nil {
			checkBad(t, "login", err)
		} else if !validName(l.Agent) || l.Password == "" || len(l.Password) > maxPassword {
			t.Fatalf("login accepted %+v", l)
		}
		if c, err := parseStateChange(bytes.NewReader(body)); err != nil {
			checkBad(t, "state", err)
		} else if !contains(manualStates, c.State) || len(c.Reason) > maxReason || c.Reason != "" && c.State != "not_ready" ||
			!utf8.ValidString(c.Reason) || strings.IndexFunc(c.Reason, unicode.IsControl) >= 0 {
			t.Fatalf("state change accepted %+v", c)
		}
	})
}
