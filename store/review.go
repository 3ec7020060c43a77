package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-cc/hotline/redact"
)

// Verdicts of a supervisor's mark on one of Hotline's answers.
const (
	VerdictGood  = "good"
	VerdictWrong = "wrong"
)

// Values of CallFilter.Transferred.
const (
	TransferredYes = "yes"
	TransferredNo  = "no"
)

// Limits of review input.
const (
	// MaxPhrase is the longest example phrase, in characters: a caller's
	// sentence, not a paragraph.
	MaxPhrase = 200
	// MaxCorrection is the longest correction of an answer, in bytes.
	MaxCorrection = 4 << 10
	// MaxFigureDays is the longest range of DailyFigures.
	MaxFigureDays = 366
)

// Mark is a supervisor's verdict on one of Hotline's answers.
type Mark struct {
	Call int64
	// Seq is the answer's turn; it must be Hotline's.
	Seq int
	// Verdict is VerdictGood or VerdictWrong.
	Verdict string
	// Correction is what Hotline should have said; redacted by the store.
	Correction string
	// By is who marked it; At when (zero: now).
	By string
	At time.Time
}

const markColumns = `call, seq, verdict, correction, marked_by, marked_at`

func scanMark(r rowScanner) (Mark, error) {
	var m Mark
	var at nullTime
	err := r.Scan(&m.Call, &m.Seq, &m.Verdict, &m.Correction, &m.By, &at)
	m.At = at.T
	return m, err
}

// MarkAnswer records a supervisor's verdict on Hotline's answer, replacing
// an earlier mark of the same answer, and returns the mark as stored. A
// turn that is not Hotline's is ErrInvalid; a missing one ErrNotFound.
func (s *Store) MarkAnswer(ctx context.Context, m Mark) (Mark, error) {
	if err := checkID("call", m.Call); err != nil {
		return Mark{}, fmt.Errorf("store: mark answer: %w", err)
	}
	var bad []string
	if m.Seq <= 0 {
		bad = append(bad, fmt.Sprintf("turn %d: want a positive turn number", m.Seq))
	}
	if m.Verdict != VerdictGood && m.Verdict != VerdictWrong {
		bad = append(bad, fmt.Sprintf("verdict %q: want good or wrong", clip(m.Verdict, 64)))
	}
	if len(m.Correction) > MaxCorrection || !utf8.ValidString(m.Correction) || strings.IndexByte(m.Correction, 0) >= 0 {
		bad = append(bad, fmt.Sprintf("correction: want text of at most %d bytes", MaxCorrection))
	}
	if m.By == "" {
		bad = append(bad, "marked by nobody")
	}
	if len(bad) > 0 {
		return Mark{}, fmt.Errorf("store: call %d mark answer: %s: %w", m.Call, strings.Join(bad, "; "), ErrInvalid)
	}
	m.Correction = redact.Redact(strings.TrimSpace(m.Correction))
	m.By = clip(m.By, maxField)
	m.At = orNow(m.At)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var speaker string
		err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT speaker FROM turns WHERE call = ? AND seq = ?`), m.Call, m.Seq).Scan(&speaker)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if speaker != SpeakerHotline {
			return fmt.Errorf("turn %d is the %s's, not an answer of Hotline's: %w", m.Seq, speaker, ErrInvalid)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO answer_marks (`+markColumns+`) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (call, seq) DO UPDATE SET verdict = excluded.verdict, correction = excluded.correction,
	marked_by = excluded.marked_by, marked_at = excluded.marked_at`),
			m.Call, m.Seq, m.Verdict, m.Correction, m.By, s.d.timeArg(m.At))
		return err
	})
	if err != nil {
		return Mark{}, fmt.Errorf("store: call %d mark answer %d: %w", m.Call, m.Seq, err)
	}
	return m, nil
}

// Example is an example phrase added to one of the flow's intents.
type Example struct {
	ID     int64 // set when stored
	Intent string
	// Lang is en or zh.
	Lang string
	// Phrase is what a caller says meaning the intent; redacted by the
	// store.
	Phrase string
	// Call and Seq, when set, are the answer the phrase corrects.
	Call int64
	Seq  int
	// AddedBy is who added it; AddedAt when (zero: now).
	AddedBy string
	AddedAt time.Time
}

// CheckPhrase checks an example phrase: one line of at most MaxPhrase
// characters with a letter in it.
func CheckPhrase(p string) error {
	switch {
	case !utf8.ValidString(p) || strings.IndexFunc(p, unicode.IsControl) >= 0:
		return fmt.Errorf("phrase: want one line of text: %w", ErrInvalid)
	case utf8.RuneCountInString(p) > MaxPhrase:
		return fmt.Errorf("phrase: want at most %d characters: %w", MaxPhrase, ErrInvalid)
	case strings.IndexFunc(p, unicode.IsLetter) < 0:
		return fmt.Errorf("phrase: want words a caller says: %w", ErrInvalid)
	}
	return nil
}

// AddExample stores an example phrase for an intent and returns it as
// stored. Adding a phrase the intent already has returns the one stored.
func (s *Store) AddExample(ctx context.Context, e Example) (Example, error) {
	e.Phrase = strings.Join(strings.Fields(e.Phrase), " ")
	var bad []string
	if !validLabel(e.Intent) {
		bad = append(bad, fmt.Sprintf("intent %q: want a name (letters, digits, _ + -)", clip(e.Intent, 64)))
	}
	if e.Lang != "en" && e.Lang != "zh" {
		bad = append(bad, fmt.Sprintf("language %q: want en or zh", clip(e.Lang, 16)))
	}
	if err := CheckPhrase(e.Phrase); err != nil {
		bad = append(bad, strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error()))
	}
	if e.Call < 0 || e.Seq < 0 || (e.Call == 0) != (e.Seq == 0) {
		bad = append(bad, "call and turn: want both positive, or neither")
	}
	if e.AddedBy == "" {
		bad = append(bad, "added by nobody")
	}
	if len(bad) > 0 {
		return Example{}, fmt.Errorf("store: add example: %s: %w", strings.Join(bad, "; "), ErrInvalid)
	}
	e.Phrase = redact.Redact(e.Phrase)
	e.AddedBy = clip(e.AddedBy, maxField)
	e.AddedAt = orNow(e.AddedAt)
	var call, seq any
	if e.Call > 0 {
		call, seq = e.Call, e.Seq
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var c sql.NullInt64
		var q sql.NullInt64
		var at nullTime
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO intent_examples (intent, lang, phrase, call, seq, added_by, added_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (intent, lang, phrase) DO UPDATE SET intent = excluded.intent
RETURNING id, call, seq, added_by, added_at`),
			e.Intent, e.Lang, e.Phrase, call, seq, e.AddedBy, s.d.timeArg(e.AddedAt)).Scan(&e.ID, &c, &q, &e.AddedBy, &at)
		e.Call, e.Seq, e.AddedAt = c.Int64, int(q.Int64), at.T
		return err
	})
	if err != nil {
		return Example{}, fmt.Errorf("store: add example: %w", notFoundOnFK(err))
	}
	return e, nil
}

// Examples lists the added example phrases, oldest first: what the rule
// brain loads at start.
func (s *Store) Examples(ctx context.Context) ([]Example, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, intent, lang, phrase, call, seq, added_by, added_at FROM intent_examples ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: examples: %w", err)
	}
	var out []Example
	err = eachRow(rows, func() error {
		var e Example
		var c, q sql.NullInt64
		var at nullTime
		err := rows.Scan(&e.ID, &e.Intent, &e.Lang, &e.Phrase, &c, &q, &e.AddedBy, &at)
		e.Call, e.Seq, e.AddedAt = c.Int64, int(q.Int64), at.T
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: examples: %w", err)
	}
	return out, nil
}

// DayFigures are the figures of the calls that started on one day (UTC):
// their transfers, alerts and marks count on that day too.
type DayFigures struct {
	// Day is the day's midnight, UTC.
	Day time.Time
	// Calls is how many answered calls ended; Contained how many of them
	// Hotline finished without a person (completed, never transferred).
	Calls, Contained int
	// Transfers counts the hand-overs to a queue or outside by reason.
	Transfers map[string]int
	// HandleTime is the average time from answer to end of the Calls.
	HandleTime time.Duration
	// Crisis is how many crisis alerts were raised.
	Crisis int
	// MarkedWrong is how many of Hotline's answers were marked wrong.
	MarkedWrong int
}

// day is the SQL of the day (since the Unix epoch, UTC) a time column
// falls on.
func (d dialect) day(col string) string {
	if d.name == Postgres {
		return "CAST(floor(extract(epoch from " + col + ") / 86400) AS BIGINT)"
	}
	return "(" + col + " / 86400000000)"
}

// millis is the SQL of the milliseconds from one time column to another.
func (d dialect) millis(from, to string) string {
	if d.name == Postgres {
		return "(extract(epoch from (" + to + " - " + from + ")) * 1000)"
	}
	return "((" + to + " - " + from + ") / 1000)"
}

// DailyFigures gives each day's figures from since to until (both
// midnights UTC, until excluded), every day of the range included, at
// most MaxFigureDays days.
func (s *Store) DailyFigures(ctx context.Context, since, until time.Time) ([]DayFigures, error) {
	since, until = since.UTC(), until.UTC()
	midnight := func(t time.Time) bool { return !t.IsZero() && t.Equal(t.Truncate(24*time.Hour)) }
	if !midnight(since) || !midnight(until) {
		return nil, fmt.Errorf("store: daily figures: since and until must be midnights UTC: %w", ErrInvalid)
	}
	n := int(until.Sub(since) / (24 * time.Hour))
	if n < 1 || n > MaxFigureDays {
		return nil, fmt.Errorf("store: daily figures: %d days: want 1 to %d: %w", n, MaxFigureDays, ErrInvalid)
	}
	days := make([]DayFigures, n)
	for i := range days {
		days[i] = DayFigures{Day: since.AddDate(0, 0, i), Transfers: map[string]int{}}
	}
	first := since.Unix() / 86400
	at := func(day int64) *DayFigures {
		if i := day - first; i >= 0 && i < int64(n) {
			return &days[i]
		}
		return nil
	}
	lo, hi := s.d.timeArg(since), s.d.timeArg(until)
	run := func(what, q string, scan func(*sql.Rows) error) error {
		rows, err := s.db.QueryContext(ctx, s.d.rebind(q), lo, hi)
		if err != nil {
			return fmt.Errorf("store: daily figures: %s: %w", what, err)
		}
		if err := eachRow(rows, func() error { return scan(rows) }); err != nil {
			return fmt.Errorf("store: daily figures: %s: %w", what, err)
		}
		return nil
	}
	err := run("calls", `SELECT `+s.d.day("started_at")+` AS d, COUNT(*),
	SUM(CASE WHEN disposition = 'completed' AND agent = '' AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.call = calls.id) THEN 1 ELSE 0 END),
	CAST(SUM(`+s.d.millis("answered_at", "ended_at")+`) AS BIGINT)
FROM calls WHERE started_at >= ? AND started_at < ? AND ended_at IS NOT NULL AND answered_at IS NOT NULL GROUP BY d`,
		func(r *sql.Rows) error {
			var day, handle int64
			var calls, contained int
			if err := r.Scan(&day, &calls, &contained, &handle); err != nil {
				return err
			}
			if f := at(day); f != nil && calls > 0 {
				f.Calls, f.Contained = calls, contained
				f.HandleTime = time.Duration(handle/int64(calls)) * time.Millisecond
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	// A transfer's row with an agent is that agent answering: the
	// hand-over itself is the row without one.
	err = run("transfers", `SELECT `+s.d.day("c.started_at")+` AS d, x.reason, COUNT(*) FROM transfers x JOIN calls c ON c.id = x.call
WHERE c.started_at >= ? AND c.started_at < ? AND x.agent = '' GROUP BY d, x.reason`, func(r *sql.Rows) error {
		var day int64
		var reason string
		var count int
		if err := r.Scan(&day, &reason, &count); err != nil {
			return err
		}
		if f := at(day); f != nil {
			f.Transfers[reason] += count
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// perDay scans rows of a day and a count into the day's figures.
	perDay := func(set func(f *DayFigures, count int)) func(*sql.Rows) error {
		return func(r *sql.Rows) error {
			var day int64
			var count int
			if err := r.Scan(&day, &count); err != nil {
				return err
			}
			if f := at(day); f != nil {
				set(f, count)
			}
			return nil
		}
	}
	err = run("crisis alerts", `SELECT `+s.d.day("c.started_at")+` AS d, COUNT(*) FROM crisis_alerts a JOIN calls c ON c.id = a.call
WHERE c.started_at >= ? AND c.started_at < ? GROUP BY d`, perDay(func(f *DayFigures, n int) { f.Crisis = n }))
	if err != nil {
		return nil, err
	}
	err = run("marks", `SELECT `+s.d.day("c.started_at")+` AS d, COUNT(*) FROM answer_marks m JOIN calls c ON c.id = m.call
WHERE c.started_at >= ? AND c.started_at < ? AND m.verdict = 'wrong' GROUP BY d`, perDay(func(f *DayFigures, n int) { f.MarkedWrong = n }))
	if err != nil {
		return nil, err
	}
	return days, nil
}
