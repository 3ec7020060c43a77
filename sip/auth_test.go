package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func authRequest(t *testing.T, a *digestAuth, nonce, user, password, qop string) *siplib.Request {
	t.Helper()
	chal := &digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: "MD5"}
	if qop != "" {
		chal.QOP = []string{qop}
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:100@192.0.2.1", Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	req := siplib.NewRequest(siplib.INVITE, siplib.Uri{Scheme: "sip", User: "100", Host: "192.0.2.1"})
	req.AppendHeader(siplib.NewHeader("Authorization", cred.String()))
	return req
}

func TestDigestVerify(t *testing.T) {
	now := time.Now()
	a := newDigestAuth("alice", "pw", "realm.test", newNonceKey())
	fresh := a.nonce(now)
	for name, tc := range map[string]struct {
		req  *siplib.Request
		want authResult
	}{
		"right, qop auth":   {authRequest(t, a, fresh, "alice", "pw", "auth"), authOK},
		"right, rfc 2069":   {authRequest(t, a, fresh, "alice", "pw", ""), authOK},
		"wrong password":    {authRequest(t, a, fresh, "alice", "nope", "auth"), authFailed},
		"wrong user":        {authRequest(t, a, fresh, "bob", "pw", "auth"), authFailed},
		"expired, right":    {authRequest(t, a, a.nonce(now.Add(-nonceTTL-time.Minute)), "alice", "pw", "auth"), authStale},
		"expired, wrong":    {authRequest(t, a, a.nonce(now.Add(-nonceTTL-time.Minute)), "alice", "nope", "auth"), authFailed},
		"forged nonce":      {authRequest(t, a, strings.Repeat("ab", 32), "alice", "pw", "auth"), authFailed},
		"other key's nonce": {authRequest(t, a, newDigestAuth("alice", "pw", "realm.test", newNonceKey()).nonce(now), "alice", "pw", "auth"), authFailed},
		"no credentials":    {siplib.NewRequest(siplib.INVITE, siplib.Uri{Host: "x"}), authMissing},
	} {
		if got, _ := a.verify(tc.req, now); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	other := newDigestAuth("alice", "pw", "other.realm", a.key)
	if got, _ := other.verify(authRequest(t, a, fresh, "alice", "pw", "auth"), now); got != authMissing {
		t.Errorf("credentials for another realm: %v, want missing", got)
	}
	c, err := digest.ParseChallenge(a.challenge(now, true))
	if err != nil || !c.Stale || c.Realm != "realm.test" {
		t.Errorf("stale challenge %+v %v", c, err)
	}
	if ours, expired := a.checkNonce(c.Nonce, now); !ours || expired {
		t.Errorf("fresh nonce ours=%v expired=%v", ours, expired)
	}
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(time.Minute)
	now := time.Now()
	if !l.allow("a", now) || l.allow("a", now.Add(59*time.Second)) || !l.allow("a", now.Add(61*time.Second)) {
		t.Error("limiter does not allow once a minute")
	}
	if !l.allow("b", now) {
		t.Error("keys are not independent")
	}
	l.max = 10
	for i := range 100 {
		l.allow(string(rune('A'+i)), now)
	}
	if len(l.last) > 10 {
		t.Errorf("limiter grew to %d keys", len(l.last))
	}
}

func TestRedact(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redactHandler{slog.NewTextHandler(&buf, nil)})
	raw := "INVITE sip:x SIP/2.0\r\nAuthorization: Digest username=\"alice\", response=\"abc123\"\r\nproxy-authorization : Digest x\r\nTo: <sip:x>\r\n"
	log.Error("failed to parse", "data", raw, "err", errors.New(raw))
	log.With("msg", raw).Info("x")
	out := buf.String()
	if strings.Contains(out, "abc123") || strings.Contains(out, "Digest") {
		t.Errorf("credentials in log: %s", out)
	}
	if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "To: <sip:x>") {
		t.Errorf("redaction lost the rest: %s", out)
	}
}

func TestParseDigit(t *testing.T) {
	for in, want := range map[string]byte{"5": '5', "*": '*', "#": '#', "10": '*', "11": '#', "a": 'A', "15": 'D', " 0 ": '0'} {
		if d, ok := parseDigit(in); !ok || byte(d) != want {
			t.Errorf("parseDigit(%q) = %q %v, want %q", in, d, ok, want)
		}
	}
	for _, in := range []string{"", "x", "16", "55"} {
		if _, ok := parseDigit(in); ok {
			t.Errorf("parseDigit(%q) accepted", in)
		}
	}
}
