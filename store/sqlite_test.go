package store

import (
	"context"
	"errors"
	"os"
	"testing"
)

// The SQLite connection settings are in force on every connection: WAL,
// durable commits, foreign keys, a busy timeout; the file is private.
func TestSQLiteSettings(t *testing.T) {
	cfg := sqliteDB(t)
	s := open(t, cfg)
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"}
	// Several connections at once: each must have them.
	conns := make([]interface{ Close() error }, 0, 3)
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for p, v := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil || got != v {
				t.Errorf("PRAGMA %s = %q (%v), want %q", p, got, err, v)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	fi, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
}

// A writer waiting for its turn stops waiting when its context ends.
func TestSQLiteWriteWaitCancelled(t *testing.T) {
	s := open(t, sqliteDB(t))
	id := startCall(t, s, CallStart{})
	unlock, err := s.lockWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddTurn(c, id, Turn{Speaker: SpeakerCaller}); !errors.Is(err, context.Canceled) {
		t.Errorf("AddTurn while another write holds the lock, context cancelled: %v", err)
	}
	unlock()
	if _, err := s.AddTurn(ctx, id, Turn{Speaker: SpeakerCaller}); err != nil {
		t.Errorf("AddTurn after: %v", err)
	}
}
