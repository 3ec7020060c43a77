package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/internal/logbuf"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Tokens of the test configuration.
const (
	aliceToken = "agent-alice-0123456789abcdef"
	bobToken   = "agent-bob-0123456789abcdef"
	supToken   = "supervisor-0123456789abcdef"
	adminToken = "admin-0123456789abcdef-xyz"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// fixture is a running API over a real SQLite store filled through the
// store's write API.
type fixture struct {
	srv     *httptest.Server
	store   *store.Store
	bus     *events.Bus
	metrics *metrics.Metrics
	log     *logbuf.Buffer
	ready   atomic.Pointer[error]
	recDir  string
	control *fakeControl

	// Calls, newest first as the API lists them.
	calls []int64
	// alice's call (c1) with its recordings: inside the directory,
	// outside it, a symbolic link out of it, and a file since deleted.
	c1                              int64
	recIn, recOut, recLink, recGone int64
	wav                             []byte
	// ids of calls by disposition, by number, by emotion label.
	byDisposition map[string][]int64
	byEmotion     map[string][]int64
	number0123    []int64
}

type agentsStub []AgentView

func (a agentsStub) Agents() []AgentView { return a }

// fakeControl records state changes; an agent named "nobody" is unknown,
// and no agent may go offline while available.
type fakeControl struct {
	mu  sync.Mutex
	set []string // agent=state/reason
}

func (c *fakeControl) SetState(agent, state, reason string) error {
	switch {
	case agent == "nobody":
		return fmt.Errorf("agent %s: %w", agent, routing.ErrUnknownAgent)
	case state == "offline":
		return &routing.TransitionError{Agent: agent, From: routing.Available, To: routing.Offline}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set = append(c.set, agent+"="+state+"/"+reason)
	return nil
}

func (c *fakeControl) changes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.set)
}

type queuesStub []QueueView

func (q queuesStub) Queues() []QueueView { return q }

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Heartbeat = 50 * time.Millisecond
	cfg.RecordingsDir = dir
	cfg.Tokens = []Token{
		{Name: "alice", Role: "agent", Value: aliceToken},
		{Name: "bob", Role: "agent", Value: bobToken},
		{Name: "sup", Role: "supervisor", Value: supToken},
		{Name: "root", Role: "admin", Value: adminToken},
	}
	return cfg
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, func(*Config) {})
}

func newFixtureWith(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	return newFixtureBus(t, events.NewBus(0), edit)
}

func newFixtureBus(t testing.TB, bus *events.Bus, edit func(*Config)) *fixture {
	t.Helper()
	return newFixtureDeps(t, bus, edit, func(*Deps) {})
}

// newFixtureDeps lets a test change the dependencies the API gets, after
// the fixture's defaults: agents' passwords are "pw-" and their id, and
// state changes go to f.control.
func newFixtureDeps(t testing.TB, bus *events.Bus, edit func(*Config), editDeps func(*Deps)) *fixture {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t)
	f := &fixture{
		store: st, bus: bus, metrics: metrics.New(), log: &logbuf.Buffer{},
		recDir: filepath.Join(dir, "recordings"), byDisposition: map[string][]int64{}, byEmotion: map[string][]int64{},
	}
	f.fill(t)

	cfg := testConfig(f.recDir)
	edit(&cfg)
	f.control = &fakeControl{}
	deps := Deps{
		Store:   st,
		Events:  f.bus,
		Metrics: f.metrics.Handler(),
		Ready: func() error {
			if p := f.ready.Load(); p != nil {
				return *p
			}
			return nil
		},
		Agents:       agentsStub{{ID: "alice", Name: "Alice", State: "busy", Since: t0, CallID: "c1@test"}, {ID: "bob", Name: "Bob", State: "away", Since: t0, Reason: "break"}},
		Queues:       queuesStub{{Name: "billing", Waiting: 3, LongestWait: 95 * time.Second, AgentsAvailable: 1}},
		Login:        func(agent, password string) bool { return password == "pw-"+agent },
		AgentControl: f.control,
	}
	editDeps(&deps)
	h, err := New(cfg, deps, slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// fill writes the calls: c1 is alice's, with a transcript, an emotion
// timeline, recordings, a callback and a crisis alert; the others vary by
// time, number, disposition and emotion.
func (f *fixture) fill(t testing.TB) {
	ctx := context.Background()
	s := f.store
	if err := os.MkdirAll(filepath.Join(f.recDir, "2025-03-01"), 0o700); err != nil {
		t.Fatal(err)
	}

	c1 := must(s.CallStarted(ctx, store.CallStart{CallID: "c1@test", Node: "n1", From: "+14155550123", To: "100", At: t0}))(t)
	f.c1 = c1
	must(0, s.CallAnswered(ctx, c1, t0.Add(time.Second)))(t)
	must(s.AddTurn(ctx, c1, store.Turn{At: t0.Add(2 * time.Second), Speaker: store.SpeakerHotline, Text: "Hello, how can I help?", Confidence: -1}))(t)
	must(s.AddTurn(ctx, c1, store.Turn{
		At: t0.Add(5 * time.Second), Speaker: store.SpeakerCaller, Text: "my card 4111 1111 1111 1111 was charged twice",
		Confidence: 0.8, Provider: "pocketsphinx",
		Emotion: json.RawMessage(`{"label":"tense","arousal":0.7,"why":["words: card 4111 1111 1111 1111"]}`),
	}))(t)
	must(s.AddTurn(ctx, c1, store.Turn{At: t0.Add(9 * time.Second), Speaker: store.SpeakerCaller, Text: "please hurry", Confidence: 0.9,
		Emotion: json.RawMessage(`{"label":"angry","arousal":0.9}`)}))(t)
	must(s.AddTransfer(ctx, c1, store.Transfer{At: t0.Add(10 * time.Second), Queue: "billing", Agent: "alice", Reason: "billing dispute", Summary: "charged twice"}))(t)
	must(s.AddCallback(ctx, c1, store.Callback{Number: "+14155550123", RequestedAt: t0.Add(11 * time.Second), Note: "call back about the refund"}))(t)
	must(s.AddCrisisAlert(ctx, c1, store.CrisisAlert{At: t0.Add(12 * time.Second), Category: "self_harm", Excerpt: "I can't go on", Action: "transferred"}))(t)

	f.wav = make([]byte, 4000)
	copy(f.wav, "RIFF")
	for i := 4; i < len(f.wav); i++ {
		f.wav[i] = byte(i * 7)
	}
	in := filepath.Join(f.recDir, "2025-03-01", "c1.wav")
	if err := os.WriteFile(in, f.wav, 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.wav")
	if err := os.WriteFile(outside, []byte("RIFF secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(f.recDir, "2025-03-01", "link.wav")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	rec := func(path, kind string) int64 {
		return must(s.AddRecording(ctx, c1, store.Recording{Path: path, Kind: kind, StartedAt: t0.Add(time.Second), Duration: 30 * time.Second}))(t)
	}
	f.recIn = rec(in, store.RecordingCall)
	f.recOut = rec(outside, store.RecordingMessage)
	f.recLink = rec(link, store.RecordingMessage)
	f.recGone = rec(filepath.Join(f.recDir, "2025-03-01", "purged.wav"), store.RecordingMessage)
	must(0, s.CallEnded(ctx, c1, store.CallEnd{At: t0.Add(time.Minute), Disposition: store.DispositionCompleted, HangupSide: store.SideCaller}))(t)
	f.byDisposition[store.DispositionCompleted] = append(f.byDisposition[store.DispositionCompleted], c1)
	f.byEmotion["tense"] = append(f.byEmotion["tense"], c1)
	f.byEmotion["angry"] = append(f.byEmotion["angry"], c1)
	f.number0123 = append(f.number0123, c1)
	f.calls = []int64{c1}

	others := []struct {
		from, disposition, emotion string
	}{
		{"+14155550199", store.DispositionAbandoned, ""},
		{"+442079460958", store.DispositionCompleted, "calm"},
		{"+14155550123", store.DispositionFailed, ""},
		{"+8613800138000", store.DispositionAbandoned, "angry"},
		{"+14155550100", store.DispositionTransferred, "calm"},
		{"+14155550123", store.DispositionCompleted, "angry"},
	}
	for i, o := range others {
		at := t0.Add(time.Duration(i+1) * 10 * time.Minute)
		id := must(s.CallStarted(ctx, store.CallStart{CallID: "call-" + o.from + at.Format("1504") + "@test", From: o.from, To: "100", At: at}))(t)
		if o.emotion != "" {
			must(s.AddTurn(ctx, id, store.Turn{At: at.Add(time.Second), Speaker: store.SpeakerCaller, Text: "hello",
				Confidence: -1, Emotion: json.RawMessage(`{"label":"` + o.emotion + `"}`)}))(t)
			f.byEmotion[o.emotion] = append([]int64{id}, f.byEmotion[o.emotion]...)
		}
		must(0, s.CallEnded(ctx, id, store.CallEnd{At: at.Add(time.Minute), Disposition: o.disposition}))(t)
		f.byDisposition[o.disposition] = append([]int64{id}, f.byDisposition[o.disposition]...)
		if o.from == "+14155550123" {
			f.number0123 = append([]int64{id}, f.number0123...)
		}
		f.calls = append([]int64{id}, f.calls...)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// send makes a request with the token (none when empty), a body of the
// content type (none when empty) and the extra headers, name-value pairs.
func (f *fixture) send(t testing.TB, method, path, token, contentType, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get requests path with the token (none when empty) and the extra
// headers, name-value pairs.
func (f *fixture) get(t testing.TB, path, token string, headers ...string) response {
	t.Helper()
	return f.send(t, http.MethodGet, path, token, "", "", headers...)
}

// post sends body as JSON (or with the content type given) with the token
// (none when empty).
func (f *fixture) post(t testing.TB, path, token, body string, contentType ...string) response {
	t.Helper()
	ct := "application/json"
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	return f.send(t, http.MethodPost, path, token, ct, body)
}

func (f *fixture) del(t testing.TB, path, token string) response {
	t.Helper()
	return f.send(t, http.MethodDelete, path, token, "", "")
}

// openStore opens a SQLite store in a temporary folder, closed when the
// test ends.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	sc := store.DefaultConfig()
	sc.Path = filepath.Join(t.TempDir(), "hotline.db")
	st, err := store.Open(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// checkBad fails a fuzz test unless err is a bad request with a clear,
// short message.
func checkBad(t *testing.T, what string, err error) {
	t.Helper()
	var bad badRequest
	if !errors.As(err, &bad) {
		t.Fatalf("%s: %v is not a bad request", what, err)
	}
	if msg := safeText(err.Error()); msg == "" || len(msg) > maxErrText || !utf8.ValidString(msg) {
		t.Fatalf("%s: message %q", what, msg)
	}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var errDraining = errors.New("draining")
