package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotline-cc/hotline/internal/logbuf"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/redact"
)

// The behaviour of the store is the same on both databases: every test of
// the suite runs against SQLite and against a real PostgreSQL server, each
// on a database of its own.

// newDB returns the configuration of a new, empty database.
type newDB func(t testing.TB) Config

var suite = []struct {
	name string
	fn   func(t *testing.T, db newDB)
}{
	{"Lifecycle", testLifecycle},
	{"Redaction", testRedaction},
	{"NotFound", testNotFound},
	{"Validation", testValidation},
	{"ListCalls", testListCalls},
	{"Callbacks", testCallbacks},
	{"CrisisAlerts", testCrisisAlerts},
	{"Purge", testPurge},
	{"RunPurge", testRunPurge},
	{"Reopen", testReopen},
	{"ConcurrentOpen", testConcurrentOpen},
	{"ConcurrentTurns", testConcurrentTurns},
	{"CloseInterrupted", testCloseInterrupted},
	{"CloseReleases", testCloseReleases},
	{"Citations", testCitations},
	{"Nodes", testNodes},
	{"AgentPhonesAndClaims", testAgentPhonesAndClaims},
	{"ListenAgents", testListenAgents},
}

func runSuite(t *testing.T, db newDB) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, db) })
	}
}

func sqliteDB(t testing.TB) Config {
	c := DefaultConfig()
	c.Path = filepath.Join(t.TempDir(), "hotline.db")
	return c
}

func TestSQLite(t *testing.T) { runSuite(t, sqliteDB) }

func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	runSuite(t, func(t testing.TB) Config {
		c := DefaultConfig()
		c.Driver, c.DSN = Postgres, srv.NewDatabase(t)
		return c
	})
}

func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var (
	ctx = context.Background()
	// t0 has nanoseconds: the store keeps microseconds.
	t0 = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)
	us = time.Microsecond
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// must(f())(t) is f's value; an error ends the test.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func startCall(t testing.TB, s *Store, c CallStart) int64 {
	t.Helper()
	if c.CallID == "" {
		c.CallID = fmt.Sprintf("call-%d@test", time.Now().UnixNano())
	}
	return must(s.CallStarted(ctx, c))(t)
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() && got.IsZero() {
		return
	}
	if !got.Equal(want.Truncate(us)) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v (UTC, to the microsecond)", what, got, want.Truncate(us))
	}
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v: %s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func testLifecycle(t *testing.T, db newDB) {
	s := open(t, db(t))
	id := startCall(t, s, CallStart{CallID: "abc@pbx", Node: "n1", From: "+15550001", To: "100", Trunk: "pbx", At: at(0)})
	if err := s.CallAnswered(ctx, id, at(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	cue := json.RawMessage(`{"turn":1,"label":"tense","arousal":0.71,"why":["pitch up"]}`)
	turns := []Turn{
		{At: at(3 * time.Second), Speaker: SpeakerHotline, Prompt: "welcome", Duration: 2500 * time.Millisecond, Interrupted: true, Confidence: -1, Provider: "flite"},
		{At: at(6 * time.Second), Speaker: SpeakerCaller, Text: "I need help with my bill", Duration: 1800 * time.Millisecond,
			Latency: 350 * time.Millisecond, Provider: "pocketsphinx", Confidence: 0.82, Emotion: cue},
		{At: at(9 * time.Second), Speaker: SpeakerCaller, Key: "2", Confidence: -1, Emotion: json.RawMessage(`null`)},
		{At: at(10 * time.Second), Speaker: SpeakerAgent, Text: "Hello, billing.", Confidence: 1, Emotion: json.RawMessage(`{"arousal":0.4}`)},
	}
	for i, tu := range turns {
		seq := must(s.AddTurn(ctx, id, tu))(t)
		if seq != i+1 {
			t.Errorf("turn %d: seq %d", i+1, seq)
		}
	}
	tr := must(s.AddTransfer(ctx, id, Transfer{At: at(9500 * time.Millisecond), Queue: "billing", Reason: "caller asked", Summary: "bill question"}))(t)
	tr2 := must(s.AddTransfer(ctx, id, Transfer{At: at(9700 * time.Millisecond), Agent: "alice"}))(t)
	rec := must(s.AddRecording(ctx, id, Recording{Path: "/rec/abc.wav", Kind: RecordingCall, StartedAt: at(2 * time.Second)}))(t)
	rec2 := must(s.AddRecording(ctx, id, Recording{Path: "/rec/abc.wav", Kind: RecordingCall, StartedAt: at(2 * time.Second), Duration: 40 * time.Second}))(t)
	if rec2 != rec {
		t.Errorf("recording stopped: id %d, started as %d", rec2, rec)
	}
	cb := must(s.AddCallback(ctx, id, Callback{Number: "+15550001", RequestedAt: at(20 * time.Second), DueAt: at(time.Hour), Note: "after 5pm"}))(t)
	if err := s.SetCallbackStatus(ctx, cb, CallbackDone, at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	al := must(s.AddCrisisAlert(ctx, id, CrisisAlert{At: at(30 * time.Second), Category: "self_harm", Excerpt: "I can't go on", Action: "offered the crisis line"}))(t)
	if err := s.AcknowledgeCrisisAlert(ctx, al, "supervisor-1", at(31*time.Second)); err != nil {
		t.Fatal(err)
	}

	// Open: every event is readable before the hang-up.
	d := must(s.Call(ctx, id))(t)
	if !d.Open() || d.Disposition != "" || len(d.Turns) != 4 {
		t.Fatalf("open call: %+v", d.Call)
	}

	if err := s.CallEnded(ctx, id, CallEnd{At: at(42 * time.Second), Disposition: DispositionCompleted, HangupCause: "BYE", HangupSide: SideCaller, Wait: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallEnded(ctx, id, CallEnd{Disposition: DispositionCompleted}); !errors.Is(err, ErrEnded) {
		t.Errorf("second CallEnded = %v, want ErrEnded", err)
	}
	// A transcript finishing after the hang-up is still recorded.
	if seq := must(s.AddTurn(ctx, id, Turn{At: at(41 * time.Second), Speaker: SpeakerCaller, Text: "bye"}))(t); seq != 5 {
		t.Errorf("late turn seq %d, want 5", seq)
	}

	d = must(s.Call(ctx, id))(t)
	c := d.Call
	want := Call{ID: id, CallID: "abc@pbx", Node: "n1", From: "+15550001", To: "100", Channel: ChannelTrunk, Trunk: "pbx",
		Disposition: DispositionCompleted, HangupCause: "BYE", HangupSide: SideCaller, Queue: "billing", Agent: "alice",
		Wait: 1500 * time.Millisecond, Talk: 40 * time.Second, TurnCount: 5}
	got := c
	got.StartedAt, got.AnsweredAt, got.EndedAt = time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("call\n got %+v\nwant %+v", got, want)
	}
	sameTime(t, "started", c.StartedAt, at(0))
	sameTime(t, "answered", c.AnsweredAt, at(2*time.Second))
	sameTime(t, "ended", c.EndedAt, at(42*time.Second))
	if c.Open() {
		t.Error("ended call reads as open")
	}

	if len(d.Turns) != 5 {
		t.Fatalf("%d turns, want 5", len(d.Turns))
	}
	for i, tu := range d.Turns {
		if tu.Seq != i+1 {
			t.Errorf("turn %d has seq %d: not in order", i, tu.Seq)
		}
	}
	g := d.Turns[1]
	sameTime(t, "turn 2 at", g.At, at(6*time.Second))
	if g.Speaker != SpeakerCaller || g.Text != "I need help with my bill" || g.Duration != 1800*time.Millisecond ||
		g.Latency != 350*time.Millisecond || g.Provider != "pocketsphinx" || g.Confidence != 0.82 || g.Interrupted {
		t.Errorf("turn 2 = %+v", g)
	}
	sameJSON(t, "turn 2 emotion", g.Emotion, cue)
	if g := d.Turns[0]; !g.Interrupted || g.Prompt != "welcome" || g.Confidence != -1 || g.Emotion != nil {
		t.Errorf("turn 1 = %+v", g)
	}
	if g := d.Turns[2]; g.Key != "2" || g.Emotion != nil {
		t.Errorf("turn 3 = %+v (a null cue is no cue)", g)
	}
	if len(d.Emotions) != 2 || d.Emotions[0].Seq != 2 || d.Emotions[0].Label != "tense" || d.Emotions[0].Speaker != SpeakerCaller ||
		d.Emotions[1].Seq != 4 || d.Emotions[1].Label != "" {
		t.Errorf("emotion timeline = %+v", d.Emotions)
	} else {
		sameTime(t, "emotion at", d.Emotions[0].At, at(6*time.Second))
		sameJSON(t, "emotion cue", d.Emotions[0].Cue, cue)
	}

	if len(d.Transfers) != 2 || d.Transfers[0].ID != tr || d.Transfers[1].ID != tr2 || d.Transfers[0].Call != id ||
		d.Transfers[0].Queue != "billing" || d.Transfers[0].Summary != "bill question" || d.Transfers[0].Reason != "caller asked" ||
		d.Transfers[1].Agent != "alice" {
		t.Errorf("transfers = %+v", d.Transfers)
	}
	if len(d.Recordings) != 1 || d.Recordings[0].ID != rec || d.Recordings[0].Path != "/rec/abc.wav" ||
		d.Recordings[0].Duration != 40*time.Second || d.Recordings[0].Kind != RecordingCall {
		t.Errorf("recordings = %+v", d.Recordings)
	}
	if len(d.Callbacks) != 1 || d.Callbacks[0].ID != cb || d.Callbacks[0].Status != CallbackDone || d.Callbacks[0].Note != "after 5pm" {
		t.Errorf("callbacks = %+v", d.Callbacks)
	} else {
		sameTime(t, "callback due", d.Callbacks[0].DueAt, at(time.Hour))
		sameTime(t, "callback done", d.Callbacks[0].DoneAt, at(2*time.Hour))
	}
	if len(d.CrisisAlerts) != 1 || d.CrisisAlerts[0].ID != al || d.CrisisAlerts[0].AcknowledgedBy != "supervisor-1" ||
		d.CrisisAlerts[0].Category != "self_harm" || d.CrisisAlerts[0].Action != "offered the crisis line" {
		t.Errorf("alerts = %+v", d.CrisisAlerts)
	} else {
		sameTime(t, "acknowledged", d.CrisisAlerts[0].AcknowledgedAt, at(31*time.Second))
	}

	// A callback can go back to pending: done_at is cleared.
	if err := s.SetCallbackStatus(ctx, cb, CallbackPending, time.Time{}); err != nil {
		t.Fatal(err)
	}
	page := must(s.Callbacks(ctx, CallbackFilter{Call: id}))(t)
	if len(page.Callbacks) != 1 || page.Callbacks[0].Status != CallbackPending || !page.Callbacks[0].DoneAt.IsZero() {
		t.Errorf("pending again: %+v", page.Callbacks)
	}

	// A recording path belongs to one call.
	other := startCall(t, s, CallStart{At: at(time.Minute)})
	if _, err := s.AddRecording(ctx, other, Recording{Path: "/rec/abc.wav", Kind: RecordingCall}); !errors.Is(err, ErrInvalid) {
		t.Errorf("another call's recording path: %v, want ErrInvalid", err)
	}
	// Talk time without an answer is zero; a browser call.
	b := startCall(t, s, CallStart{Channel: ChannelBrowser, At: at(2 * time.Minute)})
	if err := s.CallEnded(ctx, b, CallEnd{At: at(3 * time.Minute), Disposition: DispositionAbandoned, HangupSide: SideCaller}); err != nil {
		t.Fatal(err)
	}
	bc := must(s.Call(ctx, b))(t)
	if bc.Talk != 0 || bc.Channel != ChannelBrowser || !bc.AnsweredAt.IsZero() || bc.Turns != nil {
		t.Errorf("unanswered browser call: %+v", bc)
	}
}

func testRedaction(t *testing.T, db newDB) {
	s := open(t, db(t))
	id := startCall(t, s, CallStart{})
	said := "my card is 4111 1111 1111 1111 and my email is jo@example.com"
	if r := redact.Redact(said); r == said || strings.Contains(r, "4111") {
		t.Fatalf("redact.Redact(%q) = %q: the test needs text it redacts", said, r)
	}
	must(s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Text: said}))(t)
	must(s.AddTransfer(ctx, id, Transfer{Queue: "q", Summary: "caller: " + said, Reason: "verify 4111 1111 1111 1111"}))(t)
	must(s.AddCrisisAlert(ctx, id, CrisisAlert{Category: "violence", Excerpt: said}))(t)
	must(s.AddCallback(ctx, id, Callback{Number: "+15551234567", Note: said}))(t)
	d := must(s.Call(ctx, id))(t)
	texts := map[string]string{
		"turn": d.Turns[0].Text, "transfer summary": d.Transfers[0].Summary, "transfer reason": d.Transfers[0].Reason,
		"alert excerpt": d.CrisisAlerts[0].Excerpt, "callback note": d.Callbacks[0].Note,
	}
	for what, got := range texts {
		if strings.Contains(got, "4111") || strings.Contains(got, "jo@example.com") {
			t.Errorf("%s kept personal data: %q", what, got)
		}
	}
	if want := redact.Redact(said); d.Turns[0].Text != want {
		t.Errorf("turn text %q, want %q", d.Turns[0].Text, want)
	}
	// Text is made storable: invalid UTF-8 and NUL do not fail the write.
	seq, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Text: "bad \xff\x00 bytes"})
	if err != nil {
		t.Fatal(err)
	}
	d = must(s.Call(ctx, id))(t)
	if got := d.Turns[seq-1].Text; got != "bad \uFFFD bytes" {
		t.Errorf("stored %q", got)
	}
}

func testNotFound(t *testing.T, db newDB) {
	s := open(t, db(t))
	const missing = 987654
	errs := map[string]error{}
	errs["CallAnswered"] = s.CallAnswered(ctx, missing, time.Time{})
	errs["CallEnded"] = s.CallEnded(ctx, missing, CallEnd{Disposition: DispositionCompleted})
	_, errs["AddTurn"] = s.AddTurn(ctx, missing, Turn{Speaker: SpeakerCaller, Text: "x"})
	_, errs["AddTransfer"] = s.AddTransfer(ctx, missing, Transfer{Queue: "q"})
	_, errs["AddRecording"] = s.AddRecording(ctx, missing, Recording{Path: "/x.wav", Kind: RecordingCall})
	_, errs["AddCallback"] = s.AddCallback(ctx, missing, Callback{Number: "1"})
	_, errs["AddCrisisAlert"] = s.AddCrisisAlert(ctx, missing, CrisisAlert{Category: "medical"})
	errs["SetCallbackStatus"] = s.SetCallbackStatus(ctx, missing, CallbackDone, time.Time{})
	errs["AcknowledgeCrisisAlert"] = s.AcknowledgeCrisisAlert(ctx, missing, "bob", time.Time{})
	_, errs["Call"] = s.Call(ctx, missing)
	for name, err := range errs {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on a missing id: %v, want ErrNotFound", name, err)
		}
	}
	// Nothing was written by the failures.
	if p := must(s.ListCalls(ctx, CallFilter{}))(t); len(p.Calls) != 0 {
		t.Errorf("calls after failures: %+v", p.Calls)
	}
}

func testValidation(t *testing.T, db newDB) {
	s := open(t, db(t))
	id := startCall(t, s, CallStart{})
	callsCursor := encodeCursor("calls", t0, 5)
	long := strings.Repeat("9", maxField+1)
	cases := []struct {
		name string
		call func() error
	}{
		{"CallStarted empty call id", func() error { _, err := s.CallStarted(ctx, CallStart{}); return err }},
		{"CallStarted channel", func() error { _, err := s.CallStarted(ctx, CallStart{CallID: "x", Channel: "fax"}); return err }},
		{"CallAnswered id 0", func() error { return s.CallAnswered(ctx, 0, time.Time{}) }},
		{"CallEnded id -1", func() error { return s.CallEnded(ctx, -1, CallEnd{Disposition: DispositionCompleted}) }},
		{"CallEnded disposition", func() error { return s.CallEnded(ctx, id, CallEnd{Disposition: "gone"}) }},
		{"CallEnded no disposition", func() error { return s.CallEnded(ctx, id, CallEnd{}) }},
		{"CallEnded side", func() error {
			return s.CallEnded(ctx, id, CallEnd{Disposition: DispositionCompleted, HangupSide: "moon"})
		}},
		{"CallEnded negative wait", func() error {
			return s.CallEnded(ctx, id, CallEnd{Disposition: DispositionCompleted, Wait: -time.Second})
		}},
		{"AddTurn id 0", func() error { _, err := s.AddTurn(ctx, 0, Turn{Speaker: SpeakerCaller}); return err }},
		{"AddTurn speaker", func() error { _, err := s.AddTurn(ctx, id, Turn{Speaker: "robot"}); return err }},
		{"AddTurn bad JSON", func() error {
			_, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Emotion: json.RawMessage(`{"label":`)})
			return err
		}},
		{"AddTurn JSON array", func() error {
			_, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Emotion: json.RawMessage(`["angry"]`)})
			return err
		}},
		{"AddTurn label number", func() error {
			_, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Emotion: json.RawMessage(`{"label":3}`)})
			return err
		}},
		{"AddTurn label words", func() error {
			_, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Emotion: json.RawMessage(`{"label":"very angry; DROP"}`)})
			return err
		}},
		{"AddTurn negative duration", func() error {
			_, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Duration: -1})
			return err
		}},
		{"AddTransfer id 0", func() error { _, err := s.AddTransfer(ctx, 0, Transfer{}); return err }},
		{"AddRecording empty path", func() error {
			_, err := s.AddRecording(ctx, id, Recording{Kind: RecordingCall})
			return err
		}},
		{"AddRecording kind", func() error {
			_, err := s.AddRecording(ctx, id, Recording{Path: "/a.wav", Kind: "video"})
			return err
		}},
		{"AddRecording negative duration", func() error {
			_, err := s.AddRecording(ctx, id, Recording{Path: "/a.wav", Kind: RecordingCall, Duration: -1})
			return err
		}},
		{"AddCallback empty number", func() error { _, err := s.AddCallback(ctx, id, Callback{}); return err }},
		{"SetCallbackStatus status", func() error { return s.SetCallbackStatus(ctx, 1, "maybe", time.Time{}) }},
		{"SetCallbackStatus id 0", func() error { return s.SetCallbackStatus(ctx, 0, CallbackDone, time.Time{}) }},
		{"AddCrisisAlert category", func() error { _, err := s.AddCrisisAlert(ctx, id, CrisisAlert{}); return err }},
		{"Acknowledge by nobody", func() error { return s.AcknowledgeCrisisAlert(ctx, 1, "", time.Time{}) }},
		{"Acknowledge id -5", func() error { return s.AcknowledgeCrisisAlert(ctx, -5, "bob", time.Time{}) }},
		{"Call id 0", func() error { _, err := s.Call(ctx, 0); return err }},
		{"Call id -1", func() error { _, err := s.Call(ctx, -1); return err }},
		{"Purge zero time", func() error { _, err := s.Purge(ctx, time.Time{}); return err }},
		{"RunPurge interval 0", func() error { return s.RunPurge(ctx, 0, nil) }},
		{"RunPurge interval -1s", func() error { return s.RunPurge(ctx, -time.Second, nil) }},
	}
	filters := []struct {
		name string
		f    CallFilter
	}{
		{"negative limit", CallFilter{Limit: -1}},
		{"limit too large", CallFilter{Limit: MaxLimit + 1}},
		{"until before since", CallFilter{Since: at(time.Hour), Until: at(0)}},
		{"until equals since", CallFilter{Since: at(0), Until: at(0)}},
		{"number too long", CallFilter{Number: long}},
		{"number with NUL", CallFilter{Number: "12\x003"}},
		{"number not UTF-8", CallFilter{Number: "\xff"}},
		{"disposition", CallFilter{Disposition: "vanished"}},
		{"disposition open", CallFilter{Disposition: "open"}},
		{"emotion with space", CallFilter{Emotion: "very angry"}},
		{"emotion with quote", CallFilter{Emotion: "x' OR 1=1 --"}},
		{"emotion too long", CallFilter{Emotion: strings.Repeat("a", 65)}},
		{"cursor garbage", CallFilter{Cursor: "not a cursor!"}},
		{"cursor base64 of junk", CallFilter{Cursor: "aGVsbG8"}},
		{"cursor of another list", CallFilter{Cursor: encodeCursor("alerts", t0, 5)}},
		{"cursor id 0", CallFilter{Cursor: encodeCursor("calls", t0, 0)}},
		{"cursor too long", CallFilter{Cursor: callsCursor + strings.Repeat("A", 200)}},
	}
	for _, f := range filters {
		cases = append(cases, struct {
			name string
			call func() error
		}{"ListCalls " + f.name, func() error { _, err := s.ListCalls(ctx, f.f); return err }})
	}
	cbFilters := map[string]CallbackFilter{
		"status":         {Status: "late"},
		"call -1":        {Call: -1},
		"limit":          {Limit: -3},
		"calls cursor":   {Cursor: callsCursor},
		"garbage cursor": {Cursor: "%%%"},
	}
	for name, f := range cbFilters {
		cases = append(cases, struct {
			name string
			call func() error
		}{"Callbacks " + name, func() error { _, err := s.Callbacks(ctx, f); return err }})
	}
	alertFilters := map[string]AlertFilter{
		"range":        {Since: at(time.Second), Until: at(0)},
		"limit":        {Limit: MaxLimit + 1},
		"category":     {Category: long},
		"calls cursor": {Cursor: callsCursor},
	}
	for name, f := range alertFilters {
		cases = append(cases, struct {
			name string
			call func() error
		}{"CrisisAlerts " + name, func() error { _, err := s.CrisisAlerts(ctx, f); return err }})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	// The call is untouched by the rejected calls.
	d := must(s.Call(ctx, id))(t)
	if !d.Open() || len(d.Turns) != 0 || len(d.Recordings) != 0 {
		t.Errorf("rejected calls wrote: %+v", d)
	}
	// A good cursor is accepted.
	if _, err := s.ListCalls(ctx, CallFilter{Cursor: callsCursor}); err != nil {
		t.Errorf("good cursor: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := map[string]Config{
		"driver":          {Driver: "mysql"},
		"no path":         {Driver: SQLite},
		"path query":      {Driver: SQLite, Path: "x.db?mode=ro"},
		"path URI":        {Driver: SQLite, Path: "file:x.db"},
		"no dsn":          {Driver: Postgres},
		"max conns":       {Driver: SQLite, Path: "x.db", MaxConns: -1},
		"retention":       {Driver: SQLite, Path: "x.db", Retention: Retention{Recordings: -time.Hour}},
		"transcripts ret": {Driver: SQLite, Path: "x.db", Retention: Retention{Transcripts: -1}},
		"heartbeat":       {Driver: SQLite, Path: "x.db", Heartbeat: -time.Second},
		"node timeout":    {Driver: SQLite, Path: "x.db", Heartbeat: 2 * time.Second, NodeTimeout: 3 * time.Second},
	}
	for name, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := Open(ctx, c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Open = %v, want ErrInvalid", name, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	t.Setenv("HOTLINE_TEST_EMPTY_DSN", "")
	if _, err := Open(ctx, Config{Driver: Postgres, DSNEnv: "HOTLINE_TEST_EMPTY_DSN"}); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "HOTLINE_TEST_EMPTY_DSN") {
		t.Errorf("empty DSN variable: %v", err)
	}
}

// seedCalls writes calls for the listing tests: call i starts at minute i.
func seedCalls(t *testing.T, s *Store) []int64 {
	type spec struct {
		from, to, disp string
		labels         []string
	}
	specs := []spec{
		{"+15550100", "100", DispositionCompleted, []string{"calm"}},
		{"+15550101", "100", DispositionAbandoned, nil},
		{"+4420700", "200", DispositionCompleted, []string{"calm", "angry"}},
		{"+15550103", "200", DispositionTransferred, []string{"tense"}},
		{"sip:alice@example.com", "100", DispositionFailed, nil},
		{"+15550105", "300", "", []string{"angry"}}, // still open
		{"+15550106", "100", DispositionCompleted, nil},
	}
	var ids []int64
	for i, sp := range specs {
		id := startCall(t, s, CallStart{From: sp.from, To: sp.to, At: at(time.Duration(i) * time.Minute)})
		for j, l := range sp.labels {
			must(s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, At: at(time.Duration(i)*time.Minute + time.Duration(j)*time.Second),
				Emotion: json.RawMessage(`{"label":"` + l + `","arousal":0.5}`)}))(t)
		}
		if sp.disp != "" {
			if err := s.CallEnded(ctx, id, CallEnd{At: at(time.Duration(i)*time.Minute + 30*time.Second), Disposition: sp.disp}); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	// Two calls at the very same instant: the id breaks the tie.
	ids = append(ids, startCall(t, s, CallStart{From: "+15550107", At: at(10 * time.Minute)}))
	ids = append(ids, startCall(t, s, CallStart{From: "+15550108", At: at(10 * time.Minute)}))
	return ids
}

func callIDs(cs []Call) []int64 {
	ids := []int64{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func testListCalls(t *testing.T, db newDB) {
	s := open(t, db(t))
	ids := seedCalls(t, s)
	rev := func(idx ...int) []int64 {
		out := []int64{}
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	cases := []struct {
		name string
		f    CallFilter
		want []int64
	}{
		{"all", CallFilter{}, rev(8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"since", CallFilter{Since: at(5 * time.Minute)}, rev(8, 7, 6, 5)},
		{"until", CallFilter{Until: at(2 * time.Minute)}, rev(1, 0)},
		{"range", CallFilter{Since: at(time.Minute), Until: at(3*time.Minute + time.Second)}, rev(3, 2, 1)},
		{"number in from", CallFilter{Number: "5550"}, rev(8, 7, 6, 5, 3, 1, 0)},
		{"number in to", CallFilter{Number: "200"}, rev(3, 2)},
		{"number exact", CallFilter{Number: "+4420700"}, rev(2)},
		{"number uri", CallFilter{Number: "alice@"}, rev(4)},
		{"number is case-sensitive", CallFilter{Number: "ALICE"}, []int64{}},
		{"number wildcard is literal", CallFilter{Number: "%"}, []int64{}},
		{"number underscore is literal", CallFilter{Number: "_"}, []int64{}},
		{"disposition", CallFilter{Disposition: DispositionCompleted}, rev(6, 2, 0)},
		{"emotion", CallFilter{Emotion: "angry"}, rev(5, 2)},
		{"emotion calm", CallFilter{Emotion: "calm"}, rev(2, 0)},
		{"emotion none", CallFilter{Emotion: "sad"}, []int64{}},
		{"combined", CallFilter{Emotion: "calm", Disposition: DispositionCompleted, Number: "+1"}, rev(0)},
		{"limit", CallFilter{Limit: 3}, rev(8, 7, 6)},
	}
	for _, c := range cases {
		p := must(s.ListCalls(ctx, c.f))(t)
		if got := callIDs(p.Calls); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ids %v, want %v", c.name, got, c.want)
		}
	}
	open := must(s.ListCalls(ctx, CallFilter{Number: "0105"}))(t)
	if len(open.Calls) != 1 || !open.Calls[0].Open() || open.Calls[0].TurnCount != 1 {
		t.Errorf("open call listed as %+v", open.Calls)
	}

	// Paging: every call once, in order, whatever the page size; the last
	// page has no cursor.
	for _, limit := range []int{1, 2, 4, 9, 50} {
		var got []int64
		f := CallFilter{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			p := must(s.ListCalls(ctx, f))(t)
			got = append(got, callIDs(p.Calls)...)
			if p.Next == "" {
				break
			}
			if len(p.Calls) != limit {
				t.Errorf("limit %d: a page of %d before the end", limit, len(p.Calls))
			}
			f.Cursor = p.Next
		}
		if want := rev(8, 7, 6, 5, 4, 3, 2, 1, 0); !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d: paged ids %v, want %v", limit, got, want)
		}
	}
	// Paging with a filter, and a call arriving between pages does not
	// shift the next page.
	p1 := must(s.ListCalls(ctx, CallFilter{Number: "5550", Limit: 3}))(t)
	startCall(t, s, CallStart{From: "+15550999", At: at(20 * time.Minute)})
	p2 := must(s.ListCalls(ctx, CallFilter{Number: "5550", Limit: 3, Cursor: p1.Next}))(t)
	if got := append(callIDs(p1.Calls), callIDs(p2.Calls)...); !reflect.DeepEqual(got, rev(8, 7, 6, 5, 3, 1)) {
		t.Errorf("filtered pages: %v", got)
	}
}

func testCallbacks(t *testing.T, db newDB) {
	s := open(t, db(t))
	a := startCall(t, s, CallStart{})
	b := startCall(t, s, CallStart{})
	var ids []int64
	for i := range 5 {
		call := a
		if i%2 == 1 {
			call = b
		}
		ids = append(ids, must(s.AddCallback(ctx, call, Callback{Number: fmt.Sprint("+1555000", i), RequestedAt: at(time.Duration(5-i) * time.Minute)}))(t))
	}
	// Requested at minutes 5, 4, 3, 2, 1: oldest first is ids 4..0.
	if err := s.SetCallbackStatus(ctx, ids[1], CallbackCancelled, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCallbackStatus(ctx, ids[2], CallbackDone, time.Time{}); err != nil {
		t.Fatal(err)
	}
	list := func(f CallbackFilter) []int64 {
		out := []int64{}
		for {
			p := must(s.Callbacks(ctx, f))(t)
			for _, c := range p.Callbacks {
				out = append(out, c.ID)
			}
			if p.Next == "" {
				return out
			}
			f.Cursor = p.Next
		}
	}
	cases := []struct {
		name string
		f    CallbackFilter
		want []int64
	}{
		{"all", CallbackFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"paged", CallbackFilter{Limit: 2}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"pending", CallbackFilter{Status: CallbackPending}, []int64{ids[4], ids[3], ids[0]}},
		{"pending paged", CallbackFilter{Status: CallbackPending, Limit: 1}, []int64{ids[4], ids[3], ids[0]}},
		{"done", CallbackFilter{Status: CallbackDone}, []int64{ids[2]}},
		{"cancelled", CallbackFilter{Status: CallbackCancelled}, []int64{ids[1]}},
		{"call b", CallbackFilter{Call: b}, []int64{ids[3], ids[1]}},
		{"no such call", CallbackFilter{Call: 99999}, []int64{}},
	}
	for _, c := range cases {
		if got := list(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	p := must(s.Callbacks(ctx, CallbackFilter{Status: CallbackDone}))(t)
	if c := p.Callbacks[0]; c.DoneAt.IsZero() || c.Call != a || c.Number != "+15550002" {
		t.Errorf("done callback: %+v", c)
	}
}

func testCrisisAlerts(t *testing.T, db newDB) {
	s := open(t, db(t))
	call := startCall(t, s, CallStart{})
	var ids []int64
	cats := []string{"self_harm", "violence", "self_harm", "medical", "self_harm"}
	for i, c := range cats {
		ids = append(ids, must(s.AddCrisisAlert(ctx, call, CrisisAlert{At: at(time.Duration(i) * time.Minute), Category: c, Excerpt: "x"}))(t))
	}
	if err := s.AcknowledgeCrisisAlert(ctx, ids[4], "sup", time.Time{}); err != nil {
		t.Fatal(err)
	}
	list := func(f AlertFilter) []int64 {
		out := []int64{}
		for {
			p := must(s.CrisisAlerts(ctx, f))(t)
			for _, a := range p.Alerts {
				out = append(out, a.ID)
			}
			if p.Next == "" {
				return out
			}
			f.Cursor = p.Next
		}
	}
	cases := []struct {
		name string
		f    AlertFilter
		want []int64
	}{
		{"all newest first", AlertFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"paged", AlertFilter{Limit: 2}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"unacknowledged", AlertFilter{Unacknowledged: true}, []int64{ids[3], ids[2], ids[1], ids[0]}},
		{"category", AlertFilter{Category: "self_harm"}, []int64{ids[4], ids[2], ids[0]}},
		{"category unacknowledged paged", AlertFilter{Category: "self_harm", Unacknowledged: true, Limit: 1}, []int64{ids[2], ids[0]}},
		{"range", AlertFilter{Since: at(time.Minute), Until: at(3 * time.Minute)}, []int64{ids[2], ids[1]}},
	}
	for _, c := range cases {
		if got := list(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func testPurge(t *testing.T, db newDB) {
	cfg := db(t)
	cfg.Retention = Retention{Recordings: 30 * 24 * time.Hour, Transcripts: 90 * 24 * time.Hour}
	s := open(t, cfg)
	day := 24 * time.Hour
	now := at(200 * day) // a fake clock: nothing depends on the real one
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("RIFF"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// old: 100 days ago: transcripts and recording past retention.
	old := startCall(t, s, CallStart{At: now.Add(-100 * day)})
	for i := range 7 {
		must(s.AddTurn(ctx, old, Turn{Speaker: SpeakerCaller, Text: fmt.Sprint("old ", i), At: now.Add(-100*day + time.Duration(i)*time.Second),
			Emotion: json.RawMessage(`{"label":"angry"}`)}))(t)
	}
	must(s.AddTransfer(ctx, old, Transfer{At: now.Add(-100 * day), Queue: "q", Summary: "old summary", Reason: "why"}))(t)
	must(s.AddCallback(ctx, old, Callback{Number: "1", RequestedAt: now.Add(-100 * day), Note: "old note"}))(t)
	must(s.AddCrisisAlert(ctx, old, CrisisAlert{At: now.Add(-100 * day), Category: "medical", Excerpt: "old excerpt"}))(t)
	oldRec := file("old.wav")
	must(s.AddRecording(ctx, old, Recording{Path: oldRec, Kind: RecordingCall, StartedAt: now.Add(-100 * day)}))(t)
	goneRec := filepath.Join(dir, "already-gone.wav") // deleted by hand: the row goes too
	must(s.AddRecording(ctx, old, Recording{Path: goneRec, Kind: RecordingMessage, StartedAt: now.Add(-100 * day)}))(t)
	if err := s.CallEnded(ctx, old, CallEnd{At: now.Add(-100*day + time.Minute), Disposition: DispositionCompleted}); err != nil {
		t.Fatal(err)
	}

	// mid: 40 days ago: recording past retention, transcript kept.
	mid := startCall(t, s, CallStart{At: now.Add(-40 * day)})
	must(s.AddTurn(ctx, mid, Turn{Speaker: SpeakerCaller, Text: "mid", At: now.Add(-40 * day)}))(t)
	midRec := file("mid.wav")
	must(s.AddRecording(ctx, mid, Recording{Path: midRec, Kind: RecordingCall, StartedAt: now.Add(-40 * day)}))(t)
	// A recording that cannot be deleted (a non-empty directory) keeps
	// its row and is reported.
	stuck := filepath.Join(dir, "stuck.wav")
	if err := os.MkdirAll(filepath.Join(stuck, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	must(s.AddRecording(ctx, mid, Recording{Path: stuck, Kind: RecordingMessage, StartedAt: now.Add(-40 * day)}))(t)
	if err := s.CallEnded(ctx, mid, CallEnd{At: now.Add(-40*day + time.Minute), Disposition: DispositionMessage}); err != nil {
		t.Fatal(err)
	}

	// open: an old call still open: its recording is being written.
	openCall := startCall(t, s, CallStart{At: now.Add(-40 * day)})
	openRec := file("open.wav")
	must(s.AddRecording(ctx, openCall, Recording{Path: openRec, Kind: RecordingCall, StartedAt: now.Add(-40 * day)}))(t)

	// fresh: yesterday: all kept.
	fresh := startCall(t, s, CallStart{At: now.Add(-day)})
	must(s.AddTurn(ctx, fresh, Turn{Speaker: SpeakerCaller, Text: "fresh", At: now.Add(-day)}))(t)
	must(s.AddTransfer(ctx, fresh, Transfer{At: now.Add(-day), Queue: "q", Summary: "fresh summary"}))(t)
	freshRec := file("fresh.wav")
	must(s.AddRecording(ctx, fresh, Recording{Path: freshRec, Kind: RecordingCall, StartedAt: now.Add(-day)}))(t)
	if err := s.CallEnded(ctx, fresh, CallEnd{At: now.Add(-day + time.Minute), Disposition: DispositionCompleted}); err != nil {
		t.Fatal(err)
	}

	res, err := s.Purge(ctx, now)
	if err == nil || !strings.Contains(err.Error(), "stuck.wav") {
		t.Errorf("purge error %v, want one naming stuck.wav", err)
	}
	if res.Turns != 7 || res.Texts != 3 {
		t.Errorf("purged %d turns and %d texts, want 7 and 3 (a transfer, a callback, an alert)", res.Turns, res.Texts)
	}
	wantGone := []string{oldRec, goneRec, midRec}
	if !reflect.DeepEqual(res.Recordings, wantGone) {
		t.Errorf("purged recordings %v, want %v", res.Recordings, wantGone)
	}
	for _, p := range []string{oldRec, midRec} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still on disk: %v", p, err)
		}
	}
	for _, p := range []string{freshRec, openRec, stuck} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s deleted: %v", p, err)
		}
	}
	d := must(s.Call(ctx, old))(t)
	if len(d.Turns) != 0 || len(d.Emotions) != 0 || len(d.Recordings) != 0 {
		t.Errorf("old call keeps %d turns, %d recordings", len(d.Turns), len(d.Recordings))
	}
	if d.TurnCount != 7 || d.Disposition != DispositionCompleted || d.Transfers[0].Queue != "q" ||
		d.Transfers[0].Summary != "" || d.Transfers[0].Reason != "" || d.Callbacks[0].Note != "" || d.CrisisAlerts[0].Excerpt != "" ||
		d.CrisisAlerts[0].Category != "medical" {
		t.Errorf("old call record after purge: %+v", d)
	}
	if p := must(s.ListCalls(ctx, CallFilter{Emotion: "angry"}))(t); len(p.Calls) != 0 {
		t.Errorf("emotion filter finds purged turns: %v", callIDs(p.Calls))
	}
	if d := must(s.Call(ctx, mid))(t); len(d.Turns) != 1 || len(d.Recordings) != 1 || d.Recordings[0].Path != stuck {
		t.Errorf("mid call after purge: turns %d, recordings %+v", len(d.Turns), d.Recordings)
	}
	if d := must(s.Call(ctx, fresh))(t); len(d.Turns) != 1 || d.Transfers[0].Summary != "fresh summary" || len(d.Recordings) != 1 {
		t.Errorf("fresh call after purge: %+v", d)
	}
	if d := must(s.Call(ctx, openCall))(t); len(d.Recordings) != 1 {
		t.Errorf("open call's recording purged")
	}

	// Once the file can go, the next purge takes it; then nothing is left.
	if err := os.RemoveAll(filepath.Join(stuck, "x")); err != nil {
		t.Fatal(err)
	}
	res, err = s.Purge(ctx, now)
	if err != nil || res.Turns != 0 || res.Texts != 0 || !reflect.DeepEqual(res.Recordings, []string{stuck}) {
		t.Errorf("second purge: %+v, %v", res, err)
	}
	res, err = s.Purge(ctx, now)
	if err != nil || res.Turns != 0 || res.Texts != 0 || len(res.Recordings) != 0 {
		t.Errorf("third purge: %+v, %v", res, err)
	}

	// Many turns: deleted in batches, all of them.
	big := startCall(t, s, CallStart{At: now.Add(-100 * day)})
	for i := range purgeBatch + 3 {
		must(s.AddTurn(ctx, big, Turn{Speaker: SpeakerAgent, At: now.Add(-100*day + time.Duration(i)*time.Millisecond)}))(t)
	}
	res, err = s.Purge(ctx, now)
	if err != nil || res.Turns != purgeBatch+3 {
		t.Errorf("batched purge: %+v, %v", res, err)
	}

	// No retention: nothing is purged.
	keep := cfg
	keep.Retention = Retention{}
	s2 := open(t, keep)
	res, err = s2.Purge(ctx, now.Add(1000*day))
	if err != nil || res.Turns != 0 || len(res.Recordings) != 0 {
		t.Errorf("purge with no retention: %+v, %v", res, err)
	}
	if d := must(s2.Call(ctx, fresh))(t); len(d.Turns) != 1 {
		t.Error("purge with no retention deleted turns")
	}
}

func testRunPurge(t *testing.T, db newDB) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := db(t)
	// Records from 2001 are past any retention measured from the real now.
	cfg.Retention = Retention{Transcripts: 24 * time.Hour}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	call := startCall(t, s, CallStart{At: old})
	must(s.AddTurn(ctx, call, Turn{Speaker: SpeakerCaller, Text: "old", At: old}))(t)

	var logged logbuf.Buffer
	log := slogTo(&logged)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.RunPurge(runCtx, time.Hour, log) }()
	// The first purge runs at once; wait for its effect (no clock involved).
	for {
		d := must(s.Call(ctx, call))(t)
		if len(d.Turns) == 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("RunPurge returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunPurge after cancel: %v", err)
	}
	if !strings.Contains(logged.String(), "purged") {
		t.Errorf("log: %q", logged.String())
	}

	// Retention that keeps everything: RunPurge returns at once.
	keep := cfg
	keep.Retention = Retention{}
	s2, err := Open(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.RunPurge(ctx, time.Hour, nil); err != nil {
		t.Errorf("RunPurge keeping everything: %v", err)
	}
}

func testReopen(t *testing.T, db newDB) {
	cfg := db(t)
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations(s.d.name)
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1].version
	if v := must(s.SchemaVersion(ctx))(t); v != last {
		t.Errorf("schema version %d, want %d", v, last)
	}
	id := startCall(t, s, CallStart{From: "+1555"})
	must(s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Text: "hello"}))(t)
	s.Close()

	// Reopening applies nothing twice and keeps the records.
	for range 2 {
		s = open(t, cfg)
		if v := must(s.SchemaVersion(ctx))(t); v != last {
			t.Errorf("schema version after reopen %d, want %d", v, last)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
			t.Errorf("%d migration rows (%v), want %d", n, err, len(ms))
		}
		d := must(s.Call(ctx, id))(t)
		if len(d.Turns) != 1 || d.Turns[0].Text != "hello" {
			t.Errorf("after reopen: %+v", d)
		}
		s.Close()
	}

	// A database a newer Hotline migrated is refused, not written to.
	s = open(t, cfg)
	if _, err := s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		9999, "future", s.d.timeArg(time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("Open of a newer schema: %v", err)
		if err == nil {
			s.Close()
		}
	}
}

func TestMigrationsPaired(t *testing.T) {
	lite, err := migrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].version != pg[i].version || lite[i].name != pg[i].name {
			t.Errorf("migration %d: %04d_%s and %04d_%s", i, lite[i].version, lite[i].name, pg[i].version, pg[i].name)
		}
		if lite[i].version != i+1 {
			t.Errorf("migration %d has version %d: versions run 1, 2, 3...", i, lite[i].version)
		}
	}
}

func testConcurrentOpen(t *testing.T, db newDB) {
	cfg := db(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := Open(ctx, cfg)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	s := open(t, cfg)
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Errorf("migrations after concurrent opens: %d, %v", n, err)
	}
}

func testConcurrentTurns(t *testing.T, db newDB) {
	s := open(t, db(t))
	const (
		writers = 12
		perCall = 25
	)
	calls := make([]int64, writers)
	for i := range calls {
		calls[i] = startCall(t, s, CallStart{Node: "n"})
	}
	shared := startCall(t, s, CallStart{Node: "n"})
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perCall {
				// Each writer has its call, and all write to a shared one.
				if _, err := s.AddTurn(ctx, calls[w], Turn{Speaker: SpeakerCaller, Text: fmt.Sprintf("w%d t%d", w, i)}); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					if _, err := s.AddTurn(ctx, shared, Turn{Speaker: SpeakerAgent, Text: fmt.Sprintf("w%d t%d", w, i)}); err != nil {
						errs <- err
						return
					}
				}
				if i%10 == 0 { // readers at the same time
					if _, err := s.ListCalls(ctx, CallFilter{Limit: 5}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w, id := range calls {
		d := must(s.Call(ctx, id))(t)
		if len(d.Turns) != perCall || d.TurnCount != perCall {
			t.Fatalf("call %d: %d turns (count %d), want %d", w, len(d.Turns), d.TurnCount, perCall)
		}
		for i, tu := range d.Turns {
			if tu.Seq != i+1 || tu.Text != fmt.Sprintf("w%d t%d", w, i) {
				t.Errorf("call %d turn %d: seq %d %q", w, i, tu.Seq, tu.Text)
			}
		}
	}
	d := must(s.Call(ctx, shared))(t)
	want := writers * ((perCall + 4) / 5)
	if len(d.Turns) != want {
		t.Errorf("shared call: %d turns, want %d", len(d.Turns), want)
	}
	seen := map[string]bool{}
	for i, tu := range d.Turns {
		if tu.Seq != i+1 {
			t.Errorf("shared call: turn %d has seq %d", i, tu.Seq)
		}
		seen[tu.Text] = true
	}
	if len(seen) != want {
		t.Errorf("shared call: %d distinct turns, want %d", len(seen), want)
	}
}

func testCloseInterrupted(t *testing.T, db newDB) {
	s := open(t, db(t))
	// a: answered, with turns: ends when its last turn ended.
	a := startCall(t, s, CallStart{Node: "n1", At: at(0)})
	if err := s.CallAnswered(ctx, a, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	must(s.AddTurn(ctx, a, Turn{Speaker: SpeakerCaller, At: at(5 * time.Second), Duration: 2 * time.Second}))(t)
	must(s.AddTurn(ctx, a, Turn{Speaker: SpeakerHotline, At: at(8 * time.Second), Duration: 3 * time.Second}))(t)
	// b: never answered: ends when it started.
	b := startCall(t, s, CallStart{Node: "n1", At: at(time.Minute)})
	// c: already ended; d: another node's.
	c := startCall(t, s, CallStart{Node: "n1", At: at(0)})
	if err := s.CallEnded(ctx, c, CallEnd{At: at(time.Second), Disposition: DispositionRejected}); err != nil {
		t.Fatal(err)
	}
	d := startCall(t, s, CallStart{Node: "n2", At: at(0)})

	closed := must(s.CloseInterrupted(ctx, "n1"))(t)
	if !reflect.DeepEqual(closed, []int64{a, b}) && !reflect.DeepEqual(closed, []int64{b, a}) {
		t.Fatalf("closed %v, want %d and %d", closed, a, b)
	}
	ca := must(s.Call(ctx, a))(t).Call
	if ca.Disposition != DispositionInterrupted || ca.HangupSide != SideSystem || ca.Talk != 10*time.Second {
		t.Errorf("interrupted call a: %+v", ca)
	}
	sameTime(t, "a ended", ca.EndedAt, at(11*time.Second))
	cb := must(s.Call(ctx, b))(t).Call
	if cb.Disposition != DispositionInterrupted || cb.Talk != 0 {
		t.Errorf("interrupted call b: %+v", cb)
	}
	sameTime(t, "b ended", cb.EndedAt, at(time.Minute))
	if cc := must(s.Call(ctx, c))(t).Call; cc.Disposition != DispositionRejected {
		t.Errorf("ended call c changed: %+v", cc)
	}
	if cd := must(s.Call(ctx, d))(t).Call; !cd.Open() {
		t.Errorf("other node's call closed: %+v", cd)
	}
	if again := must(s.CloseInterrupted(ctx, "n1"))(t); len(again) != 0 {
		t.Errorf("second CloseInterrupted closed %v", again)
	}
	if err := s.CallEnded(ctx, a, CallEnd{Disposition: DispositionCompleted}); !errors.Is(err, ErrEnded) {
		t.Errorf("ending an interrupted call: %v", err)
	}
	if p := must(s.ListCalls(ctx, CallFilter{Disposition: DispositionInterrupted}))(t); len(p.Calls) != 2 {
		t.Errorf("interrupted calls listed: %v", callIDs(p.Calls))
	}
}

// testCloseReleases: Close leaves no connection open and no goroutine
// running.
func testCloseReleases(t *testing.T, db newDB) {
	cfg := db(t)
	before := goleak.IgnoreCurrent()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := startCall(t, s, CallStart{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller, Text: "x"})
			s.ListCalls(ctx, CallFilter{})
			s.Call(ctx, id)
		})
	}
	wg.Wait()
	if n := s.db.Stats().OpenConnections; n == 0 {
		t.Errorf("no connection open before Close: the test tests nothing")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.db.Stats().OpenConnections; n != 0 {
		t.Errorf("%d connections open after Close", n)
	}
	goleak.VerifyNone(t, before)
}

// testNodes: heartbeats keep a node's row current; a node whose heartbeat
// is stale is reaped once, its open calls closed, the live nodes' kept; a
// node that leaves takes its row with it.
func testNodes(t *testing.T, db newDB) {
	s := open(t, db(t))
	beat := func(name string, d time.Duration, draining bool) {
		t.Helper()
		if err := s.Heartbeat(ctx, Node{Name: name, SIP: "127.0.0.1:5071", API: "127.0.0.1:8081", StartedAt: at(0), HeartbeatAt: at(d), Draining: draining}); err != nil {
			t.Fatal(err)
		}
	}
	beat("n1", 0, false)
	beat("n2", 0, false)
	if err := s.Heartbeat(ctx, Node{Name: "n1", SIP: "127.0.0.1:5071", API: "127.0.0.1:8081", StartedAt: at(0), HeartbeatAt: at(10 * time.Second),
		Draining: true, Queues: []NodeQueue{{Name: "general", Waiting: 2, LongestWaitMS: 1500}}}); err != nil {
		t.Fatal(err)
	}
	nodes := must(s.Nodes(ctx))(t)
	if !reflect.DeepEqual(nodes[0].Queues, []NodeQueue{{Name: "general", Waiting: 2, LongestWaitMS: 1500}}) || len(nodes[1].Queues) != 0 {
		t.Errorf("queues: %+v, %+v", nodes[0].Queues, nodes[1].Queues)
	}
	if len(nodes) != 2 || nodes[0].Name != "n1" || !nodes[0].Draining || nodes[1].Name != "n2" || nodes[1].Draining ||
		nodes[0].SIP != "127.0.0.1:5071" || nodes[0].API != "127.0.0.1:8081" {
		t.Fatalf("nodes: %+v", nodes)
	}
	sameTime(t, "n1 heartbeat", nodes[0].HeartbeatAt, at(10*time.Second))
	sameTime(t, "n1 started", nodes[0].StartedAt, at(0))

	open1 := startCall(t, s, CallStart{Node: "n1", At: at(time.Second)})
	open2 := startCall(t, s, CallStart{Node: "n2", At: at(time.Second)})
	// n2 last beat at 0 s: stale before 5 s; n1 is not.
	reaped := must(s.ReapNodes(ctx, at(5*time.Second)))(t)
	if len(reaped) != 1 || !reflect.DeepEqual(reaped["n2"], []int64{open2}) {
		t.Fatalf("reaped %v, want n2 with call %d", reaped, open2)
	}
	if c := must(s.Call(ctx, open2))(t).Call; c.Disposition != DispositionInterrupted {
		t.Errorf("dead node's call: %+v", c)
	}
	if c := must(s.Call(ctx, open1))(t).Call; !c.Open() {
		t.Errorf("live node's call closed: %+v", c)
	}
	if again := must(s.ReapNodes(ctx, at(5*time.Second)))(t); len(again) != 0 {
		t.Errorf("second reap: %v", again)
	}
	if nodes := must(s.Nodes(ctx))(t); len(nodes) != 1 || nodes[0].Name != "n1" {
		t.Errorf("nodes after reaping: %+v", nodes)
	}
	if err := s.LeaveCluster(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if nodes := must(s.Nodes(ctx))(t); len(nodes) != 0 {
		t.Errorf("nodes after leaving: %+v", nodes)
	}
}

// testAgentPhonesAndClaims: an agent's latest phone is shared, an
// unregistration elsewhere does not remove it, an expired one is not
// listed; a claim is exclusive until its node releases it; a dead node's
// phones and claims go with it.
func testAgentPhonesAndClaims(t *testing.T, db newDB) {
	s := open(t, db(t))
	phone := func(agent, node string, exp time.Duration) {
		t.Helper()
		if err := s.SetAgentPhone(ctx, AgentPhone{Agent: agent, Node: node, Contact: "sip:" + agent + "@127.0.0.1:5099",
			Source: "127.0.0.1:5099", Transport: "udp", Expires: at(exp), Ready: true}); err != nil {
			t.Fatal(err)
		}
	}
	phone("alice", "n1", time.Hour)
	phone("alice", "n2", time.Hour) // re-registered with n2
	phone("bob", "n1", time.Minute)
	if err := s.RemoveAgentPhone(ctx, "alice", "n1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgentReady(ctx, "alice", "n2", false); err != nil {
		t.Fatal(err)
	}
	phones := must(s.AgentPhones(ctx, at(2*time.Minute)))(t)
	if len(phones) != 1 || phones[0].Agent != "alice" || phones[0].Node != "n2" || phones[0].Ready ||
		phones[0].Source != "127.0.0.1:5099" || phones[0].Transport != "udp" {
		t.Fatalf("phones: %+v, want alice's on n2, not ready (bob's expired)", phones)
	}
	sameTime(t, "alice's phone expires", phones[0].Expires, at(time.Hour))

	claim := func(agent, call, node string) bool {
		t.Helper()
		return must(s.ClaimAgent(ctx, AgentClaim{Agent: agent, Call: call, Node: node, At: at(0)}))(t)
	}
	if !claim("alice", "c1", "n1") {
		t.Fatal("first claim refused")
	}
	if claim("alice", "c2", "n3") || claim("alice", "c1", "n1") {
		t.Fatal("a second claim on alice won")
	}
	if err := s.ReleaseAgent(ctx, "alice", "n3"); err != nil {
		t.Fatal(err)
	}
	if claims := must(s.AgentClaims(ctx))(t); len(claims) != 1 || claims[0].Call != "c1" || claims[0].Node != "n1" {
		t.Fatalf("another node's release changed the claim: %+v", claims)
	}
	if err := s.ReleaseAgent(ctx, "alice", "n1"); err != nil {
		t.Fatal(err)
	}
	if !claim("alice", "c2", "n2") || !claim("bob", "c3", "n1") {
		t.Fatal("claims after release refused")
	}

	// n2 dies: its phone and claim go; n1's claim stays.
	for _, n := range []string{"n1", "n2"} {
		if err := s.Heartbeat(ctx, Node{Name: n, StartedAt: at(0), HeartbeatAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Heartbeat(ctx, Node{Name: "n1", StartedAt: at(0), HeartbeatAt: at(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	must(s.ReapNodes(ctx, at(30*time.Second)))(t)
	if phones := must(s.AgentPhones(ctx, at(0)))(t); len(phones) != 1 || phones[0].Agent != "bob" {
		t.Errorf("phones after n2 died: %+v, want bob's on n1", phones)
	}
	if claims := must(s.AgentClaims(ctx))(t); len(claims) != 1 || claims[0].Agent != "bob" {
		t.Errorf("claims after n2 died: %+v, want n1's on bob", claims)
	}
	if err := s.LeaveCluster(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if claims := must(s.AgentClaims(ctx))(t); len(claims) != 0 {
		t.Errorf("claims after n1 left: %+v", claims)
	}
}

// testListenAgents: on PostgreSQL a claim, a release and a phone wake the
// listener, and an update that changes nothing does not; on SQLite, one
// node's store, listening returns at once.
func testListenAgents(t *testing.T, db newDB) {
	s := open(t, db(t))
	lctx, cancel := context.WithCancel(ctx)
	changed := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- s.ListenAgents(lctx, func() { changed <- struct{}{} }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAgents: %v", err)
		}
	}()
	if s.Driver() == SQLite {
		if err := <-done; err != nil {
			t.Fatalf("ListenAgents on SQLite: %v", err)
		}
		done <- nil
		return
	}
	// The listener is up once a change reaches it: retry the first.
	for i := 0; ; i++ {
		if err := s.SetAgentPhone(ctx, AgentPhone{Agent: "alice", Node: "n1", Contact: "sip:a@127.0.0.1", Source: "127.0.0.1:5099",
			Transport: "udp", Expires: at(time.Duration(i) * time.Hour), Ready: true}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
			if i == 100 {
				t.Fatal("no notification of a phone")
			}
			continue
		}
		break
	}
	drain := func() {
		for len(changed) > 0 {
			<-changed
		}
	}
	for _, c := range []struct {
		name   string
		change func() error
	}{
		{"claim", func() error {
			_, err := s.ClaimAgent(ctx, AgentClaim{Agent: "alice", Call: "c1", Node: "n1", At: at(0)})
			return err
		}},
		{"release", func() error { return s.ReleaseAgent(ctx, "alice", "n1") }},
		{"not ready", func() error { return s.SetAgentReady(ctx, "alice", "n1", false) }},
	} {
		drain()
		if err := c.change(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Errorf("no notification of the %s", c.name)
		}
	}
	// Nothing changes, nothing is said: the next notification is the
	// claim's, not the unchanged readiness's or the absent claim's.
	drain()
	if err := s.SetAgentReady(ctx, "alice", "n1", false); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseAgent(ctx, "alice", "n2"); err != nil {
		t.Fatal(err)
	}
	must(s.ClaimAgent(ctx, AgentClaim{Agent: "bob", Call: "c2", Node: "n1", At: at(0)}))(t)
	<-changed
	if len(changed) != 0 {
		t.Errorf("%d notifications more than the claim's", len(changed))
	}
}
