package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/events"
)

// stream is an open event stream read frame by frame.
type stream struct {
	frames chan string // one frame: its lines, joined by \n
	cancel context.CancelFunc
	done   chan struct{}
	header http.Header
}

func (f *fixture) stream(t *testing.T, token string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := &stream{frames: make(chan string, 100), cancel: cancel, done: make(chan struct{}), header: resp.Header}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line != "" {
				lines = append(lines, line)
				continue
			}
			select {
			case s.frames <- strings.Join(lines, "\n"):
			case <-ctx.Done():
				return
			}
			lines = nil
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	<-s.done
}

// next returns the next frame for which keep is true.
func (s *stream) next(t *testing.T, keep func(string) bool) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case fr := <-s.frames:
			if keep(fr) {
				return fr
			}
		case <-timeout:
			t.Fatal("no such frame")
		}
	}
}

func isEvent(fr string) bool { return strings.HasPrefix(fr, "event: ") }

// event decodes an event frame.
func event(t *testing.T, fr string) (string, eventJSON) {
	t.Helper()
	typ, data, ok := strings.Cut(fr, "\n")
	if !ok || !strings.HasPrefix(data, "data: ") || strings.Contains(data, "\n") {
		t.Fatalf("frame %q: want an event line and one data line", fr)
	}
	var e eventJSON
	if err := json.Unmarshal([]byte(strings.TrimPrefix(data, "data: ")), &e); err != nil {
		t.Fatalf("data %q: %v", data, err)
	}
	return strings.TrimPrefix(typ, "event: "), e
}

func TestEventStream(t *testing.T) {
	f := newFixture(t)
	s := f.stream(t, supToken)
	if ct := s.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	waitFor(t, "the subscription", func() bool { return f.bus.Subscribers() == 1 })

	at := time.Date(2025, 3, 1, 10, 0, 5, 0, time.UTC)
	f.bus.Publish(events.Event{Type: "turn", At: at, CallID: "c1@test", Agent: "bob",
		Data: map[string]any{"speaker": "caller", "text": "my card is 4111 1111 1111 1111", "seq": 2}})
	typ, e := event(t, s.next(t, isEvent))
	if typ != "turn" || e.Type != "turn" || !e.At.Equal(at) || e.CallID != "c1@test" || e.Agent != "bob" {
		t.Errorf("event %s %+v", typ, e)
	}
	if d := string(e.Data); strings.Contains(d, "4111") || !strings.Contains(d, "[card]") || !strings.Contains(d, `"seq":2`) {
		t.Errorf("payload %s: want the card redacted", d)
	}

	// Heartbeats keep an idle stream open.
	if fr := s.next(t, func(fr string) bool { return fr == ": ping" }); fr != ": ping" {
		t.Errorf("heartbeat %q", fr)
	}

	// The client leaves: the subscription and the handler end.
	s.close()
	waitFor(t, "the subscription to end", func() bool { return f.bus.Subscribers() == 0 })
}

// An agent's stream has the agent's own calls only.
func TestEventStreamAgent(t *testing.T) {
	f := newFixture(t)
	alice := f.stream(t, aliceToken)
	sup := f.stream(t, supToken)
	waitFor(t, "the subscriptions", func() bool { return f.bus.Subscribers() == 2 })
	f.bus.Publish(events.Event{Type: "call.started", CallID: "other@test"})
	f.bus.Publish(events.Event{Type: "turn", CallID: "b@test", Agent: "bob"})
	f.bus.Publish(events.Event{Type: "turn", CallID: "a@test", Agent: "alice"})

	if _, e := event(t, alice.next(t, isEvent)); e.CallID != "a@test" {
		t.Errorf("alice's first event is of call %q, want her own a@test", e.CallID)
	}
	var seen []string
	for range 3 {
		_, e := event(t, sup.next(t, isEvent))
		seen = append(seen, e.CallID)
	}
	if strings.Join(seen, " ") != "other@test b@test a@test" {
		t.Errorf("supervisor saw %v, want every event in order", seen)
	}
}

// A stream that falls behind ends with an overflow event, and the client
// reconnects.
func TestEventStreamOverflow(t *testing.T) {
	f := newFixtureBus(t, events.NewBus(1), func(*Config) {})
	s := f.stream(t, supToken)
	waitFor(t, "the subscription", func() bool { return f.bus.Subscribers() == 1 })
	// Faster than any stream writes: a buffer of one overflows.
	for i := 0; f.bus.Dropped() == 0; i++ {
		if i == 1e6 {
			t.Fatal("a million events, and the stream kept up")
		}
		f.bus.Publish(events.Event{Type: "tick", Data: i})
	}
	if fr := s.next(t, func(fr string) bool { return strings.HasPrefix(fr, "event: overflow") }); !strings.Contains(fr, "reconnect") {
		t.Errorf("overflow frame %q", fr)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end after the overflow")
	}
	if f.bus.Subscribers() != 0 {
		t.Errorf("%d subscribers left", f.bus.Subscribers())
	}
}

// A type cannot break the framing, and a payload that is not JSON is not
// sent.
func TestSSEFrame(t *testing.T) {
	fr, err := sseFrame(events.Event{Type: "x\ndata: forged\n\n", At: t0, Data: "a\nb"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(fr, "\n") != 3 || !strings.HasPrefix(fr, "event: x_data__forged__\ndata: ") || !strings.HasSuffix(fr, "\n\n") {
		t.Errorf("frame %q", fr)
	}
	if fr, _ := sseFrame(events.Event{At: t0}); !strings.HasPrefix(fr, "event: message\n") {
		t.Errorf("untyped event framed %q", fr)
	}
	if _, err := sseFrame(events.Event{Type: "x", Data: func() {}}); err == nil {
		t.Error("a payload that cannot be JSON was framed")
	}
}
