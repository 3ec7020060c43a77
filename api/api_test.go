package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/store"
)

// Who may call what: every endpoint with no token, a wrong token and each
// role's token.
func TestAuth(t *testing.T) {
	f := newFixture(t)
	var other int64
	for _, id := range f.calls {
		if id != f.c1 {
			other = id
			break
		}
	}
	const (
		ok = http.StatusOK
		no = http.StatusForbidden
	)
	for _, c := range []struct {
		path string
		// public: no token needed, any accepted.
		public                   bool
		agent, supervisor, admin int
	}{
		{"/healthz", true, ok, ok, ok},
		{"/readyz", true, ok, ok, ok},
		{"/metrics", true, ok, ok, ok},
		{"/api/v1/calls", false, no, ok, ok},
		{fmt.Sprintf("/api/v1/calls/%d", f.c1), false, ok, ok, ok},
		{fmt.Sprintf("/api/v1/calls/%d", other), false, no, ok, ok},
		{fmt.Sprintf("/api/v1/calls/%d/recordings/%d", f.c1, f.recIn), false, no, ok, ok},
		{"/api/v1/agents", false, no, ok, ok},
		{"/api/v1/queues", false, ok, ok, ok},
		{"/api/v1/callbacks", false, no, ok, ok},
		{"/api/v1/alerts", false, no, ok, ok},
		{"/api/v1/events", false, ok, ok, ok},
	} {
		t.Run(strings.TrimPrefix(c.path, "/"), func(t *testing.T) {
			unauth := http.StatusUnauthorized
			if c.public {
				unauth = ok
			}
			for _, r := range []struct {
				who, token string
				want       int
			}{
				{"none", "", unauth},
				{"wrong", "not-a-token-of-this-server", unauth},
				{"agent", aliceToken, c.agent},
				{"supervisor", supToken, c.supervisor},
				{"admin", adminToken, c.admin},
			} {
				status, header := f.status(t, c.path, r.token)
				if status != r.want {
					t.Errorf("%s: status %d, want %d", r.who, status, r.want)
				}
				if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: 401 without a Bearer challenge", r.who)
				}
			}
		})
	}
}

// status requests path and reads only the status: the event stream does
// not end by itself, so the request is cancelled once the header is in.
func (f *fixture) status(t *testing.T, path, token string) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestAuthScheme(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, header string
		want         int
	}{
		{"basic", "Basic " + supToken, http.StatusUnauthorized},
		{"no scheme", supToken, http.StatusUnauthorized},
		{"lower-case scheme", "bearer " + supToken, http.StatusOK},
		{"prefix of a token", "Bearer " + supToken[:20], http.StatusUnauthorized},
		{"token and more", "Bearer " + supToken + "x", http.StatusUnauthorized},
	} {
		r := f.get(t, "/api/v1/calls?limit=1", "", "Authorization", c.header)
		if r.status != c.want {
			t.Errorf("%s: status %d, want %d", c.name, r.status, c.want)
		}
		if r.status == http.StatusUnauthorized && !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: challenge %q, want invalid_token", c.name, r.header.Get("WWW-Authenticate"))
		}
	}
}

// Every bad input is a 400 with a JSON error naming the problem.
func TestValidation(t *testing.T) {
	f := newFixture(t)
	c1 := fmt.Sprint(f.c1)
	for _, c := range []struct {
		path, want string
	}{
		{"/api/v1/calls?since=yesterday", "since"},
		{"/api/v1/calls?until=2025-13-01T00:00:00Z", "until"},
		{"/api/v1/calls?since=2025-03-01", "RFC 3339"},
		{"/api/v1/calls?since=2025-03-01T10:00:00Z&until=2025-03-01T09:00:00Z", "until must be after since"},
		{"/api/v1/calls?since=2025-03-01T10:00:00Z&until=2025-03-01T10:00:00Z", "until must be after since"},
		{"/api/v1/calls?limit=-1", "limit"},
		{"/api/v1/calls?limit=0", "limit"},
		{"/api/v1/calls?limit=1001", "limit"},
		{"/api/v1/calls?limit=99999999999999999999", "limit"},
		{"/api/v1/calls?limit=ten", "limit"},
		{"/api/v1/calls?limit=1&limit=2", "limit"},
		{"/api/v1/calls?cursor=!!!", "cursor"},
		{"/api/v1/calls?cursor=abc", "cursor"},
		{"/api/v1/calls?cursor=" + strings.Repeat("a", 129), "cursor"},
		{"/api/v1/calls?disposition=happy", "disposition"},
		{"/api/v1/calls?emotion=a%20b", "emotion"},
		{"/api/v1/calls?number=" + strings.Repeat("1", 65), "number"},
		{"/api/v1/calls?number=%01", "number"},
		{"/api/v1/calls?page=2", "unknown parameter"},
		{"/api/v1/calls/abc", "id"},
		{"/api/v1/calls/0", "id"},
		{"/api/v1/calls/-1", "id"},
		{"/api/v1/calls/+5", "id"},
		{"/api/v1/calls/99999999999999999999", "id"},
		{"/api/v1/calls/" + c1 + "/recordings/x", "id"},
		{"/api/v1/calls/" + c1 + "/recordings/0", "id"},
		{"/api/v1/callbacks?status=maybe", "status"},
		{"/api/v1/callbacks?call=0", "call"},
		{"/api/v1/callbacks?limit=5000", "limit"},
		{"/api/v1/alerts?unacknowledged=perhaps", "unacknowledged"},
		{"/api/v1/alerts?category=a/b", "category"},
		{"/api/v1/alerts?cursor=" + url.QueryEscape("a b"), "cursor"},
	} {
		r := f.get(t, c.path, adminToken)
		var body struct{ Error string }
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400 (%s)", c.path, r.status, r.body)
			continue
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", c.path, ct)
		}
		r.json(t, &body)
		if !strings.Contains(body.Error, c.want) {
			t.Errorf("%s: error %q, want it to mention %q", c.path, body.Error, c.want)
		}
	}
}

// An error message that quotes the request never repeats personal data.
func TestErrorsRedacted(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/api/v1/calls?since=4111111111111111",
		"/api/v1/calls?4111111111111111=1",
		"/api/v1/calls?emotion=" + url.QueryEscape("jane@example.com"),
		"/api/v1/calls/" + url.PathEscape("4111111111111111x"),
	} {
		r := f.get(t, path, supToken)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d", path, r.status)
		}
		if s := string(r.body); strings.Contains(s, "4111111111111111") || strings.Contains(s, "jane@") {
			t.Errorf("%s: error repeats personal data: %s", path, s)
		}
	}
	if log := f.log.String(); strings.Contains(log, "4111111111111111") {
		t.Errorf("request log holds a card number:\n%s", log)
	}
}

type callsPage struct {
	Calls []callJSON
	Next  string
}

func (f *fixture) list(t *testing.T, query string) callsPage {
	t.Helper()
	r := f.get(t, "/api/v1/calls"+query, supToken)
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", query, r.status, r.body)
	}
	var p callsPage
	r.json(t, &p)
	return p
}

func ids(calls []callJSON) []int64 {
	out := []int64{}
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return out
}

func TestListCalls(t *testing.T) {
	f := newFixture(t)
	all := f.list(t, "")
	if got := ids(all.Calls); !reflect.DeepEqual(got, f.calls) {
		t.Fatalf("all calls %v, want newest first %v", got, f.calls)
	}
	if all.Next != "" {
		t.Errorf("one page, yet next %q", all.Next)
	}

	// Paging by 3 gives the same calls, each once.
	var paged []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(f.calls) {
			t.Fatal("paging does not end")
		}
		q := "?limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := f.list(t, q)
		if len(p.Calls) > 3 {
			t.Fatalf("page of %d calls, limit 3", len(p.Calls))
		}
		paged = append(paged, ids(p.Calls)...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if !reflect.DeepEqual(paged, f.calls) {
		t.Errorf("paged %v, want %v", paged, f.calls)
	}

	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"?disposition=abandoned", f.byDisposition[store.DispositionAbandoned]},
		{"?disposition=completed", f.byDisposition[store.DispositionCompleted]},
		{"?number=" + url.QueryEscape("5550123"), f.number0123},
		{"?emotion=angry", f.byEmotion["angry"]},
		{"?emotion=calm&disposition=transferred", f.byDisposition[store.DispositionTransferred]},
		{"?since=2025-03-01T10:05:00Z&until=2025-03-01T10:25:00Z", f.calls[len(f.calls)-3 : len(f.calls)-1]},
		{"?since=2025-03-01T11:05:00%2B01:00", f.calls[:len(f.calls)-1]}, // 10:05 UTC
		{"?until=2025-03-01T10:00:00.000001Z", f.calls[len(f.calls)-1:]},
		{"?disposition=message", []int64{}},
	} {
		if got := ids(f.list(t, c.query).Calls); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}

	first := f.list(t, "?limit=1").Calls[0]
	if first.From == "" || first.Channel != "trunk" || first.EndedAt == nil || first.Disposition == "" || first.StartedAt.Location() != time.UTC {
		t.Errorf("call record incomplete: %+v", first)
	}
}

func TestCallDetail(t *testing.T) {
	f := newFixture(t)
	r := f.get(t, fmt.Sprintf("/api/v1/calls/%d", f.c1), aliceToken)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q: callers' data must not be cached", r.header.Get("Cache-Control"))
	}
	var d callDetailJSON
	r.json(t, &d)
	if d.ID != f.c1 || d.Agent != "alice" || d.Queue != "billing" || d.Disposition != "completed" || d.Turns != 3 {
		t.Errorf("call %+v", d.callJSON)
	}
	if len(d.Transcript) != 3 {
		t.Fatalf("%d turns, want 3", len(d.Transcript))
	}
	tr := d.Transcript[1]
	if tr.Seq != 2 || tr.Speaker != "caller" || tr.Emotion != "tense" || tr.Confidence == nil || *tr.Confidence != 0.8 {
		t.Errorf("turn 2: %+v", tr)
	}
	if !strings.Contains(tr.Text, "[card]") {
		t.Errorf("turn 2 text %q: want the card redacted", tr.Text)
	}
	if d.Transcript[0].Confidence != nil {
		t.Errorf("turn 1 has no confidence, got %v", *d.Transcript[0].Confidence)
	}

	// The emotion timeline: the turns with a cue, in order, each cue
	// redacted even though the store keeps cues as given.
	var labels []string
	for _, e := range d.Emotions {
		labels = append(labels, e.Label)
	}
	if !reflect.DeepEqual(labels, []string{"tense", "angry"}) || d.Emotions[0].Seq != 2 || !d.Emotions[0].At.Equal(t0.Add(5*time.Second)) {
		t.Errorf("emotion timeline %+v", d.Emotions)
	}
	if cue := string(d.Emotions[0].Cue); strings.Contains(cue, "4111") || !strings.Contains(cue, "[card]") || !strings.Contains(cue, `"arousal":0.7`) {
		t.Errorf("cue %s: want the card redacted, the numbers kept", cue)
	}

	if len(d.Transfers) != 1 || d.Transfers[0].Agent != "alice" || len(d.Callbacks) != 1 || len(d.Alerts) != 1 || d.Alerts[0].Category != "self_harm" {
		t.Errorf("transfers %+v callbacks %+v alerts %+v", d.Transfers, d.Callbacks, d.Alerts)
	}
	if len(d.Recordings) != 4 || d.Recordings[0].URL != fmt.Sprintf("/api/v1/calls/%d/recordings/%d", f.c1, f.recIn) {
		t.Errorf("recordings %+v", d.Recordings)
	}
	if strings.Contains(string(r.body), f.recDir) || strings.Contains(string(r.body), ".wav") {
		t.Errorf("detail shows a file path: %s", r.body)
	}

	if r := f.get(t, "/api/v1/calls/999999", supToken); r.status != http.StatusNotFound || !strings.Contains(string(r.body), `"error"`) {
		t.Errorf("missing call: status %d %s", r.status, r.body)
	}
}

func TestRecording(t *testing.T) {
	f := newFixture(t)
	path := func(rid int64) string { return fmt.Sprintf("/api/v1/calls/%d/recordings/%d", f.c1, rid) }

	r := f.get(t, path(f.recIn), supToken)
	if r.status != http.StatusOK || string(r.body) != string(f.wav) {
		t.Fatalf("full download: status %d, %d bytes", r.status, len(r.body))
	}
	if ct := r.header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("Content-Type %q", ct)
	}
	if r.header.Get("Accept-Ranges") != "bytes" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("headers %v", r.header)
	}

	r = f.get(t, path(f.recIn), supToken, "Range", "bytes=100-199")
	if r.status != http.StatusPartialContent {
		t.Fatalf("range: status %d", r.status)
	}
	if cr := r.header.Get("Content-Range"); cr != fmt.Sprintf("bytes 100-199/%d", len(f.wav)) {
		t.Errorf("Content-Range %q", cr)
	}
	if string(r.body) != string(f.wav[100:200]) {
		t.Errorf("range body differs")
	}
	r = f.get(t, path(f.recIn), supToken, "Range", "bytes=-10")
	if r.status != http.StatusPartialContent || string(r.body) != string(f.wav[len(f.wav)-10:]) {
		t.Errorf("suffix range: status %d", r.status)
	}
	if r = f.get(t, path(f.recIn), supToken, "Range", "bytes=99999-"); r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: status %d", r.status)
	}

	for _, c := range []struct {
		name string
		rid  int64
		want int
	}{
		{"outside the directory", f.recOut, http.StatusForbidden},
		{"symbolic link out of the directory", f.recLink, http.StatusForbidden},
		{"file deleted", f.recGone, http.StatusNotFound},
		{"not this call's", 999, http.StatusNotFound},
	} {
		r := f.get(t, path(c.rid), supToken)
		if r.status != c.want {
			t.Errorf("%s: status %d, want %d", c.name, r.status, c.want)
		}
		if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "RIFF") {
			t.Errorf("%s: body %q leaks the file", c.name, r.body)
		}
	}
}

// Without a recordings directory no recording is served.
func TestRecordingNoDir(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.RecordingsDir = "" })
	if r := f.get(t, fmt.Sprintf("/api/v1/calls/%d/recordings/%d", f.c1, f.recIn), supToken); r.status != http.StatusNotFound {
		t.Errorf("status %d, want 404", r.status)
	}
}

func TestCallbacksAndAlerts(t *testing.T) {
	f := newFixture(t)
	var cb struct{ Callbacks []callbackJSON }
	f.get(t, "/api/v1/callbacks?status=pending", supToken).json(t, &cb)
	if len(cb.Callbacks) != 1 || cb.Callbacks[0].Call != f.c1 || cb.Callbacks[0].Status != "pending" {
		t.Errorf("callbacks %+v", cb.Callbacks)
	}
	f.get(t, "/api/v1/callbacks?status=done", supToken).json(t, &cb)
	if len(cb.Callbacks) != 0 {
		t.Errorf("done callbacks %+v", cb.Callbacks)
	}
	var al struct{ Alerts []alertJSON }
	f.get(t, "/api/v1/alerts?unacknowledged=true&category=self_harm", supToken).json(t, &al)
	if len(al.Alerts) != 1 || al.Alerts[0].Call != f.c1 || al.Alerts[0].Excerpt == "" {
		t.Errorf("alerts %+v", al.Alerts)
	}
	f.get(t, "/api/v1/alerts?until=2025-03-01T10:00:00Z", supToken).json(t, &al)
	if len(al.Alerts) != 0 {
		t.Errorf("alerts before any %+v", al.Alerts)
	}
}

func TestAgentsAndQueues(t *testing.T) {
	f := newFixture(t)
	var a struct{ Agents []agentJSON }
	f.get(t, "/api/v1/agents", supToken).json(t, &a)
	if len(a.Agents) != 2 || a.Agents[0].State != "busy" || a.Agents[0].CallID != "c1@test" || a.Agents[1].Reason != "break" {
		t.Errorf("agents %+v", a.Agents)
	}
	var q struct{ Queues []queueJSON }
	f.get(t, "/api/v1/queues", aliceToken).json(t, &q)
	if len(q.Queues) != 1 || q.Queues[0] != (queueJSON{Name: "billing", Waiting: 3, LongestWaitMS: 95000, AgentsAvailable: 1}) {
		t.Errorf("queues %+v", q.Queues)
	}
}

// TestNodes: the nodes sharing the store, as their heartbeats describe
// them, for supervisors only.
func TestNodes(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Heartbeat(context.Background(), store.Node{Name: "node1", SIP: "127.0.0.1:5071", API: "127.0.0.1:8081",
		StartedAt: t0, HeartbeatAt: t0.Add(time.Second), Draining: true,
		Queues: []store.NodeQueue{{Name: "billing", Waiting: 2, LongestWaitMS: 4000}}}); err != nil {
		t.Fatal(err)
	}
	var got struct{ Nodes []nodeJSON }
	f.get(t, "/api/v1/nodes", supToken).json(t, &got)
	want := nodeJSON{Name: "node1", SIP: "127.0.0.1:5071", API: "127.0.0.1:8081", StartedAt: t0, HeartbeatAt: t0.Add(time.Second),
		Draining: true, Queues: []nodeQueueJSON{{Name: "billing", Waiting: 2, LongestWaitMS: 4000}}}
	if len(got.Nodes) != 1 || !reflect.DeepEqual(got.Nodes[0], want) {
		t.Errorf("nodes %+v, want %+v", got.Nodes, want)
	}
	if r := f.get(t, "/api/v1/nodes", aliceToken); r.status != http.StatusForbidden {
		t.Errorf("agent's nodes: %d", r.status)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	if r := f.get(t, "/healthz", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	if r := f.get(t, "/readyz", ""); r.status != http.StatusOK {
		t.Errorf("readyz: %d", r.status)
	}
	err := errDraining
	f.ready.Store(&err)
	r := f.get(t, "/readyz", "")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "draining") {
		t.Errorf("readyz while draining: %d %s", r.status, r.body)
	}
	if r := f.get(t, "/healthz", ""); r.status != http.StatusOK {
		t.Errorf("healthz while draining: %d", r.status)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.metrics.CallStarted()
	r := f.get(t, "/metrics", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "hotline_calls_active 1") {
		t.Errorf("metrics: %d\n%.500s", r.status, r.body)
	}
	// With a separate metrics address the API's listener serves none.
	g := newFixtureWith(t, func(c *Config) { c.MetricsListen = "127.0.0.1:9100" })
	if r := g.get(t, "/metrics", ""); r.status != http.StatusNotFound {
		t.Errorf("metrics on the API listener with metrics_listen set: %d", r.status)
	}
}

// The request log has method, path, status, duration and who, never the
// token.
func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	f.get(t, "/api/v1/calls?number=5550123", supToken)
	f.get(t, "/api/v1/calls", aliceToken)
	log := f.log.String()
	for _, want := range []string{
		"method=GET path=/api/v1/calls status=200", "who=sup", "duration=",
		"path=/api/v1/calls status=403", "who=alice",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, secret := range []string{supToken, aliceToken, "Bearer", "5550123"} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds %q:\n%s", secret, log)
		}
	}
}

func TestConfig(t *testing.T) {
	good := testConfig("")
	if err := good.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"listen", func(c *Config) { c.Listen = "8080" }},
		{"metrics_listen", func(c *Config) { c.MetricsListen = "nowhere" }},
		{"metrics_listen same", func(c *Config) { c.MetricsListen = c.Listen }},
		{"heartbeat", func(c *Config) { c.Heartbeat = -time.Second }},
		{"name", func(c *Config) { c.Tokens[0].Name = "" }},
		{"name chars", func(c *Config) { c.Tokens[0].Name = "a b" }},
		{"name twice", func(c *Config) { c.Tokens[1].Name = c.Tokens[0].Name }},
		{"role", func(c *Config) { c.Tokens[0].Role = "root" }},
		{"token_env", func(c *Config) { c.Tokens[0].Value, c.Tokens[0].TokenEnv = "", "" }},
		{"token_env name", func(c *Config) { c.Tokens[0].Value, c.Tokens[0].TokenEnv = "", "1BAD" }},
	} {
		cfg := testConfig("")
		cfg.Tokens = append([]Token(nil), cfg.Tokens...)
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", c.name, cfg)
		}
	}
}

// Tokens come from the environment; New refuses a missing, short or
// repeated one.
func TestTokensFromEnv(t *testing.T) {
	st := openStore(t)
	deps := Deps{Store: st, Events: events.NewBus(0)}
	cfg := DefaultConfig()
	cfg.Tokens = []Token{{Name: "sup", Role: "supervisor", TokenEnv: "HOTLINE_TEST_SUP_TOKEN"}}

	t.Setenv("HOTLINE_TEST_SUP_TOKEN", "")
	if _, err := New(cfg, deps, nil); err == nil || !strings.Contains(err.Error(), "HOTLINE_TEST_SUP_TOKEN") {
		t.Errorf("empty variable: %v", err)
	}
	t.Setenv("HOTLINE_TEST_SUP_TOKEN", "short")
	if _, err := New(cfg, deps, nil); err == nil {
		t.Error("short token accepted")
	}
	t.Setenv("HOTLINE_TEST_SUP_TOKEN", supToken)
	twice := cfg
	twice.Tokens = append(twice.Tokens, Token{Name: "other", Role: "admin", Value: supToken})
	if _, err := New(twice, deps, nil); err == nil {
		t.Error("the same token twice accepted")
	}
	if _, err := New(cfg, Deps{Store: st}, nil); err == nil {
		t.Error("no event bus accepted")
	}

	h, err := New(cfg, deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]int{supToken: http.StatusOK, "": http.StatusUnauthorized} {
		req, _ := http.NewRequest(http.MethodGet, "/api/v1/calls", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %q: status %d, want %d", token, rec.Code, want)
		}
	}
}
