package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Page sizes of the lists.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Call is a call detail record.
type Call struct {
	ID     int64
	CallID string // SIP Call-ID or browser session id
	Node   string
	From   string
	To     string
	// Channel is ChannelTrunk or ChannelBrowser.
	Channel string
	Trunk   string
	// StartedAt is when the call arrived; AnsweredAt is zero for a call
	// never answered, EndedAt for a call still open.
	StartedAt, AnsweredAt, EndedAt time.Time
	// Disposition is empty while the call is open.
	Disposition string
	HangupCause string
	HangupSide  string
	Queue       string
	Agent       string
	Wait, Talk  time.Duration
	// TurnCount is how many turns were written; the transcript retention
	// may have purged them since.
	TurnCount int
}

// Open reports whether the call has not ended.
func (c Call) Open() bool { return c.EndedAt.IsZero() }

// CallDetail is a call with everything recorded about it.
type CallDetail struct {
	Call
	// Turns in the order they were said (by Seq).
	Turns []Turn
	// Emotions is the emotion timeline: the turns that carry an emotion
	// cue, in order.
	Emotions     []EmotionPoint
	Transfers    []Transfer
	Recordings   []Recording
	Callbacks    []Callback
	CrisisAlerts []CrisisAlert
	// Marks are the supervisors' marks on Hotline's answers, by Seq.
	Marks []Mark
}

// EmotionPoint is one turn's emotion cue on the call's timeline.
type EmotionPoint struct {
	Seq     int
	At      time.Time
	Speaker string
	// Label is the cue's "label" member ("calm", "tense", ...), or empty.
	Label string
	// Cue is the cue as stored. PostgreSQL gives it back normalized (key
	// order, spacing), with the same meaning.
	Cue json.RawMessage
}

// CallFilter selects calls for ListCalls. The zero filter lists the newest
// DefaultLimit calls.
type CallFilter struct {
	// Since and Until bound the start of the call: Since <= start < Until.
	// Zero leaves that side open.
	Since, Until time.Time
	// Number, when set, must occur in the caller's or the called number
	// (a case-sensitive substring, no wildcards).
	Number string
	// Disposition, when set, is one of the Disposition constants.
	Disposition string
	// Emotion, when set, is an emotion label that at least one of the
	// call's turns carries ("angry", "tense", ...).
	Emotion string
	// Ended lists only the calls that have ended.
	Ended bool
	// Intent, when set, is an intent one of Hotline's replies served.
	Intent string
	// Transferred, when set, lists only the calls handed to a person
	// (TransferredYes) or only those that were not (TransferredNo).
	Transferred string
	// Crisis lists only the calls with a crisis alert.
	Crisis bool
	// BelowConfidence, when above 0, lists only the calls where a
	// caller's turn was recognized with a confidence below it (0..1).
	BelowConfidence float64
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// Cursor continues a listing: the Next of the previous page, with the
	// same filter.
	Cursor string
}

// CallPage is a page of calls, newest first.
type CallPage struct {
	Calls []Call
	// Next is the cursor of the next page; empty on the last.
	Next string
}

// CallbackFilter selects callback requests.
type CallbackFilter struct {
	// Status, when set, is one of the Callback statuses.
	Status string
	// Call, when set, is the call the requests were made on.
	Call   int64
	Limit  int
	Cursor string
}

// CallbackPage is a page of callback requests, oldest request first: the
// order to work through them.
type CallbackPage struct {
	Callbacks []Callback
	Next      string
}

// AlertFilter selects crisis alerts.
type AlertFilter struct {
	// Since <= alert time < Until; zero leaves that side open.
	Since, Until time.Time
	// Category, when set, is the alerts' category.
	Category string
	// Unacknowledged lists only the alerts nobody has taken charge of.
	Unacknowledged bool
	Limit          int
	Cursor         string
}

// AlertPage is a page of crisis alerts, newest first.
type AlertPage struct {
	Alerts []CrisisAlert
	Next   string
}

// A cursor is the sort key of the last row of a page (a time in unix
// microseconds and an id), tagged with the list it belongs to.
func encodeCursor(list string, t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s:%d:%d", list, t.UnixMicro(), id))
}

func decodeCursor(list, c string) (time.Time, int64, error) {
	bad := func() (time.Time, int64, error) {
		return time.Time{}, 0, fmt.Errorf("cursor %q: not a cursor of this list: %w", clip(c, 64), ErrInvalid)
	}
	if len(c) > 128 {
		return bad()
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return bad()
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != list {
		return bad()
	}
	us, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return bad()
	}
	return time.UnixMicro(us).UTC(), id, nil
}

func checkLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, fmt.Errorf("limit %d: want 1 to %d (0: %d): %w", n, MaxLimit, DefaultLimit, ErrInvalid)
	}
	return n, nil
}

func checkRange(since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return fmt.Errorf("until %s is not after since %s: %w", until.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano), ErrInvalid)
	}
	return nil
}

// checkText rejects filter text the columns cannot hold.
func checkText(what, v string) error {
	if len(v) > maxField || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		return fmt.Errorf("%s: want valid UTF-8 text of at most %d bytes: %w", what, maxField, ErrInvalid)
	}
	return nil
}

// where accumulates the conditions and arguments of a query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

const callColumns = `id, call_id, node, from_number, to_number, channel, trunk, started_at, answered_at, ended_at,
	disposition, hangup_cause, hangup_side, queue, agent, wait_ms, talk_ms, turns`

type rowScanner interface{ Scan(...any) error }

func scanCall(r rowScanner) (Call, error) {
	var (
		c                        Call
		started, answered, ended nullTime
		waitMS, talkMS           int64
	)
	err := r.Scan(&c.ID, &c.CallID, &c.Node, &c.From, &c.To, &c.Channel, &c.Trunk, &started, &answered, &ended,
		&c.Disposition, &c.HangupCause, &c.HangupSide, &c.Queue, &c.Agent, &waitMS, &talkMS, &c.TurnCount)
	c.StartedAt, c.AnsweredAt, c.EndedAt = started.T, answered.T, ended.T
	c.Wait, c.Talk = time.Duration(waitMS)*time.Millisecond, time.Duration(talkMS)*time.Millisecond
	return c, err
}

// ListCalls lists the calls f selects, newest first, a page at a time.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) (CallPage, error) {
	limit, err := s.checkCallFilter(f)
	if err != nil {
		return CallPage{}, fmt.Errorf("store: list calls: %w", err)
	}
	var w where
	if !f.Since.IsZero() {
		w.add("started_at >= ?", s.d.timeArg(micro(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add("started_at < ?", s.d.timeArg(micro(f.Until)))
	}
	if f.Number != "" {
		w.add("("+s.d.strpos+"(from_number, ?) > 0 OR "+s.d.strpos+"(to_number, ?) > 0)", f.Number, f.Number)
	}
	if f.Disposition != "" {
		w.add("disposition = ?", f.Disposition)
	}
	if f.Emotion != "" {
		w.add("EXISTS (SELECT 1 FROM turns t WHERE t.emotion_label = ? AND t.call = calls.id)", f.Emotion)
	}
	if f.Ended {
		w.add("ended_at IS NOT NULL")
	}
	if f.Intent != "" {
		w.add("EXISTS (SELECT 1 FROM turns t WHERE t.intent = ? AND t.call = calls.id)", f.Intent)
	}
	switch f.Transferred {
	case TransferredYes:
		w.add("EXISTS (SELECT 1 FROM transfers x WHERE x.call = calls.id)")
	case TransferredNo:
		w.add("NOT EXISTS (SELECT 1 FROM transfers x WHERE x.call = calls.id)")
	}
	if f.Crisis {
		w.add("EXISTS (SELECT 1 FROM crisis_alerts a WHERE a.call = calls.id)")
	}
	if f.BelowConfidence > 0 {
		w.add("EXISTS (SELECT 1 FROM turns t WHERE t.call = calls.id AND t.speaker = 'caller' AND t.confidence < ?)", f.BelowConfidence)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor("calls", f.Cursor)
		if err != nil {
			return CallPage{}, fmt.Errorf("store: list calls: %w", err)
		}
		w.add("(started_at < ? OR (started_at = ? AND id < ?))", s.d.timeArg(at), s.d.timeArg(at), id)
	}
	q := `SELECT ` + callColumns + ` FROM calls` + w.String() + ` ORDER BY started_at DESC, id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.d.rebind(q), append(w.args, limit+1)...)
	if err != nil {
		return CallPage{}, fmt.Errorf("store: list calls: %w", err)
	}
	var page CallPage
	err = eachRow(rows, func() error {
		c, err := scanCall(rows)
		page.Calls = append(page.Calls, c)
		return err
	})
	if err != nil {
		return CallPage{}, fmt.Errorf("store: list calls: %w", err)
	}
	if len(page.Calls) > limit {
		page.Calls = page.Calls[:limit]
		last := page.Calls[limit-1]
		page.Next = encodeCursor("calls", last.StartedAt, last.ID)
	}
	return page, nil
}

func (s *Store) checkCallFilter(f CallFilter) (int, error) {
	limit, err := checkLimit(f.Limit)
	if err != nil {
		return 0, err
	}
	if err := checkRange(f.Since, f.Until); err != nil {
		return 0, err
	}
	if err := checkText("number", f.Number); err != nil {
		return 0, err
	}
	if f.Disposition != "" && !dispositions[f.Disposition] {
		return 0, fmt.Errorf("disposition %q: %w", clip(f.Disposition, 64), ErrInvalid)
	}
	if f.Emotion != "" && !validLabel(f.Emotion) {
		return 0, fmt.Errorf("emotion label %q: want a word (letters, digits, _ + -): %w", clip(f.Emotion, 64), ErrInvalid)
	}
	if f.Intent != "" && !validLabel(f.Intent) {
		return 0, fmt.Errorf("intent %q: want a name (letters, digits, _ + -): %w", clip(f.Intent, 64), ErrInvalid)
	}
	switch f.Transferred {
	case "", TransferredYes, TransferredNo:
	default:
		return 0, fmt.Errorf("transferred %q: want yes or no: %w", clip(f.Transferred, 64), ErrInvalid)
	}
	if f.BelowConfidence < 0 || f.BelowConfidence > 1 || math.IsNaN(f.BelowConfidence) {
		return 0, fmt.Errorf("confidence %v: want 0 to 1: %w", f.BelowConfidence, ErrInvalid)
	}
	return limit, nil
}

// eachRow calls fn for each row and closes rows.
func eachRow(rows *sql.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Call returns the call with everything recorded about it, read at one
// moment (in one read-only transaction).
func (s *Store) Call(ctx context.Context, id int64) (CallDetail, error) {
	if err := checkID("call", id); err != nil {
		return CallDetail{}, fmt.Errorf("store: call: %w", err)
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.name == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return CallDetail{}, fmt.Errorf("store: call %d: %w", id, err)
	}
	defer tx.Rollback()
	d, err := s.callDetail(ctx, tx, id)
	if err != nil {
		return CallDetail{}, fmt.Errorf("store: call %d: %w", id, err)
	}
	return d, nil
}

func (s *Store) callDetail(ctx context.Context, tx *sql.Tx, id int64) (CallDetail, error) {
	var d CallDetail
	var err error
	d.Call, err = scanCall(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+callColumns+` FROM calls WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, err
	}
	query := func(q string, fn func(*sql.Rows) error) error {
		rows, err := tx.QueryContext(ctx, s.d.rebind(q), id)
		if err != nil {
			return err
		}
		return eachRow(rows, func() error { return fn(rows) })
	}
	err = query(`SELECT seq, at, speaker, text, prompt, dtmf, duration_ms, latency_ms, provider, confidence, interrupted, emotion, emotion_label,
	article, article_version, intent
FROM turns WHERE call = ? ORDER BY seq`, func(r *sql.Rows) error {
		var (
			t        Turn
			at       nullTime
			dur, lat int64
			conf     sql.NullFloat64
			emotion  []byte
			label    string
		)
		if err := r.Scan(&t.Seq, &at, &t.Speaker, &t.Text, &t.Prompt, &t.Key, &dur, &lat, &t.Provider, &conf, &t.Interrupted, &emotion, &label,
			&t.Article, &t.ArticleVersion, &t.Intent); err != nil {
			return err
		}
		t.At = at.T
		t.Duration, t.Latency = time.Duration(dur)*time.Millisecond, time.Duration(lat)*time.Millisecond
		t.Confidence = -1
		if conf.Valid {
			t.Confidence = conf.Float64
		}
		if len(emotion) > 0 {
			t.Emotion = json.RawMessage(emotion)
			d.Emotions = append(d.Emotions, EmotionPoint{Seq: t.Seq, At: t.At, Speaker: t.Speaker, Label: label, Cue: t.Emotion})
		}
		d.Turns = append(d.Turns, t)
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("turns: %w", err)
	}
	err = query(`SELECT id, call, at, queue, agent, target, reason, summary FROM transfers WHERE call = ? ORDER BY at, id`, func(r *sql.Rows) error {
		var t Transfer
		var at nullTime
		if err := r.Scan(&t.ID, &t.Call, &at, &t.Queue, &t.Agent, &t.Target, &t.Reason, &t.Summary); err != nil {
			return err
		}
		t.At = at.T
		d.Transfers = append(d.Transfers, t)
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("transfers: %w", err)
	}
	err = query(`SELECT id, call, path, kind, started_at, duration_ms FROM recordings WHERE call = ? ORDER BY started_at, id`, func(r *sql.Rows) error {
		var rec Recording
		var at nullTime
		var dur int64
		if err := r.Scan(&rec.ID, &rec.Call, &rec.Path, &rec.Kind, &at, &dur); err != nil {
			return err
		}
		rec.StartedAt, rec.Duration = at.T, time.Duration(dur)*time.Millisecond
		d.Recordings = append(d.Recordings, rec)
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("recordings: %w", err)
	}
	err = query(`SELECT `+callbackColumns+` FROM callbacks WHERE call = ? ORDER BY requested_at, id`, func(r *sql.Rows) error {
		c, err := scanCallback(r)
		d.Callbacks = append(d.Callbacks, c)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("callbacks: %w", err)
	}
	err = query(`SELECT `+alertColumns+` FROM crisis_alerts WHERE call = ? ORDER BY at, id`, func(r *sql.Rows) error {
		a, err := scanAlert(r)
		d.CrisisAlerts = append(d.CrisisAlerts, a)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("crisis alerts: %w", err)
	}
	err = query(`SELECT `+markColumns+` FROM answer_marks WHERE call = ? ORDER BY seq`, func(r *sql.Rows) error {
		m, err := scanMark(r)
		d.Marks = append(d.Marks, m)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("marks: %w", err)
	}
	return d, nil
}

const callbackColumns = `id, call, number, requested_at, due_at, note, status, done_at`

func scanCallback(r rowScanner) (Callback, error) {
	var c Callback
	var req, due, done nullTime
	err := r.Scan(&c.ID, &c.Call, &c.Number, &req, &due, &c.Note, &c.Status, &done)
	c.RequestedAt, c.DueAt, c.DoneAt = req.T, due.T, done.T
	return c, err
}

const alertColumns = `id, call, at, category, excerpt, action, acknowledged_at, acknowledged_by`

func scanAlert(r rowScanner) (CrisisAlert, error) {
	var a CrisisAlert
	var at, ack nullTime
	err := r.Scan(&a.ID, &a.Call, &at, &a.Category, &a.Excerpt, &a.Action, &ack, &a.AcknowledgedBy)
	a.At, a.AcknowledgedAt = at.T, ack.T
	return a, err
}

// Callbacks lists callback requests, oldest request first.
func (s *Store) Callbacks(ctx context.Context, f CallbackFilter) (CallbackPage, error) {
	limit, err := checkLimit(f.Limit)
	if err != nil {
		return CallbackPage{}, fmt.Errorf("store: callbacks: %w", err)
	}
	var w where
	switch f.Status {
	case "":
	case CallbackPending, CallbackDone, CallbackCancelled:
		w.add("status = ?", f.Status)
	default:
		return CallbackPage{}, fmt.Errorf("store: callbacks: status %q: want pending, done or cancelled: %w", clip(f.Status, 64), ErrInvalid)
	}
	if f.Call != 0 {
		if err := checkID("call", f.Call); err != nil {
			return CallbackPage{}, fmt.Errorf("store: callbacks: %w", err)
		}
		w.add("call = ?", f.Call)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor("callbacks", f.Cursor)
		if err != nil {
			return CallbackPage{}, fmt.Errorf("store: callbacks: %w", err)
		}
		w.add("(requested_at > ? OR (requested_at = ? AND id > ?))", s.d.timeArg(at), s.d.timeArg(at), id)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+callbackColumns+` FROM callbacks`+w.String()+
		` ORDER BY requested_at, id LIMIT ?`), append(w.args, limit+1)...)
	if err != nil {
		return CallbackPage{}, fmt.Errorf("store: callbacks: %w", err)
	}
	var page CallbackPage
	err = eachRow(rows, func() error {
		c, err := scanCallback(rows)
		page.Callbacks = append(page.Callbacks, c)
		return err
	})
	if err != nil {
		return CallbackPage{}, fmt.Errorf("store: callbacks: %w", err)
	}
	if len(page.Callbacks) > limit {
		page.Callbacks = page.Callbacks[:limit]
		last := page.Callbacks[limit-1]
		page.Next = encodeCursor("callbacks", last.RequestedAt, last.ID)
	}
	return page, nil
}

// CrisisAlerts lists crisis alerts, newest first.
func (s *Store) CrisisAlerts(ctx context.Context, f AlertFilter) (AlertPage, error) {
	limit, err := checkLimit(f.Limit)
	if err != nil {
		return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
	}
	if err := checkRange(f.Since, f.Until); err != nil {
		return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
	}
	if err := checkText("category", f.Category); err != nil {
		return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
	}
	var w where
	if !f.Since.IsZero() {
		w.add("at >= ?", s.d.timeArg(micro(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add("at < ?", s.d.timeArg(micro(f.Until)))
	}
	if f.Category != "" {
		w.add("category = ?", f.Category)
	}
	if f.Unacknowledged {
		w.add("acknowledged_at IS NULL")
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor("alerts", f.Cursor)
		if err != nil {
			return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
		}
		w.add("(at < ? OR (at = ? AND id < ?))", s.d.timeArg(at), s.d.timeArg(at), id)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+alertColumns+` FROM crisis_alerts`+w.String()+
		` ORDER BY at DESC, id DESC LIMIT ?`), append(w.args, limit+1)...)
	if err != nil {
		return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
	}
	var page AlertPage
	err = eachRow(rows, func() error {
		a, err := scanAlert(rows)
		page.Alerts = append(page.Alerts, a)
		return err
	})
	if err != nil {
		return AlertPage{}, fmt.Errorf("store: crisis alerts: %w", err)
	}
	if len(page.Alerts) > limit {
		page.Alerts = page.Alerts[:limit]
		last := page.Alerts[limit-1]
		page.Next = encodeCursor("alerts", last.At, last.ID)
	}
	return page, nil
}
