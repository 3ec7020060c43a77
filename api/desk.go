package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/web"
)

// CallControl moves live calls for the agents' and supervisors' desktops.
type CallControl interface {
	// TransferCall hands the call an agent is talking with on to queue;
	// agent, when not empty, must be the agent serving it. Errors: a
	// wrapped ErrNoSuchCall (404), ErrNotYours (403), ErrNotTransferable
	// (409), store.ErrInvalid for an unknown queue (400).
	TransferCall(callID, agent, queue string) error
}

// Errors a CallControl reports.
var (
	ErrNoSuchCall      = errors.New("no such live call")
	ErrNotYours        = errors.New("the call is another agent's")
	ErrNotTransferable = errors.New("the call is not with an agent, or is already being transferred")
)

// transferRequest is the body of POST /api/v1/transfers.
type transferRequest struct {
	CallID string `json:"call_id"`
	Queue  string `json:"queue"`
}

// transferCall hands a live call on to another queue: an agent their own
// call, a supervisor any.
func (s *server) transferCall(w http.ResponseWriter, r *http.Request) {
	if s.deps.CallControl == nil {
		writeError(w, http.StatusNotImplemented, "calls are not transferred on this node")
		return
	}
	if !isJSON(w, r) {
		return
	}
	var req transferRequest
	if err := decodeBody(r.Body, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var bad []string
	if req.CallID == "" || len(req.CallID) > maxEcho {
		bad = append(bad, "call_id: want the live call's id")
	}
	if req.Queue == "" || len(req.Queue) > maxEcho {
		bad = append(bad, "queue: want a queue's name")
	}
	if err := badList(bad); err != nil {
		s.fail(w, r, err)
		return
	}
	p := principalOf(r.Context())
	agent := ""
	if p.role < RoleSupervisor {
		agent = p.name
	}
	err := s.deps.CallControl.TransferCall(req.CallID, agent, req.Queue)
	switch {
	case errors.Is(err, ErrNoSuchCall):
		writeError(w, http.StatusNotFound, "no such live call")
	case errors.Is(err, ErrNotYours):
		writeError(w, http.StatusForbidden, "the call is another agent's")
	case errors.Is(err, ErrNotTransferable):
		writeError(w, http.StatusConflict, ErrNotTransferable.Error())
	case err != nil:
		s.fail(w, r, err)
	default:
		s.log.Info("api: call transferred on", "queue", req.Queue, "by", p.name)
		writeJSON(w, http.StatusAccepted, req)
	}
}

// AgentControl changes an agent's state for the agent and supervisor
// desktops. state is available, not_ready or offline; reason says why an
// agent is not ready. An error matching routing.ErrInvalidTransition is
// answered 409, routing.ErrUnknownAgent 404.
type AgentControl interface {
	SetState(agentID, state, reason string) error
}

// AgentControlFunc makes a function an AgentControl.
type AgentControlFunc func(agentID, state, reason string) error

// SetState calls f.
func (f AgentControlFunc) SetState(agentID, state, reason string) error {
	return f(agentID, state, reason)
}

// The states an agent or supervisor may ask for; the distributor moves
// agents through the others (ringing, on a call, wrap-up) itself.
var manualStates = []string{"available", "not_ready", "offline"}

// maxBody bounds a request's JSON body; the desktops send a few fields.
const (
	maxBody   = 4 << 10
	maxReason = 64
)

type stateChange struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// parseStateChange reads POST /api/v1/agents/{id}/state's body.
func parseStateChange(r io.Reader) (stateChange, error) {
	var c stateChange
	if err := decodeBody(r, &c); err != nil {
		return stateChange{}, err
	}
	var bad []string
	if !contains(manualStates, c.State) {
		bad = append(bad, fmt.Sprintf("state %s: want one of %s", echo(c.State), strings.Join(manualStates, ", ")))
	}
	if len(c.Reason) > maxReason || strings.IndexFunc(c.Reason, unicode.IsControl) >= 0 {
		bad = append(bad, fmt.Sprintf("reason: want at most %d characters on one line", maxReason))
	}
	if c.Reason != "" && c.State != "not_ready" {
		bad = append(bad, "reason: only not_ready takes a reason")
	}
	return c, badList(bad)
}

// decodeBody reads exactly one JSON object with only known fields.
func decodeBody(r io.Reader, v any) error {
	lr := &io.LimitedReader{R: r, N: maxBody + 1}
	dec := json.NewDecoder(lr)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case lr.N == 0:
			return badf("body: want at most %d bytes", maxBody)
		case errors.As(err, &typ) && typ.Field != "":
			return badf("body: %s: want a %s", clip(typ.Field, maxEcho), typ.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return badf("body: unknown field %s", clip(strings.TrimPrefix(err.Error(), "json: unknown field "), maxEcho))
		default:
			return badf("body: want a JSON object")
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if lr.N == 0 {
			return badf("body: want at most %d bytes", maxBody)
		}
		return badf("body: want one JSON object and nothing after it")
	}
	return nil
}

// badList is nil, or a bad request naming every problem found.
func badList(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return badRequest(strings.Join(problems, "; "))
}

// isJSON answers 415 unless the request's body is declared JSON: a form
// another site posts cannot be one.
func isJSON(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return false
	}
	return true
}

// agentFor checks the agent the path names: an agent may act on their own
// record only, a supervisor on anyone's.
func agentFor(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !validName(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("agent %s: want an agent id", echo(id)))
		return "", false
	}
	if p := principalOf(r.Context()); p.role < RoleSupervisor && p.name != id {
		writeError(w, http.StatusForbidden, "an agent may see and change only their own state")
		return "", false
	}
	return id, true
}

// agent shows one agent: the agent desktop reads its own state here.
func (s *server) agent(w http.ResponseWriter, r *http.Request) {
	id, ok := agentFor(w, r)
	if !ok {
		return
	}
	if s.deps.Agents != nil {
		for _, a := range s.deps.Agents.Agents() {
			if a.ID == id {
				writeJSON(w, http.StatusOK, toAgent(a))
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no agent %s", id))
}

// setAgentState changes an agent's state: ready, not ready with a reason,
// or offline.
func (s *server) setAgentState(w http.ResponseWriter, r *http.Request) {
	id, ok := agentFor(w, r)
	if !ok {
		return
	}
	if s.deps.AgentControl == nil {
		writeError(w, http.StatusNotImplemented, "agent states are not managed on this node")
		return
	}
	if !isJSON(w, r) {
		return
	}
	c, err := parseStateChange(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.deps.AgentControl.SetState(id, c.State, c.Reason)
	switch {
	case errors.Is(err, routing.ErrInvalidTransition):
		writeError(w, http.StatusConflict, strings.TrimPrefix(err.Error(), "routing: "))
	case errors.Is(err, routing.ErrUnknownAgent):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no agent %s", id))
	case err != nil:
		s.fail(w, r, fmt.Errorf("agent %s state %s: %w", id, c.State, err))
	default:
		s.log.Info("api: agent state set", "agent", id, "state", c.State, "by", principalOf(r.Context()).name)
		writeJSON(w, http.StatusOK, stateChange{State: c.State, Reason: c.Reason})
	}
}

// ackAlert records that the supervisor took charge of a crisis alert, and
// tells the other supervisors' desktops, which then clear its banner.
func (s *server) ackAlert(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	by := principalOf(r.Context()).name
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	at := time.Now().UTC()
	if err := s.deps.Store.AcknowledgeCrisisAlert(ctx, id, by, at); err != nil {
		s.fail(w, r, err)
		return
	}
	ack := map[string]any{"id": id, "acknowledged_by": by, "acknowledged_at": at}
	s.deps.Events.Publish(events.Event{Type: "alert.acknowledged", At: at, Data: ack})
	writeJSON(w, http.StatusOK, ack)
}

// pages serves the desktops' static files. They hold no data (every data
// call carries the token), so they need none; the headers keep them out
// of frames and let them load and call nothing but this origin.
func pages() http.Handler {
	files := web.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func toAgent(a AgentView) agentJSON {
	return agentJSON{ID: a.ID, Name: a.Name, State: a.State, Since: a.Since.UTC(), Reason: a.Reason, CallID: a.CallID}
}
