package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/events"
)

// sseWriteTimeout bounds one write to the stream: a client that stops
// reading loses its stream instead of holding the handler.
const sseWriteTimeout = 10 * time.Second

type eventJSON struct {
	Type   string          `json:"type"`
	At     time.Time       `json:"at"`
	CallID string          `json:"call_id,omitempty"`
	Agent  string          `json:"agent,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// events streams the live events as server-sent events:
//
//	event: <type>
//	data: {"type": ..., "at": ..., "call_id": ..., "agent": ..., "data": ...}
//
// with a ": ping" comment every heartbeat. An agent's stream carries only
// the events of the agent's own calls. When the client falls too far
// behind, the stream ends with an "overflow" event and the client
// reconnects (the browser's EventSource does so by itself) and reads the
// state again. The stream ends when the client disconnects.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	ch, sub := s.deps.Events.Subscribe(r.Context())
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a buffering proxy would hold events back
	w.WriteHeader(http.StatusOK)

	write := func(frame string) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := io.WriteString(w, frame); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(": hotline live events\nretry: 3000\n\n") {
		return
	}
	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if !write(": ping\n\n") {
				return
			}
		case e, ok := <-ch:
			if !ok {
				if err := sub.Err(); err != nil {
					s.log.Warn("api: live event stream dropped", "who", p.name, "err", err)
					write("event: overflow\ndata: {\"error\":\"fell behind: reconnect\"}\n\n")
				}
				return
			}
			if p.role < RoleSupervisor && e.Agent != p.name {
				continue
			}
			frame, err := sseFrame(e)
			if err != nil {
				s.log.Error("api: live event not sent", "type", e.Type, "err", err)
				continue
			}
			if !write(frame) {
				return
			}
		}
	}
}

// sseFrame encodes an event, its payload redacted. JSON holds no newline,
// so the data fits one line; the type is cut to the characters an event
// name needs, so that it cannot end the frame early.
func sseFrame(e events.Event) (string, error) {
	ej := eventJSON{Type: eventType(e.Type), At: e.At.UTC(), CallID: e.CallID, Agent: e.Agent}
	if e.Data != nil {
		raw, err := json.Marshal(e.Data)
		if err != nil {
			return "", fmt.Errorf("event %s payload: %w", ej.Type, err)
		}
		ej.Data = redactJSON(raw)
	}
	b, err := json.Marshal(ej)
	if err != nil {
		return "", fmt.Errorf("event %s: %w", ej.Type, err)
	}
	return "event: " + ej.Type + "\ndata: " + string(b) + "\n\n", nil
}

func eventType(t string) string {
	t = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, clip(t, 64))
	if t == "" {
		return "message"
	}
	return t
}
