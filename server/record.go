package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/metrics"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/store"
)

// storeWait bounds one write of a call's record, so a database that hangs
// cannot hold a call up.
const storeWait = 5 * time.Second

// callInfo is what the transport knows of a new call.
type callInfo struct {
	id, from, to, channel, trunk string
	at                           time.Time
	// placed is set on a campaign call Hotline placed.
	placed *placedCall
}

// callRecord is a call's record, written as the call happens: each turn,
// transfer, recording and alert goes to the store and to the call's
// transcript file the moment it exists, so a crash loses at most what was
// being said. Its methods are safe for concurrent use and never fail the
// call: a record that cannot be written is logged.
type callRecord struct {
	ctx     context.Context // the call's, without its cancellation: the end is recorded after it
	log     *slog.Logger
	st      *store.Store // nil: no store
	m       *metrics.Metrics
	bus     *events.Bus
	callID  string
	started time.Time
	// opened is the call.started event, told again to the agent who takes
	// the call; servedBy is that agent, whose live stream then carries the
	// call's events.
	opened   map[string]any
	servedBy atomic.Pointer[string]
	// caller is who calls, as the customer directory knows them.
	caller dialog.Profile

	mu sync.Mutex
	id int64 // the store's id of the call; 0 when it was not recorded
	tr *transcript
	// The call's way to a person: the queue it last joined and when it
	// first joined one, the agent who answered and when, and whether the
	// caller asked to be called back instead.
	queue, agent      string
	queued, connected time.Time
	callbackRequested bool
	// handover is the last transfer to a queue: the agent's screen pop;
	// said is the conversation with Hotline so far, for the agent's view.
	handover ivr.TransferTurn
	said     []turnLine
}

func (s *Server) openRecord(ctx context.Context, log *slog.Logger, c callInfo, caller dialog.Profile, base string) *callRecord {
	r := &callRecord{ctx: context.WithoutCancel(ctx), log: log, st: s.store, m: s.metrics, bus: s.events,
		callID: c.id, started: c.at, caller: caller,
		opened: map[string]any{"from": c.from, "to": c.to, "channel": c.channel, "trunk": c.trunk}}
	s.metrics.CallStarted()
	s.metrics.CallAnswered()
	r.publish("call.started", r.opened)
	if r.st != nil {
		err := r.write(func(ctx context.Context) (err error) {
			r.id, err = r.st.CallStarted(ctx, store.CallStart{CallID: c.id, Node: s.node, From: c.from, To: c.to,
				Channel: c.channel, Trunk: c.trunk, At: c.at})
			if err == nil {
				err = r.st.CallAnswered(ctx, r.id, c.at)
			}
			return err
		})
		if err != nil {
			r.id = 0
		}
	}
	tr, err := newTranscript(base + ".jsonl")
	if err != nil {
		log.Error("transcript not started", "err", err)
	} else {
		log.Info("transcript", "path", tr.path)
		r.tr = tr
	}
	return r
}

// publish tells the live event stream; once an agent has the call, the
// agent's own stream too.
func (r *callRecord) publish(typ string, data any) {
	var agent string
	if a := r.servedBy.Load(); a != nil {
		agent = *a
	}
	r.bus.Publish(events.Event{Type: typ, CallID: r.callID, Agent: agent, Data: data})
}

// write runs one write of the record with a deadline, logging a failure.
func (r *callRecord) write(fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(r.ctx, storeWait)
	defer cancel()
	err := fn(ctx)
	if err != nil {
		r.log.Warn("call record not written", "err", err)
	}
	return err
}

func (r *callRecord) stored() bool { return r.st != nil && r.id != 0 }

// turn records one turn of the conversation.
func (r *callRecord) turn(t ivr.Turn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The store first: the transcript file never shows a turn the store
	// lacks.
	r.storeTurn(t)
	r.tr.add(t)
	switch {
	case t.Speaker == "caller" && t.Provider != "":
		r.m.ASRLatency(t.Provider, t.Latency)
	case t.Speaker == "hotline" && t.Provider != "":
		r.m.TTSLatency(t.Provider, t.Latency)
	}
	if t.Response > 0 {
		r.m.TurnLatency(t.Response)
	}
	if t.Interrupted {
		r.m.BargeIn()
	}
	if t.Transfer != nil {
		r.transferred(*t.Transfer)
	} else {
		ev := turnEvent(t)
		r.said = append(r.said, ev)
		r.publish("turn", ev)
	}
}

// storeTurn writes a turn, or a transfer, to the store.
func (r *callRecord) storeTurn(t ivr.Turn) {
	if !r.stored() {
		return
	}
	at := r.started.Add(t.At)
	if tr := t.Transfer; tr != nil {
		r.write(func(ctx context.Context) error {
			_, err := r.st.AddTransfer(ctx, r.id, store.Transfer{At: at, Queue: tr.Queue, Agent: tr.Agent,
				Reason: tr.Reason, Summary: tr.Summary})
			return err
		})
		return
	}
	st := store.Turn{At: at, Speaker: t.Speaker, Text: t.Text, Prompt: t.Prompt, Key: t.Key,
		Duration: t.Duration, Latency: t.Latency, Provider: t.Provider, Confidence: t.Confidence,
		Interrupted: t.Interrupted, Intent: t.Intent}
	if t.Cite != nil {
		st.Article, st.ArticleVersion = t.Cite.Article, t.Cite.Version
	}
	if p := emotionPoint(t.Emotion); p != nil {
		st.Emotion, _ = json.Marshal(p)
	}
	r.write(func(ctx context.Context) error {
		_, err := r.st.AddTurn(ctx, r.id, st)
		return err
	})
}

// transferred follows a hand-over: the caller joining a queue, or the
// agent who answered; r.mu is held.
func (r *callRecord) transferred(t ivr.TransferTurn) {
	now := time.Now()
	if t.Agent == "" {
		// Waiting again (an agent transferred the call on): no agent's
		// stream follows the call until the next one answers.
		r.servedBy.Store(nil)
		r.m.Transfer(t.Queue)
		r.publish("transfer", t)
		r.handover = t
		r.queue = t.Queue
		if r.queued.IsZero() {
			r.queued = now
		}
	} else {
		r.agent, r.connected = t.Agent, now
		// The agent's desktop learns the call from its start: who calls,
		// and the summary the dialog handed over.
		r.servedBy.Store(&t.Agent)
		r.publish("call.started", r.opened)
		for _, ev := range r.said {
			r.publish("turn", ev)
		}
		r.publish("transfer", r.handover)
		r.publish("handoff", r.handoff())
		wait := r.waited(now)
		r.m.QueueWait(t.Queue, wait)
		r.publish("agent.connected", map[string]any{"queue": t.Queue, "agent": t.Agent, "wait_ms": wait.Milliseconds()})
	}
}

// waited is how long the caller had waited for an agent at t.
func (r *callRecord) waited(t time.Time) time.Duration {
	if r.queued.IsZero() {
		return 0
	}
	return t.Sub(r.queued)
}

// callback records a caller's request to be called back at number.
func (r *callRecord) callback(number string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.callbackRequested = true
	r.publish("callback", map[string]any{"queue": r.queue})
	if !r.stored() {
		return
	}
	r.write(func(ctx context.Context) error {
		_, err := r.st.AddCallback(ctx, r.id, store.Callback{Number: number, Note: "asked for in queue " + r.queue})
		return err
	})
}

// recording records an audio file of the call.
func (r *callRecord) recording(path, kind string, started time.Time) {
	if !r.stored() {
		return
	}
	r.write(func(ctx context.Context) error {
		_, err := r.st.AddRecording(ctx, r.id, store.Recording{Path: path, Kind: kind, StartedAt: started})
		return err
	})
}

// crisis records a guardrail's alert that the caller may be at risk.
func (r *callRecord) crisis(c dialog.Crisis) {
	r.m.CrisisEscalation()
	r.publish("alert", map[string]any{"category": "self_harm", "phrase": c.Phrase, "at_ms": c.At.Milliseconds()})
	if !r.stored() {
		return
	}
	r.write(func(ctx context.Context) error {
		_, err := r.st.AddCrisisAlert(ctx, r.id, store.CrisisAlert{At: r.started.Add(c.At), Category: "self_harm",
			Excerpt: c.Phrase, Action: "safe message, transferred to the crisis queue"})
		return err
	})
}

// end closes the record: how the call ended, and by whose hand. The leg
// tells who hung up: when it has ended before the call flow returned, the
// caller did (or their line went silent).
func (r *callRecord) end(flowErr error, leg media.Leg, messagePath string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	side := store.SideHotline
	select {
	case <-leg.Done():
		side = store.SideCaller
	default:
		// After a conversation with an agent the call flow returns only
		// when one side hung up: the caller's line still up, the agent did.
		if r.agent != "" {
			side = store.SideAgent
		}
	}
	disposition := store.DispositionCompleted
	_, statErr := os.Stat(messagePath)
	switch {
	case flowErr != nil:
		disposition = store.DispositionFailed
	case r.agent != "":
	case r.callbackRequested:
		disposition = store.DispositionCallback
	case statErr == nil:
		disposition = store.DispositionMessage
	case !r.queued.IsZero():
		disposition = store.DispositionAbandoned
	}
	ce := store.CallEnd{Disposition: disposition, HangupSide: side, Queue: r.queue, Agent: r.agent}
	if r.agent != "" {
		ce.Wait, ce.Talk = r.waited(r.connected), now.Sub(r.connected)
	} else if !r.queued.IsZero() {
		ce.Wait = r.waited(now)
		r.m.QueueWait(r.queue, ce.Wait)
	}
	r.m.CallEnded(disposition)
	r.publish("call.ended", map[string]any{"disposition": disposition, "side": side, "agent": r.agent})
	r.tr.close(r.log)
	if !r.stored() {
		return
	}
	if disposition == store.DispositionMessage {
		r.recording(messagePath, store.RecordingMessage, time.Time{})
	}
	ce.HangupCause = "hung up"
	if flowErr != nil {
		ce.HangupCause = flowErr.Error()
	}
	r.write(func(ctx context.Context) error {
		return r.st.CallEnded(ctx, r.id, ce)
	})
}

// transcript is a call's record of turns, one JSON object a line, written
// as each turn ends so a crash loses at most the turn in progress. A nil
// transcript (one that could not be opened) keeps nothing.
type transcript struct {
	path string
	f    *os.File
	enc  *json.Encoder
	err  error
}

func newTranscript(path string) (*transcript, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &transcript{path: path, f: f, enc: json.NewEncoder(f)}, nil
}

func (tr *transcript) add(t ivr.Turn) {
	if tr == nil || tr.err != nil {
		return
	}
	tr.err = tr.enc.Encode(turnEvent(t))
}

// turnLine is a turn as the transcript file spells it.
type turnLine struct {
	AtMS        int64   `json:"at_ms"`
	Speaker     string  `json:"speaker"`
	Text        string  `json:"text"`
	Prompt      string  `json:"prompt,omitempty"`
	Key         string  `json:"key,omitempty"`
	DurationMS  int64   `json:"duration_ms"`
	LatencyMS   int64   `json:"latency_ms,omitempty"`
	ResponseMS  int64   `json:"response_ms,omitempty"`
	Provider    string  `json:"provider,omitempty"`
	Confidence  float64 `json:"confidence,omitempty"`
	Interrupted bool    `json:"interrupted,omitempty"`
	Intent      string  `json:"intent,omitempty"`
	// Emotion is the caller's emotion cue for the turn: the call's
	// emotion timeline, one point a spoken turn.
	Emotion  *prosody.Point    `json:"emotion,omitempty"`
	Transfer *ivr.TransferTurn `json:"transfer,omitempty"`
	// Cite is the knowledge article Hotline's answer came from.
	Cite *dialog.Citation `json:"cite,omitempty"`
}

// turnEvent is a turn as the live stream shows it: what the transcript
// file holds.
func turnEvent(t ivr.Turn) turnLine {
	return turnLine{AtMS: t.At.Milliseconds(), Speaker: t.Speaker, Text: t.Text, Prompt: t.Prompt, Key: t.Key,
		DurationMS: t.Duration.Milliseconds(), LatencyMS: t.Latency.Milliseconds(), ResponseMS: t.Response.Milliseconds(), Provider: t.Provider,
		Confidence: t.Confidence, Interrupted: t.Interrupted, Intent: t.Intent, Emotion: emotionPoint(t.Emotion), Transfer: t.Transfer, Cite: t.Cite}
}

func emotionPoint(c *prosody.Cue) *prosody.Point {
	if c == nil {
		return nil
	}
	p := c.Point()
	return &p
}

func (tr *transcript) close(log *slog.Logger) {
	if tr == nil {
		return
	}
	if err := errors.Join(tr.err, tr.f.Close()); err != nil {
		log.Warn("transcript incomplete", "path", tr.path, "err", err)
	}
}

// handoff is the agent's screen pop in one event: who calls, why they were
// handed over, the dialog's summary, their emotion timeline and what was
// said (redacted on its way out). r.mu is held.
func (r *callRecord) handoff() map[string]any {
	var timeline []*prosody.Point
	for _, t := range r.said {
		if t.Emotion != nil {
			timeline = append(timeline, t.Emotion)
		}
	}
	p := r.caller
	return map[string]any{"number": p.Number, "name": p.Name, "tier": p.Tier, "advisor": p.Advisor,
		"queue": r.handover.Queue, "reason": r.handover.Reason, "summary": r.handover.Summary,
		"emotion": timeline, "transcript": r.said}
}
