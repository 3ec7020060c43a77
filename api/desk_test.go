package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/store"
)

type loginAnswer struct {
	Token     string    `json:"token"`
	Agent     string    `json:"agent"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	Error     string    `json:"error"`
}

func (f *fixture) login(t testing.TB, agent, password string) (int, loginAnswer) {
	t.Helper()
	r := f.post(t, "/api/v1/login", "", fmt.Sprintf(`{"agent":%q,"password":%q}`, agent, password))
	var a loginAnswer
	r.json(t, &a)
	return r.status, a
}

// A login's token is an agent token named after the agent: it sees the
// agent's own calls and nothing a supervisor may.
func TestLogin(t *testing.T) {
	f := newFixture(t)
	status, a := f.login(t, "alice", "pw-alice")
	if status != http.StatusOK || a.Agent != "alice" || a.Role != "agent" || !strings.HasPrefix(a.Token, sessionPrefix) {
		t.Fatalf("login: %d %+v", status, a)
	}
	if ttl := time.Until(a.ExpiresAt); ttl < DefaultSessionTTL-time.Minute || ttl > DefaultSessionTTL {
		t.Errorf("expires in %v, want %v", ttl, DefaultSessionTTL)
	}
	for path, want := range map[string]int{
		fmt.Sprintf("/api/v1/calls/%d", f.c1): http.StatusOK,
		"/api/v1/agents/alice":                http.StatusOK,
		"/api/v1/queues":                      http.StatusOK,
		"/api/v1/agents/bob":                  http.StatusForbidden,
		"/api/v1/calls":                       http.StatusForbidden,
		"/api/v1/alerts":                      http.StatusForbidden,
	} {
		if r := f.get(t, path, a.Token); r.status != want {
			t.Errorf("%s with alice's login: %d, want %d", path, r.status, want)
		}
	}
	if !strings.Contains(f.log.String(), "who=alice") {
		t.Error("the request log does not name the agent")
	}

	start := time.Now()
	status, a = f.login(t, "alice", "pw-bob")
	if status != http.StatusUnauthorized || a.Token != "" {
		t.Errorf("wrong password: %d %+v", status, a)
	}
	if d := time.Since(start); d < loginFailDelay {
		t.Errorf("wrong password answered in %v, want at least %v", d, loginFailDelay)
	}
	if strings.Contains(f.log.String(), "pw-") {
		t.Error("the log holds a password")
	}

	for _, c := range []struct{ body, contentType, want string }{
		{`{"agent":"alice"}`, "", "password"},
		{`{"agent":"a b","password":""}`, "", "agent: want the agent's id, 1 to 64 letters, digits, . _ @ -; password"},
		{`{"agent":"alice","password":"x","remember":true}`, "", "unknown field"},
		{`{"agent":"alice","password":1}`, "", "password: want a string"},
		{`["alice"]`, "", "JSON object"},
		{`{"agent":"alice","password":"x"} {}`, "", "nothing after it"},
		{`{"agent":"alice","password":"` + strings.Repeat("x", maxBody) + `"}`, "", "at most 4096 bytes"},
		{`agent=alice&password=x`, "application/x-www-form-urlencoded", "Content-Type"},
	} {
		var r response
		if c.contentType != "" {
			r = f.post(t, "/api/v1/login", "", c.body, c.contentType)
		} else {
			r = f.post(t, "/api/v1/login", "", c.body)
		}
		var body struct{ Error string }
		r.json(t, &body)
		if r.status/100 != 4 || r.status == http.StatusUnauthorized || !strings.Contains(body.Error, c.want) {
			t.Errorf("body %.40q: %d %q, want a 400 or 415 mentioning %q", c.body, r.status, body.Error, c.want)
		}
	}

	g := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) { d.Login = nil })
	if status, _ := g.login(t, "alice", "pw-alice"); status != http.StatusNotImplemented {
		t.Errorf("no Login: status %d, want 501", status)
	}
}

// Failed logins are limited per address; logins that succeed are not.
func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	for i := range loginBurst + 5 {
		if status, a := f.login(t, "alice", "pw-alice"); status != http.StatusOK {
			t.Fatalf("login %d: %d %s", i, status, a.Error)
		}
	}
	// The wrong attempts run at once, so the test does not wait out each
	// one's delay in turn.
	statuses := make([]int, loginBurst+2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i], _ = f.login(t, "alice", fmt.Sprint("guess", i)) })
	}
	wg.Wait()
	slices.Sort(statuses)
	want := slices.Repeat([]int{http.StatusUnauthorized}, loginBurst)
	want = append(want, http.StatusTooManyRequests, http.StatusTooManyRequests)
	if !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	r := f.post(t, "/api/v1/login", "", `{"agent":"alice","password":"pw-alice"}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("right password after the limit: %d, Retry-After %q: want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
}

// Tokens signed with the configured key survive a restart; expired,
// tampered and foreign ones are refused.
func TestSessionTokens(t *testing.T) {
	const env = "HOTLINE_TEST_SESSION_KEY"
	key := "a-session-key-of-at-least-32-bytes!"
	t.Setenv(env, key)
	f := newFixtureWith(t, func(c *Config) { c.SessionKeyEnv = env })
	_, a := f.login(t, "alice", "pw-alice")

	// Another node with the key (or this one restarted) takes the token.
	other := newFixtureWith(t, func(c *Config) { c.SessionKeyEnv = env })
	if r := other.get(t, "/api/v1/agents/alice", a.Token); r.status != http.StatusOK {
		t.Errorf("another node with the key: %d", r.status)
	}
	random := newFixture(t)
	if r := random.get(t, "/api/v1/agents/alice", a.Token); r.status != http.StatusUnauthorized {
		t.Errorf("a node with its own key: %d, want 401", r.status)
	}

	mint := func(k, agent string, exp time.Time) string {
		tok, err := mintSession([]byte(k), agent, exp)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	signed := func(payload string) string {
		s := sessionPrefix + base64.RawURLEncoding.EncodeToString([]byte(payload))
		return s + "." + base64.RawURLEncoding.EncodeToString(sessionMAC([]byte(key), s))
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := mint(key, "alice", time.Now().Add(time.Hour))
	dot := strings.LastIndexByte(good, '.')
	bobPayload := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"bob","role":"agent","exp":%d}`, exp))
	for name, tok := range map[string]string{
		"expired":          mint(key, "alice", time.Now().Add(-time.Second)),
		"other key":        mint("another-key-of-at-least-32-bytes!!", "alice", time.Now().Add(time.Hour)),
		"payload swapped":  sessionPrefix + bobPayload + good[dot:],
		"mac changed":      good[:len(good)-2] + "AA",
		"mac cut":          good[:dot],
		"no mac":           sessionPrefix,
		"supervisor role":  signed(fmt.Sprintf(`{"sub":"alice","role":"supervisor","exp":%d}`, exp)),
		"bad agent id":     signed(fmt.Sprintf(`{"sub":"a b","role":"agent","exp":%d}`, exp)),
		"not JSON":         signed("alice"),
		"other prefix":     "hls2." + good[len(sessionPrefix):],
		"payload not b64":  sessionPrefix + "!!" + good[dot:],
		"static-like form": "hls1.x",
	} {
		if r := f.get(t, "/api/v1/agents/alice", tok); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
	}
	if r := f.get(t, "/api/v1/agents/alice", good); r.status != http.StatusOK {
		t.Errorf("a fresh token: %d", r.status)
	}

	t.Setenv(env, "short")
	st := openStore(t)
	if _, err := New(Config{SessionKeyEnv: env}, Deps{Store: st, Events: events.NewBus(0)}, nil); err == nil || !strings.Contains(err.Error(), env) {
		t.Errorf("short key: %v", err)
	}
}

func TestSessionConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"key env", func(c *Config) { c.SessionKeyEnv = "HOTLINE_SESSION_KEY" }, true},
		{"key env name", func(c *Config) { c.SessionKeyEnv = "1BAD" }, false},
		{"ttl", func(c *Config) { c.SessionTTL = 8 * time.Hour }, true},
		{"ttl negative", func(c *Config) { c.SessionTTL = -time.Hour }, false},
		{"ttl short", func(c *Config) { c.SessionTTL = time.Second }, false},
		{"ttl long", func(c *Config) { c.SessionTTL = 48 * time.Hour }, false},
	} {
		cfg := testConfig("")
		c.edit(&cfg)
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate: %v", c.name, err)
		}
	}
}

// An agent changes only their own state; a supervisor anyone's.
func TestAgentState(t *testing.T) {
	f := newFixture(t)
	_, login := f.login(t, "alice", "pw-alice")
	for _, c := range []struct {
		who, token, agent, body string
		want                    int
	}{
		{"alice's login", login.Token, "alice", `{"state":"available"}`, http.StatusOK},
		{"alice's static token", aliceToken, "alice", `{"state":"not_ready","reason":"lunch"}`, http.StatusOK},
		{"alice for bob", login.Token, "bob", `{"state":"available"}`, http.StatusForbidden},
		{"supervisor for bob", supToken, "bob", `{"state":"not_ready","reason":"coaching"}`, http.StatusOK},
		{"admin for bob", adminToken, "bob", `{"state":"available"}`, http.StatusOK},
		{"no token", "", "alice", `{"state":"available"}`, http.StatusUnauthorized},
		{"not allowed now", supToken, "bob", `{"state":"offline"}`, http.StatusConflict},
		{"unknown agent", supToken, "nobody", `{"state":"available"}`, http.StatusNotFound},
	} {
		r := f.post(t, "/api/v1/agents/"+c.agent+"/state", c.token, c.body)
		if r.status != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.who, r.status, c.want, r.body)
		}
	}
	want := []string{"alice=available/", "alice=not_ready/lunch", "bob=not_ready/coaching", "bob=available/"}
	if got := f.control.changes(); !slices.Equal(got, want) {
		t.Errorf("state changes %v, want %v", got, want)
	}
	if r := f.post(t, "/api/v1/agents/bob/state", supToken, `{"state":"offline"}`); !strings.Contains(string(r.body), "cannot go from available to offline") {
		t.Errorf("409 body %s: want the reason", r.body)
	}

	for _, c := range []struct{ path, body, want string }{
		{"alice", `{}`, "state \"\": want one of available, not_ready, offline"},
		{"alice", `{"state":"away"}`, "state \"away\""},
		{"alice", `{"state":"available","reason":"lunch"}`, "only not_ready takes a reason"},
		{"alice", `{"state":"not_ready","reason":"` + strings.Repeat("x", maxReason+1) + `"}`, "reason: want at most 64"},
		{"alice", `{"state":"not_ready","reason":"a\nb"}`, "one line"},
		{"alice", `{"state":"away","reason":"` + strings.Repeat("x", maxReason+1) + `"}`, "state \"away\": want one of available, not_ready, offline; reason"},
		{"alice", `{"state":"available","since":"now"}`, "unknown field"},
		{"alice", `{"state":true}`, "state: want a string"},
		{"alice", ``, "JSON object"},
		{"alice", `{"state":`, "JSON object"},
		{"a%20b", `{"state":"available"}`, "want an agent id"},
	} {
		r := f.post(t, "/api/v1/agents/"+c.path+"/state", supToken, c.body)
		var body struct{ Error string }
		r.json(t, &body)
		if r.status != http.StatusBadRequest || !strings.Contains(body.Error, c.want) {
			t.Errorf("%s %.40q: %d %q, want 400 mentioning %q", c.path, c.body, r.status, body.Error, c.want)
		}
	}
	if r := f.post(t, "/api/v1/agents/alice/state", supToken, `{"state":"available"}`, "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d, want 415", r.status)
	}

	g := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) { d.AgentControl = nil })
	if r := g.post(t, "/api/v1/agents/alice/state", aliceToken, `{"state":"available"}`); r.status != http.StatusNotImplemented {
		t.Errorf("no AgentControl: %d, want 501", r.status)
	}
}

func TestAgentSelf(t *testing.T) {
	f := newFixture(t)
	var a agentJSON
	r := f.get(t, "/api/v1/agents/alice", aliceToken)
	r.json(t, &a)
	if r.status != http.StatusOK || a.ID != "alice" || a.State != "busy" || a.CallID != "c1@test" {
		t.Errorf("alice: %d %+v", r.status, a)
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"bob", aliceToken, http.StatusForbidden},
		{"bob", supToken, http.StatusOK},
		{"zed", supToken, http.StatusNotFound},
	} {
		if r := f.get(t, "/api/v1/agents/"+c.path, c.token); r.status != c.want {
			t.Errorf("%s: %d, want %d", c.path, r.status, c.want)
		}
	}
}

// A supervisor acknowledges a crisis alert: the store records who, and
// every supervisor's stream hears of it.
func TestAckAlert(t *testing.T) {
	f := newFixture(t)
	var page struct{ Alerts []alertJSON }
	f.get(t, "/api/v1/alerts?unacknowledged=true", supToken).json(t, &page)
	if len(page.Alerts) != 1 {
		t.Fatalf("alerts %+v", page.Alerts)
	}
	id := page.Alerts[0].ID
	s := f.stream(t, supToken)
	defer s.close()
	waitFor(t, "the subscription", func() bool { return f.bus.Subscribers() == 1 })

	if r := f.post(t, fmt.Sprintf("/api/v1/alerts/%d/ack", id), aliceToken, ``); r.status != http.StatusForbidden {
		t.Errorf("agent: %d, want 403", r.status)
	}
	if r := f.post(t, fmt.Sprintf("/api/v1/alerts/%d/ack", id), supToken, ``); r.status != http.StatusOK {
		t.Fatalf("supervisor: %d %s", r.status, r.body)
	}
	typ, e := event(t, s.next(t, isEvent))
	if typ != "alert.acknowledged" || !strings.Contains(string(e.Data), fmt.Sprintf(`"id":%d`, id)) || !strings.Contains(string(e.Data), `"acknowledged_by":"sup"`) {
		t.Errorf("event %s %s", typ, e.Data)
	}
	f.get(t, "/api/v1/alerts?unacknowledged=true", supToken).json(t, &page)
	if len(page.Alerts) != 0 {
		t.Errorf("still unacknowledged: %+v", page.Alerts)
	}
	f.get(t, "/api/v1/alerts", supToken).json(t, &page)
	if len(page.Alerts) != 1 || page.Alerts[0].AcknowledgedBy != "sup" || page.Alerts[0].AcknowledgedAt == nil {
		t.Errorf("alert %+v: want acknowledged by sup", page.Alerts)
	}
	for path, want := range map[string]int{"/api/v1/alerts/999999/ack": http.StatusNotFound, "/api/v1/alerts/x/ack": http.StatusBadRequest} {
		if r := f.post(t, path, supToken, ``); r.status != want {
			t.Errorf("%s: %d, want %d", path, r.status, want)
		}
	}
}

// The desktops' pages are served without a token, framed by nobody; the
// caller page is not the API's.
func TestDesktopPages(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{
		"/agent/":          "agent.js",
		"/supervisor/":     "supervisor.js",
		"/shared/desk.js":  "HotlineDesk",
		"/agent/agent.css": "",
		"/shared/desk.css": "",
	} {
		r := f.get(t, path, "")
		if r.status != http.StatusOK {
			t.Errorf("%s: %d", path, r.status)
			continue
		}
		if !strings.Contains(string(r.body), want) {
			t.Errorf("%s: want %q in the body", path, want)
		}
		if r.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: headers %v", path, r.header)
		}
	}
	for _, path := range []string{"/caller/", "/agent/missing.js"} {
		if r := f.get(t, path, ""); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, r.status)
		}
	}
	rec := httptest.NewRecorder()
	h, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/agent", nil)
	f.srv.Config.Handler.ServeHTTP(rec, h)
	if rec.Code/100 != 3 || rec.Header().Get("Location") != "/agent/" {
		t.Errorf("/agent: %d to %q, want a redirect to /agent/", rec.Code, rec.Header().Get("Location"))
	}
}

// calls is a CallControl of live calls: call id → the agent talking.
type calls map[string]string

func (c calls) TransferCall(callID, agent, queue string) error {
	serving, ok := c[callID]
	switch {
	case !ok:
		return fmt.Errorf("call %s: %w", callID, ErrNoSuchCall)
	case queue == "nowhere":
		return fmt.Errorf("queue nowhere: %w", store.ErrInvalid)
	case serving == "":
		return ErrNotTransferable
	case agent != "" && agent != serving:
		return ErrNotYours
	}
	return nil
}

func TestTransferCall(t *testing.T) {
	f := newFixtureDeps(t, events.NewBus(0), func(*Config) {}, func(d *Deps) {
		d.CallControl = calls{"c1": "alice", "c2": "bob", "c3": ""}
	})
	for _, c := range []struct {
		who, token, body string
		want             int
	}{
		{"alice her call", aliceToken, `{"call_id":"c1","queue":"cards"}`, http.StatusAccepted},
		{"alice bob's call", aliceToken, `{"call_id":"c2","queue":"cards"}`, http.StatusForbidden},
		{"supervisor bob's call", supToken, `{"call_id":"c2","queue":"cards"}`, http.StatusAccepted},
		{"a call with no agent", supToken, `{"call_id":"c3","queue":"cards"}`, http.StatusConflict},
		{"no such call", supToken, `{"call_id":"c9","queue":"cards"}`, http.StatusNotFound},
		{"unknown queue", supToken, `{"call_id":"c1","queue":"nowhere"}`, http.StatusBadRequest},
		{"no queue", supToken, `{"call_id":"c1"}`, http.StatusBadRequest},
		{"unknown field", supToken, `{"call_id":"c1","queue":"cards","agent":"x"}`, http.StatusBadRequest},
		{"no token", "", `{"call_id":"c1","queue":"cards"}`, http.StatusUnauthorized},
	} {
		if r := f.post(t, "/api/v1/transfers", c.token, c.body); r.status != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.who, r.status, c.want, r.body)
		}
	}
	g := newFixture(t)
	if r := g.post(t, "/api/v1/transfers", supToken, `{"call_id":"c1","queue":"cards"}`); r.status != http.StatusNotImplemented {
		t.Errorf("without CallControl: %d, want 501", r.status)
	}
}
