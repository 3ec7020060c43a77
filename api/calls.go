package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/redact"
	"github.com/hotline-cc/hotline/store"
)

// The JSON shapes. Times are RFC 3339 in UTC, durations milliseconds; a
// time that did not happen is left out.

type callJSON struct {
	ID          int64      `json:"id"`
	CallID      string     `json:"call_id"`
	Node        string     `json:"node,omitempty"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Channel     string     `json:"channel"`
	Trunk       string     `json:"trunk,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	HangupCause string     `json:"hangup_cause,omitempty"`
	HangupSide  string     `json:"hangup_side,omitempty"`
	Queue       string     `json:"queue,omitempty"`
	Agent       string     `json:"agent,omitempty"`
	WaitMS      int64      `json:"wait_ms"`
	TalkMS      int64      `json:"talk_ms"`
	Turns       int        `json:"turns"`
}

type turnJSON struct {
	Seq         int       `json:"seq"`
	At          time.Time `json:"at"`
	Speaker     string    `json:"speaker"`
	Text        string    `json:"text,omitempty"`
	Prompt      string    `json:"prompt,omitempty"`
	Key         string    `json:"key,omitempty"`
	DurationMS  int64     `json:"duration_ms"`
	LatencyMS   int64     `json:"latency_ms,omitempty"`
	Provider    string    `json:"provider,omitempty"`
	Confidence  *float64  `json:"confidence,omitempty"`
	Interrupted bool      `json:"interrupted,omitempty"`
	// Emotion is the cue's label; the whole cue is on the timeline.
	Emotion string `json:"emotion,omitempty"`
	// Intent is the flow's intent Hotline's reply served.
	Intent string `json:"intent,omitempty"`
	// Citation names the knowledge article, and its version, Hotline's
	// answer came from.
	Citation *citationJSON `json:"citation,omitempty"`
}

type citationJSON struct {
	Article string `json:"article"`
	Version int    `json:"version"`
}

type emotionJSON struct {
	Seq     int             `json:"seq"`
	At      time.Time       `json:"at"`
	Speaker string          `json:"speaker"`
	Label   string          `json:"label,omitempty"`
	Cue     json.RawMessage `json:"cue"`
}

type transferJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Queue   string    `json:"queue,omitempty"`
	Agent   string    `json:"agent,omitempty"`
	Target  string    `json:"target,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Summary string    `json:"summary,omitempty"`
}

type recordingJSON struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// URL downloads it; the file's path stays on the server.
	URL string `json:"url"`
	// PlayURL, for a supervisor, is URL signed for a while: an audio
	// element plays it without the bearer token.
	PlayURL string `json:"play_url,omitempty"`
}

type callbackJSON struct {
	ID          int64      `json:"id"`
	Call        int64      `json:"call"`
	Number      string     `json:"number"`
	RequestedAt time.Time  `json:"requested_at"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	Note        string     `json:"note,omitempty"`
	Status      string     `json:"status"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
}

type alertJSON struct {
	ID             int64      `json:"id"`
	Call           int64      `json:"call"`
	At             time.Time  `json:"at"`
	Category       string     `json:"category"`
	Excerpt        string     `json:"excerpt,omitempty"`
	Action         string     `json:"action,omitempty"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
}

type callDetailJSON struct {
	callJSON
	Transcript []turnJSON      `json:"transcript"`
	Emotions   []emotionJSON   `json:"emotions"`
	Transfers  []transferJSON  `json:"transfers"`
	Recordings []recordingJSON `json:"recordings"`
	Callbacks  []callbackJSON  `json:"callbacks"`
	Alerts     []alertJSON     `json:"alerts"`
	Marks      []markJSON      `json:"marks"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toCall(c store.Call) callJSON {
	return callJSON{
		ID: c.ID, CallID: c.CallID, Node: c.Node, From: c.From, To: c.To, Channel: c.Channel, Trunk: c.Trunk,
		StartedAt: c.StartedAt.UTC(), AnsweredAt: optTime(c.AnsweredAt), EndedAt: optTime(c.EndedAt),
		Disposition: c.Disposition, HangupCause: c.HangupCause, HangupSide: c.HangupSide,
		Queue: c.Queue, Agent: c.Agent, WaitMS: c.Wait.Milliseconds(), TalkMS: c.Talk.Milliseconds(), Turns: c.TurnCount,
	}
}

func toCallback(c store.Callback) callbackJSON {
	return callbackJSON{
		ID: c.ID, Call: c.Call, Number: c.Number, RequestedAt: c.RequestedAt.UTC(), DueAt: optTime(c.DueAt),
		Note: c.Note, Status: c.Status, DoneAt: optTime(c.DoneAt),
	}
}

func toAlert(a store.CrisisAlert) alertJSON {
	return alertJSON{
		ID: a.ID, Call: a.Call, At: a.At.UTC(), Category: a.Category, Excerpt: a.Excerpt, Action: a.Action,
		AcknowledgedAt: optTime(a.AcknowledgedAt), AcknowledgedBy: a.AcknowledgedBy,
	}
}

func toDetail(d store.CallDetail) callDetailJSON {
	out := callDetailJSON{
		callJSON:   toCall(d.Call),
		Transcript: make([]turnJSON, 0, len(d.Turns)),
		Emotions:   make([]emotionJSON, 0, len(d.Emotions)),
		Transfers:  make([]transferJSON, 0, len(d.Transfers)),
		Recordings: make([]recordingJSON, 0, len(d.Recordings)),
		Callbacks:  make([]callbackJSON, 0, len(d.Callbacks)),
		Alerts:     make([]alertJSON, 0, len(d.CrisisAlerts)),
		Marks:      make([]markJSON, 0, len(d.Marks)),
	}
	for _, m := range d.Marks {
		out.Marks = append(out.Marks, toMark(m))
	}
	labels := make(map[int]string, len(d.Emotions))
	for _, e := range d.Emotions {
		labels[e.Seq] = e.Label
		out.Emotions = append(out.Emotions, emotionJSON{Seq: e.Seq, At: e.At.UTC(), Speaker: e.Speaker, Label: e.Label, Cue: redactJSON(e.Cue)})
	}
	for _, t := range d.Turns {
		tj := turnJSON{
			Seq: t.Seq, At: t.At.UTC(), Speaker: t.Speaker, Text: t.Text, Prompt: t.Prompt, Key: t.Key,
			DurationMS: t.Duration.Milliseconds(), LatencyMS: t.Latency.Milliseconds(), Provider: t.Provider,
			Interrupted: t.Interrupted, Emotion: labels[t.Seq], Intent: t.Intent,
		}
		if t.Confidence >= 0 {
			c := t.Confidence
			tj.Confidence = &c
		}
		if t.Article != "" {
			tj.Citation = &citationJSON{Article: t.Article, Version: t.ArticleVersion}
		}
		out.Transcript = append(out.Transcript, tj)
	}
	for _, t := range d.Transfers {
		out.Transfers = append(out.Transfers, transferJSON{ID: t.ID, At: t.At.UTC(), Queue: t.Queue, Agent: t.Agent, Target: t.Target, Reason: t.Reason, Summary: t.Summary})
	}
	for _, r := range d.Recordings {
		out.Recordings = append(out.Recordings, recordingJSON{
			ID: r.ID, Kind: r.Kind, StartedAt: r.StartedAt.UTC(), DurationMS: r.Duration.Milliseconds(),
			URL: fmt.Sprintf("/api/v1/calls/%d/recordings/%d", d.ID, r.ID),
		})
	}
	for _, c := range d.Callbacks {
		out.Callbacks = append(out.Callbacks, toCallback(c))
	}
	for _, a := range d.CrisisAlerts {
		out.Alerts = append(out.Alerts, toAlert(a))
	}
	return out
}

// redactJSON redacts every string in a JSON document. The store redacts
// the text it is given, but an emotion cue or an event's payload is free
// JSON that may quote the caller's words.
func redactJSON(raw []byte) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers pass through as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage(`null`)
	}
	b, err := json.Marshal(redactValue(v))
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

func redactValue(v any) any {
	switch x := v.(type) {
	case string:
		return redact.Redact(x)
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(e)
		}
	}
	return v
}

func (s *server) listCalls(w http.ResponseWriter, r *http.Request) {
	f, err := parseCallFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	page, err := s.deps.Store.ListCalls(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Calls []callJSON `json:"calls"`
		Next  string     `json:"next,omitempty"`
	}{Calls: make([]callJSON, 0, len(page.Calls)), Next: page.Next}
	for _, c := range page.Calls {
		out.Calls = append(out.Calls, toCall(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// callFor reads the call the path names, if the request's principal may
// see it.
func (s *server) callFor(w http.ResponseWriter, r *http.Request) (store.CallDetail, bool) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return store.CallDetail{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	d, err := s.deps.Store.Call(ctx, id)
	if err != nil {
		s.fail(w, r, err)
		return store.CallDetail{}, false
	}
	if p := principalOf(r.Context()); p.role < RoleSupervisor && !servedBy(d, p.name) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("call %d is not one of yours", id))
		return store.CallDetail{}, false
	}
	return d, true
}

// servedBy reports whether the agent took part in the call: the record or
// one of its transfers names the agent.
func servedBy(d store.CallDetail, agent string) bool {
	if d.Agent == agent {
		return true
	}
	for _, t := range d.Transfers {
		if t.Agent == agent {
			return true
		}
	}
	return false
}

func (s *server) call(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.callFor(w, r); ok {
		out := toDetail(d)
		if principalOf(r.Context()).role >= RoleSupervisor {
			s.signRecordings(&out, time.Now())
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// errRefused: a recording's path leads out of the recordings directory,
// or the file cannot be opened there.
var errRefused = errors.New("recording refused: not a file within the recordings directory")

// recording serves a recording's WAV file, with range requests. The file
// is the one the store names for the call, opened within the recordings
// directory so that neither a path nor a symbolic link leads out of it.
func (s *server) recording(w http.ResponseWriter, r *http.Request) {
	rid, err := parseID(r.PathValue("rid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, ok := s.callFor(w, r)
	if !ok {
		return
	}
	var rec *store.Recording
	for i := range d.Recordings {
		if d.Recordings[i].ID == rid {
			rec = &d.Recordings[i]
		}
	}
	if rec == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("call %d has no recording %d", d.ID, rid))
		return
	}
	if s.cfg.RecordingsDir == "" {
		writeError(w, http.StatusNotFound, "recordings are not served: no recordings directory is configured")
		return
	}
	f, err := openWithin(s.cfg.RecordingsDir, rec.Path)
	switch {
	case errors.Is(err, errRefused):
		s.log.Warn("api: recording refused", "call", d.ID, "recording", rid, "err", err)
		writeError(w, http.StatusForbidden, "recording is outside the recordings directory")
		return
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, "the recording's file is gone (retention)")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(w, r, fmt.Errorf("stat recording %d: %w", rid, err))
		return
	}
	if !st.Mode().IsRegular() {
		writeError(w, http.StatusForbidden, "recording is not a regular file")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="call-%d-recording-%d.wav"`, d.ID, rid))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// openWithin opens path (absolute, or relative to the working directory,
// as the recorder wrote it) only if it lies within dir: the check on the
// names rejects "..", and os.Root rejects symbolic links leading out.
func openWithin(dir, path string) (*os.File, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("recording path: %w", err)
	}
	rel, err := filepath.Rel(absDir, absPath)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, errRefused
	}
	root, err := os.OpenRoot(absDir)
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A link out of the root, a permission: not served either way.
		return nil, fmt.Errorf("%w: %w", errRefused, err)
	}
	return f, err
}

func (s *server) callbacks(w http.ResponseWriter, r *http.Request) {
	f, err := parseCallbackFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	page, err := s.deps.Store.Callbacks(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Callbacks []callbackJSON `json:"callbacks"`
		Next      string         `json:"next,omitempty"`
	}{Callbacks: make([]callbackJSON, 0, len(page.Callbacks)), Next: page.Next}
	for _, c := range page.Callbacks {
		out.Callbacks = append(out.Callbacks, toCallback(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) alerts(w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	page, err := s.deps.Store.CrisisAlerts(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Alerts []alertJSON `json:"alerts"`
		Next   string      `json:"next,omitempty"`
	}{Alerts: make([]alertJSON, 0, len(page.Alerts)), Next: page.Next}
	for _, a := range page.Alerts {
		out.Alerts = append(out.Alerts, toAlert(a))
	}
	writeJSON(w, http.StatusOK, out)
}
