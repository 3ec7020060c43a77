package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hotline-cc/hotline/redact"
)

// Channels a call comes in on.
const (
	ChannelTrunk   = "trunk"   // SIP: a trunk or an IP phone
	ChannelBrowser = "browser" // WebRTC: the caller page
)

// Speakers of a turn.
const (
	SpeakerCaller  = "caller"
	SpeakerHotline = "hotline"
	SpeakerAgent   = "agent"
)

// Dispositions: how a call ended. An open call has none ("").
const (
	DispositionCompleted   = "completed"   // served by Hotline or an agent, then hung up
	DispositionAbandoned   = "abandoned"   // the caller hung up before being served (ringing, in a queue)
	DispositionTransferred = "transferred" // handed to a number or system outside Hotline
	DispositionMessage     = "message"     // the caller left a message
	DispositionCallback    = "callback"    // the caller asked to be called back instead of waiting
	DispositionFailed      = "failed"      // Hotline could not serve the call (an error, no media)
	DispositionRejected    = "rejected"    // refused before answer (unknown trunk, shutting down)
	DispositionInterrupted = "interrupted" // open when its node stopped; closed at the next start
)

var dispositions = map[string]bool{
	DispositionCompleted: true, DispositionAbandoned: true, DispositionTransferred: true,
	DispositionMessage: true, DispositionCallback: true, DispositionFailed: true,
	DispositionRejected: true, DispositionInterrupted: true,
}

// Sides that hang up.
const (
	SideCaller  = "caller"
	SideHotline = "hotline"
	SideAgent   = "agent"
	SideSystem  = "system" // a timeout, a shutdown, a crash
)

// Recording kinds.
const (
	RecordingCall    = "call"    // the whole call, stereo
	RecordingMessage = "message" // a message the caller left
)

// Callback statuses.
const (
	CallbackPending   = "pending"
	CallbackDone      = "done"
	CallbackCancelled = "cancelled"
)

// Lengths past which text from outside (SIP headers, transcripts) is cut.
const (
	maxField = 256
	maxText  = 32 << 10
)

// CallStart is a new call, as the transport sees it.
type CallStart struct {
	// CallID is the SIP Call-ID or the browser session's id.
	CallID string
	// Node names the server node taking the call; CloseInterrupted closes
	// the calls of one node.
	Node     string
	From, To string
	// Channel is ChannelTrunk (the default) or ChannelBrowser.
	Channel string
	// Trunk is the SIP trunk's name.
	Trunk string
	// At is when the call arrived; zero means now.
	At time.Time
}

// CallEnd is how a call ended.
type CallEnd struct {
	// At is when it ended; zero means now.
	At time.Time
	// Disposition is one of the Disposition constants.
	Disposition string
	// HangupCause is free text or a SIP code and reason ("BYE", "487
	// Request Terminated", "rtp timeout").
	HangupCause string
	// HangupSide is one of the Side constants, or empty.
	HangupSide string
	// Queue and Agent, when not empty, replace what transfers recorded.
	Queue, Agent string
	// Wait is the time spent in a queue before an agent answered.
	Wait time.Duration
	// Talk is the time the caller was served; zero means from the answer
	// to the end.
	Talk time.Duration
}

// Turn is one thing said on a call.
type Turn struct {
	// Seq numbers the call's turns from 1; the store assigns it.
	Seq int
	// At is when the turn began; zero means now.
	At time.Time
	// Speaker is one of the Speaker constants.
	Speaker string
	// Text is what was said or recognized. The store redacts it again
	// (redact.Redact) whatever the caller did.
	Text string
	// Prompt names a recorded prompt Hotline played.
	Prompt string
	// Key is a DTMF key the caller pressed.
	Key string
	// Duration of the turn's audio; Latency from the end of the caller's
	// speech to the transcript, or from a synthesis request to its first
	// audio.
	Duration, Latency time.Duration
	// Provider is the engine that recognized or synthesized it.
	Provider string
	// Confidence of the transcript, 0..1; negative when the engine gives
	// none (stored as NULL, read back as -1).
	Confidence float64
	// Interrupted is set on a prompt the caller cut short.
	Interrupted bool
	// Emotion is the turn's emotion cue as JSON (from prosody), or empty.
	Emotion json.RawMessage
	// Article and ArticleVersion name the knowledge article, and its
	// version, Hotline's answer came from; empty and 0 for other turns.
	Article        string
	ArticleVersion int
	// Intent is, on Hotline's reply, the flow's intent it served (a
	// name: letters, digits, _ + -); empty when none.
	Intent string
}

// Transfer is a hand-over of the call: to a queue, an agent or outside.
type Transfer struct {
	ID, Call int64 // set when read
	// At is when it was asked for; zero means now.
	At           time.Time
	Queue, Agent string
	Target       string // a number or URI outside Hotline
	Reason       string
	Summary      string // for the agent; redacted by the store
}

// Recording is an audio file of a call.
type Recording struct {
	ID, Call int64 // set when read
	Path     string
	// Kind is RecordingCall or RecordingMessage.
	Kind string
	// StartedAt is when recording began; zero means now.
	StartedAt time.Time
	Duration  time.Duration
}

// Callback is a caller's request to be called back.
type Callback struct {
	ID, Call    int64 // set when read
	Number      string
	RequestedAt time.Time // zero means now
	DueAt       time.Time // zero: as soon as possible
	Note        string    // redacted by the store
	Status      string    // set when read
	DoneAt      time.Time // set when read
}

// CrisisAlert is a guardrail's finding that a caller may be in danger.
type CrisisAlert struct {
	ID, Call       int64 // set when read
	At             time.Time
	Category       string // self_harm, violence, medical, ...
	Excerpt        string // what was said, redacted by the store
	Action         string // what Hotline did
	AcknowledgedAt time.Time
	AcknowledgedBy string
}

// CallStarted records a new call and returns its id, which every later
// event of the call names.
func (s *Store) CallStarted(ctx context.Context, c CallStart) (int64, error) {
	if c.CallID == "" {
		return 0, fmt.Errorf("store: call started: empty call id: %w", ErrInvalid)
	}
	if c.Channel == "" {
		c.Channel = ChannelTrunk
	}
	if c.Channel != ChannelTrunk && c.Channel != ChannelBrowser {
		return 0, fmt.Errorf("store: call started: channel %q: want trunk or browser: %w", c.Channel, ErrInvalid)
	}
	at := orNow(c.At)
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO calls (call_id, node, from_number, to_number, channel, trunk, started_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			clip(c.CallID, maxField), clip(c.Node, maxField), clip(c.From, maxField), clip(c.To, maxField),
			c.Channel, clip(c.Trunk, maxField), s.d.timeArg(at)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: call started: %w", err)
	}
	return id, nil
}

// CallAnswered records when the call was answered.
func (s *Store) CallAnswered(ctx context.Context, call int64, at time.Time) error {
	if err := checkID("call", call); err != nil {
		return fmt.Errorf("store: call answered: %w", err)
	}
	res, err := s.exec(ctx, `UPDATE calls SET answered_at = ? WHERE id = ?`, s.d.timeArg(orNow(at)), call)
	if err != nil {
		return fmt.Errorf("store: call %d answered: %w", call, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: call %d answered: %w", call, ErrNotFound)
	}
	return nil
}

// CallEnded closes the call's record. A call ends once: ending it again is
// ErrEnded.
func (s *Store) CallEnded(ctx context.Context, call int64, e CallEnd) error {
	if err := checkID("call", call); err != nil {
		return fmt.Errorf("store: call ended: %w", err)
	}
	if !dispositions[e.Disposition] {
		return fmt.Errorf("store: call %d ended: disposition %q: %w", call, e.Disposition, ErrInvalid)
	}
	switch e.HangupSide {
	case "", SideCaller, SideHotline, SideAgent, SideSystem:
	default:
		return fmt.Errorf("store: call %d ended: hang-up side %q: want caller, hotline, agent or system: %w", call, e.HangupSide, ErrInvalid)
	}
	if e.Wait < 0 || e.Talk < 0 {
		return fmt.Errorf("store: call %d ended: negative wait or talk time: %w", call, ErrInvalid)
	}
	at := orNow(e.At)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var answered, ended nullTime
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT answered_at, ended_at FROM calls WHERE id = ?`+s.d.forUpdate()), call).
			Scan(&answered, &ended)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if ended.Valid {
			return ErrEnded
		}
		talk := e.Talk
		if talk == 0 && answered.Valid && at.After(answered.T) {
			talk = at.Sub(answered.T)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE calls SET ended_at = ?, disposition = ?, hangup_cause = ?, hangup_side = ?,
	queue = COALESCE(NULLIF(?, ''), queue), agent = COALESCE(NULLIF(?, ''), agent), wait_ms = ?, talk_ms = ?
WHERE id = ?`),
			s.d.timeArg(at), e.Disposition, clip(e.HangupCause, maxField), e.HangupSide,
			clip(e.Queue, maxField), clip(e.Agent, maxField), e.Wait.Milliseconds(), talk.Milliseconds(), call)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: call %d ended: %w", call, err)
	}
	return nil
}

// AddTurn records a turn of the call as soon as it ends and returns its
// sequence number. The text is redacted before it is written.
func (s *Store) AddTurn(ctx context.Context, call int64, t Turn) (int, error) {
	if err := checkID("call", call); err != nil {
		return 0, fmt.Errorf("store: turn: %w", err)
	}
	switch t.Speaker {
	case SpeakerCaller, SpeakerHotline, SpeakerAgent:
	default:
		return 0, fmt.Errorf("store: call %d turn: speaker %q: want caller, hotline or agent: %w", call, t.Speaker, ErrInvalid)
	}
	emotion, label, err := emotionCue(t.Emotion)
	if err != nil {
		return 0, fmt.Errorf("store: call %d turn: %w", call, err)
	}
	if t.Duration < 0 || t.Latency < 0 {
		return 0, fmt.Errorf("store: call %d turn: negative duration or latency: %w", call, ErrInvalid)
	}
	if t.ArticleVersion < 0 || (t.Article == "") != (t.ArticleVersion == 0) {
		return 0, fmt.Errorf("store: call %d turn: article %q version %d: want both or neither: %w", call, t.Article, t.ArticleVersion, ErrInvalid)
	}
	if t.Intent != "" && !validLabel(t.Intent) {
		return 0, fmt.Errorf("store: call %d turn: intent %q: want a name (letters, digits, _ + -): %w", call, clip(t.Intent, 64), ErrInvalid)
	}
	var conf any
	if t.Confidence >= 0 {
		conf = t.Confidence
	}
	args := []any{
		s.d.timeArg(orNow(t.At)), t.Speaker, clip(redact.Redact(t.Text), maxText), clip(t.Prompt, maxField),
		clip(t.Key, maxField), t.Duration.Milliseconds(), t.Latency.Milliseconds(), clip(t.Provider, maxField),
		conf, t.Interrupted, s.d.jsonArg(emotion), label, clip(t.Article, maxField), t.ArticleVersion, t.Intent,
	}
	var seq int
	if s.d.name == Postgres {
		// One statement, one round trip: the row lock the UPDATE takes
		// orders concurrent turns of one call.
		err = s.db.QueryRowContext(ctx, `WITH c AS (UPDATE calls SET turns = turns + 1 WHERE id = $1 RETURNING id, turns)
INSERT INTO turns (call, seq, at, speaker, text, prompt, dtmf, duration_ms, latency_ms, provider, confidence, interrupted, emotion, emotion_label, article, article_version, intent)
SELECT c.id, c.turns, $2::timestamptz, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::text,
	$10::double precision, $11::boolean, $12::jsonb, $13::text, $14::text, $15::integer, $16::text FROM c RETURNING seq`,
			append([]any{call}, args...)...).Scan(&seq)
	} else {
		err = s.write(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, `UPDATE calls SET turns = turns + 1 WHERE id = ? RETURNING turns`, call).Scan(&seq); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO turns (call, seq, at, speaker, text, prompt, dtmf, duration_ms, latency_ms, provider, confidence, interrupted, emotion, emotion_label, article, article_version, intent)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, append([]any{call, seq}, args...)...)
			return err
		})
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: call %d turn: %w", call, err)
	}
	return seq, nil
}

// AddTransfer records a hand-over; its queue and agent become the call's.
func (s *Store) AddTransfer(ctx context.Context, call int64, t Transfer) (int64, error) {
	if err := checkID("call", call); err != nil {
		return 0, fmt.Errorf("store: transfer: %w", err)
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO transfers (call, at, queue, agent, target, reason, summary)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			call, s.d.timeArg(orNow(t.At)), clip(t.Queue, maxField), clip(t.Agent, maxField), clip(t.Target, maxField),
			clip(redact.Redact(t.Reason), maxField), clip(redact.Redact(t.Summary), maxText)).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE calls SET queue = COALESCE(NULLIF(?, ''), queue), agent = COALESCE(NULLIF(?, ''), agent) WHERE id = ?`),
			clip(t.Queue, maxField), clip(t.Agent, maxField), call)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: call %d transfer: %w", call, notFoundOnFK(err))
	}
	return id, nil
}

// AddRecording records a recording's file. Call it when the recording
// starts, so that a crash leaves no file the store does not know of, and
// again with the same path when it stops: the second call sets the
// duration.
func (s *Store) AddRecording(ctx context.Context, call int64, r Recording) (int64, error) {
	if err := checkID("call", call); err != nil {
		return 0, fmt.Errorf("store: recording: %w", err)
	}
	if r.Path == "" || len(r.Path) > 4096 || strings.IndexByte(r.Path, 0) >= 0 || !utf8.ValidString(r.Path) {
		return 0, fmt.Errorf("store: call %d recording: path %q: want a file name: %w", call, clip(r.Path, 64), ErrInvalid)
	}
	if r.Kind != RecordingCall && r.Kind != RecordingMessage {
		return 0, fmt.Errorf("store: call %d recording: kind %q: want call or message: %w", call, r.Kind, ErrInvalid)
	}
	if r.Duration < 0 {
		return 0, fmt.Errorf("store: call %d recording: negative duration: %w", call, ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO recordings (call, path, kind, started_at, duration_ms) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (path) DO UPDATE SET duration_ms = excluded.duration_ms WHERE recordings.call = excluded.call RETURNING id`),
			call, r.Path, r.Kind, s.d.timeArg(orNow(r.StartedAt)), r.Duration.Milliseconds()).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// The path is another call's recording.
			return fmt.Errorf("path %q is another call's recording: %w", r.Path, ErrInvalid)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: call %d recording: %w", call, notFoundOnFK(err))
	}
	return id, nil
}

// AddCallback records a caller's request to be called back at number.
func (s *Store) AddCallback(ctx context.Context, call int64, c Callback) (int64, error) {
	if err := checkID("call", call); err != nil {
		return 0, fmt.Errorf("store: callback: %w", err)
	}
	if c.Number == "" {
		return 0, fmt.Errorf("store: call %d callback: empty number: %w", call, ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO callbacks (call, number, requested_at, due_at, note) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			call, clip(c.Number, maxField), s.d.timeArg(orNow(c.RequestedAt)), s.d.timeArg(micro(c.DueAt)),
			clip(redact.Redact(c.Note), maxText)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: call %d callback: %w", call, notFoundOnFK(err))
	}
	return id, nil
}

// SetCallbackStatus marks a callback request done or cancelled (or pending
// again) at the time given (zero: now).
func (s *Store) SetCallbackStatus(ctx context.Context, id int64, status string, at time.Time) error {
	if err := checkID("callback", id); err != nil {
		return fmt.Errorf("store: callback status: %w", err)
	}
	var done any
	switch status {
	case CallbackPending:
	case CallbackDone, CallbackCancelled:
		done = s.d.timeArg(orNow(at))
	default:
		return fmt.Errorf("store: callback %d: status %q: want pending, done or cancelled: %w", id, status, ErrInvalid)
	}
	res, err := s.exec(ctx, `UPDATE callbacks SET status = ?, done_at = ? WHERE id = ?`, status, done, id)
	if err != nil {
		return fmt.Errorf("store: callback %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: callback %d: %w", id, ErrNotFound)
	}
	return nil
}

// AddCrisisAlert records a crisis guardrail's alert on the call.
func (s *Store) AddCrisisAlert(ctx context.Context, call int64, a CrisisAlert) (int64, error) {
	if err := checkID("call", call); err != nil {
		return 0, fmt.Errorf("store: crisis alert: %w", err)
	}
	if a.Category == "" {
		return 0, fmt.Errorf("store: call %d crisis alert: empty category: %w", call, ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO crisis_alerts (call, at, category, excerpt, action) VALUES (?, ?, ?, ?, ?) RETURNING id`),
			call, s.d.timeArg(orNow(a.At)), clip(a.Category, maxField), clip(redact.Redact(a.Excerpt), maxText),
			clip(a.Action, maxField)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: call %d crisis alert: %w", call, notFoundOnFK(err))
	}
	return id, nil
}

// AcknowledgeCrisisAlert records who took charge of an alert, and when
// (zero: now).
func (s *Store) AcknowledgeCrisisAlert(ctx context.Context, id int64, by string, at time.Time) error {
	if err := checkID("crisis alert", id); err != nil {
		return fmt.Errorf("store: acknowledge crisis alert: %w", err)
	}
	if by == "" {
		return fmt.Errorf("store: crisis alert %d: acknowledged by nobody: %w", id, ErrInvalid)
	}
	res, err := s.exec(ctx, `UPDATE crisis_alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?`,
		s.d.timeArg(orNow(at)), clip(by, maxField), id)
	if err != nil {
		return fmt.Errorf("store: crisis alert %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: crisis alert %d: %w", id, ErrNotFound)
	}
	return nil
}

// CloseInterrupted closes out the calls node left open: run it at start-up,
// before the node takes calls, when the node's previous process may have
// died with calls in progress. Each becomes "interrupted", hung up by the
// system, ending when its last turn ended (or when it was answered or
// started). It returns the ids it closed. Node names must be unique among
// the nodes sharing a database.
func (s *Store) CloseInterrupted(ctx context.Context, node string) ([]int64, error) {
	var closed []int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		closed, err = s.closeInterrupted(ctx, tx, node)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: close interrupted calls of node %q: %w", node, err)
	}
	return closed, nil
}

// closeInterrupted is CloseInterrupted within tx.
func (s *Store) closeInterrupted(ctx context.Context, tx *sql.Tx, node string) ([]int64, error) {
	var closed []int64
	type open struct {
		id                int64
		started, answered nullTime
	}
	var calls []open
	rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT id, started_at, answered_at FROM calls WHERE node = ? AND ended_at IS NULL`+s.d.forUpdate()), node)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.started, &o.answered); err != nil {
			rows.Close()
			return nil, err
		}
		calls = append(calls, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range calls {
		end := c.started.T
		if c.answered.Valid && c.answered.T.After(end) {
			end = c.answered.T
		}
		var last nullTime
		var dur int64
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT at, duration_ms FROM turns WHERE call = ? ORDER BY seq DESC LIMIT 1`), c.id).Scan(&last, &dur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if last.Valid {
			if t := last.T.Add(time.Duration(dur) * time.Millisecond); t.After(end) {
				end = t
			}
		}
		var talk time.Duration
		if c.answered.Valid {
			talk = end.Sub(c.answered.T)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE calls SET ended_at = ?, disposition = ?, hangup_side = ?, hangup_cause = ?, talk_ms = ? WHERE id = ?`),
			s.d.timeArg(end), DispositionInterrupted, SideSystem, "node stopped during the call", talk.Milliseconds(), c.id); err != nil {
			return nil, err
		}
		closed = append(closed, c.id)
	}
	return closed, nil
}

// forUpdate locks the rows a read-then-write transaction selects; SQLite's
// immediate transactions hold the whole database already.
func (d dialect) forUpdate() string {
	if d.name == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// notFoundOnFK turns a foreign key violation (the call does not exist)
// into ErrNotFound.
func notFoundOnFK(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return ErrNotFound
	}
	return err
}

// checkID rejects an id no row can have.
func checkID(what string, id int64) error {
	if id <= 0 {
		return fmt.Errorf("%s id %d: want a positive id: %w", what, id, ErrInvalid)
	}
	return nil
}

// maxEmotion caps the size of a turn's emotion cue.
const maxEmotion = 64 << 10

// emotionCue checks a turn's emotion cue, a JSON object (or nothing: empty
// or null, returned as nil), and returns its "label" member, by which calls
// are filtered.
func emotionCue(cue json.RawMessage) (json.RawMessage, string, error) {
	if t := bytes.TrimSpace(cue); len(t) == 0 || string(t) == "null" {
		return nil, "", nil
	}
	label, err := emotionLabel(cue)
	return cue, label, err
}

func emotionLabel(cue json.RawMessage) (string, error) {
	if len(cue) > maxEmotion {
		return "", fmt.Errorf("emotion cue of %d bytes: at most %d: %w", len(cue), maxEmotion, ErrInvalid)
	}
	var c struct {
		Label any `json:"label"`
	}
	if err := json.Unmarshal(cue, &c); err != nil {
		return "", fmt.Errorf("emotion cue: want a JSON object: %v: %w", err, ErrInvalid)
	}
	switch l := c.Label.(type) {
	case nil:
		return "", nil
	case string:
		if l != "" && !validLabel(l) {
			return "", fmt.Errorf("emotion cue: label %q: %w", clip(l, 64), ErrInvalid)
		}
		return l, nil
	default:
		return "", fmt.Errorf("emotion cue: label is a %T, want a string: %w", l, ErrInvalid)
	}
}

// validLabel: an emotion label is a short word: letters, digits, _ + -.
func validLabel(l string) bool {
	if l == "" || len(l) > 64 {
		return false
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '+') {
			return false
		}
	}
	return true
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return micro(t)
}

// clip cuts s to at most n bytes on a rune boundary, and makes it text
// PostgreSQL accepts: valid UTF-8, no NUL.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
