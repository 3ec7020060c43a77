// Package store keeps the durable records of calls: the call detail record,
// the redacted turns of the conversation with their emotion cues, transfers,
// recordings, callback requests and crisis alerts.
//
// Records are written as events happen, each in its own committed
// transaction, not at hang-up: when the process dies, everything already
// said is on disk, and at the next start CloseInterrupted closes the calls
// it left open.
//
// SQLite (modernc.org/sqlite, pure Go, WAL) is the embedded default;
// PostgreSQL (pgx) serves several nodes sharing their records. Both get
// their schema from the migrations embedded in the binary, applied in order
// when the store opens.
//
// The operator's side reads them back: ListCalls pages through calls by
// time, number, disposition and emotion (keyset cursors, newest first),
// Call gives one call with its turns, emotion timeline, transfers,
// recordings, callbacks and alerts, and Callbacks and CrisisAlerts list
// those. Every argument is checked: a bad one is an error wrapping
// ErrInvalid, an unknown id ErrNotFound.
//
// Turn text, transfer reasons and summaries, callback notes and alert
// excerpts pass through redact.Redact before they are written.
//
// Retention (Config.Retention) is applied by Purge, or by RunPurge on a
// schedule: old transcripts are deleted, old recordings deleted from disk
// and from the database; call detail records are kept.
//
// Every method is safe for concurrent use. The store starts no goroutines:
// RunPurge runs in the caller's.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Errors callers can test for with errors.Is.
var (
	// ErrInvalid wraps every rejected argument: a bad filter, an unknown
	// speaker or disposition, a malformed cursor. An HTTP API answers 400.
	ErrInvalid = errors.New("invalid argument")
	// ErrNotFound: no call (or callback, or alert) with that id.
	ErrNotFound = errors.New("not found")
	// ErrEnded: the call was already ended.
	ErrEnded = errors.New("call already ended")
)

// Store is an open database of call records.
type Store struct {
	db  *sql.DB
	d   dialect
	cfg Config
	// wsem serializes this process's writes on SQLite, where only one
	// writer can hold the database: waiting here is cheaper and fairer than
	// SQLite's busy back-off, and a waiter whose context ends stops
	// waiting. Nil on PostgreSQL.
	wsem chan struct{}
}

// Open opens (creating if need be) the database cfg names and brings its
// schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store: %w: %w", err, ErrInvalid)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultConfig().MaxConns
	}
	var (
		db  *sql.DB
		err error
		s   = &Store{cfg: cfg}
	)
	switch cfg.Driver {
	case SQLite:
		s.d = sqliteDialect
		s.wsem = make(chan struct{}, 1)
		db, err = openSQLite(cfg.Path)
	case Postgres:
		s.d = postgresDialect
		dsn := cfg.DSN
		if dsn == "" {
			dsn = os.Getenv(cfg.DSNEnv)
			if dsn == "" {
				return nil, fmt.Errorf("store: postgres: environment variable %s (store.dsn_env) is empty: %w", cfg.DSNEnv, ErrInvalid)
			}
		}
		db, err = sql.Open("pgx", dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Driver, err)
	}
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.db = db
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", cfg.Driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

func openSQLite(path string) (*sql.DB, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
	}
	// Created here so that it is private: SQLite gives the -wal and -shm
	// files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	// synchronous=FULL: a commit is on disk, not only in the OS cache, when
	// AddTurn returns, so not even a power cut loses a turn.
	// _txlock=immediate: a transaction takes the write lock when it begins,
	// so two writers wait for each other (busy_timeout) instead of failing
	// when a read turns into a write.
	dsn := path + "?_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=1&_synchronous=FULL&_txlock=immediate"
	return sql.Open("sqlite", dsn)
}

// Close closes the database. Calls still open stay open in it; the next
// start's CloseInterrupted closes them out.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Driver is the driver in use: sqlite or postgres.
func (s *Store) Driver() string { return s.cfg.Driver }

// Retention is the configured retention, for the caller's purge job.
func (s *Store) Retention() Retention { return s.cfg.Retention }

// lockWrite waits for this process's turn to write on SQLite; the returned
// function ends it. On PostgreSQL there is no wait.
func (s *Store) lockWrite(ctx context.Context) (func(), error) {
	if s.wsem == nil {
		return func() {}, nil
	}
	select {
	case s.wsem <- struct{}{}:
		return func() { <-s.wsem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write runs fn in a transaction, serialized with the process's other
// writes on SQLite.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	unlock, err := s.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec runs one statement on its own (auto-committed), serialized with the
// process's other writes on SQLite.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	unlock, err := s.lockWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.db.ExecContext(ctx, s.d.rebind(query), args...)
}

// dialect is what differs between SQLite and PostgreSQL beyond the
// migrations.
type dialect struct {
	name string
	// dollar: placeholders are $1, $2 (PostgreSQL) rather than ?.
	dollar bool
	// timeArg turns a time into the column's value: unix microseconds on
	// SQLite, a timestamptz on PostgreSQL. The zero time is NULL.
	timeArg func(time.Time) any
	// jsonArg turns JSON into the column's value: TEXT on SQLite, bytes for
	// jsonb on PostgreSQL. Empty is NULL.
	jsonArg func([]byte) any
	// strpos is the function giving the 1-based position of a substring,
	// 0 when absent: case-sensitive in both, with no pattern characters.
	strpos string
}

var sqliteDialect = dialect{
	name:   SQLite,
	strpos: "instr",
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UnixMicro()
	},
	jsonArg: func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		return string(b)
	},
}

var postgresDialect = dialect{
	name:   Postgres,
	dollar: true,
	strpos: "strpos",
	timeArg: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(time.Microsecond)
	},
	jsonArg: func(b []byte) any {
		if len(b) == 0 {
			return nil
		}
		return b
	},
}

// rebind rewrites ? placeholders as $n for PostgreSQL. The store's queries
// have no ? inside string literals.
func (d dialect) rebind(q string) string {
	if !d.dollar || strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// nullTime scans a time column of either dialect.
type nullTime struct {
	T     time.Time
	Valid bool
}

func (n *nullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.T, n.Valid = time.Time{}, false
	case int64:
		n.T, n.Valid = time.UnixMicro(v).UTC(), true
	case time.Time:
		n.T, n.Valid = v.UTC(), true
	default:
		return fmt.Errorf("store: scan time from %T", src)
	}
	return nil
}

// micro truncates t to what the database keeps, in UTC.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// now is the time used for events given without one.
func now() time.Time { return micro(time.Now()) }
