package store

import (
	"encoding/json"
	"testing"

	"github.com/hotline-cc/hotline/internal/pgtest"
)

// The cost of recording one turn: one committed transaction, durable (SQLite
// synchronous=FULL; PostgreSQL with fsync on).
func BenchmarkAddTurn(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchAddTurn(b, sqliteDB(b)) })
	b.Run("sqlite-parallel", func(b *testing.B) { benchAddTurnParallel(b, sqliteDB(b)) })
	srv := pgtest.StartWith(b, pgtest.Config{Durable: true})
	pg := func(b *testing.B) Config {
		c := DefaultConfig()
		c.Driver, c.DSN = Postgres, srv.NewDatabase(b)
		return c
	}
	b.Run("postgres", func(b *testing.B) { benchAddTurn(b, pg(b)) })
	b.Run("postgres-parallel", func(b *testing.B) { benchAddTurnParallel(b, pg(b)) })
}

var benchTurn = Turn{
	Speaker:    SpeakerCaller,
	Text:       "I was charged twice for last month and nobody has called me back about it",
	Duration:   3200e6,
	Latency:    420e6,
	Provider:   "pocketsphinx",
	Confidence: 0.71,
	Emotion: json.RawMessage(`{"turn":4,"arousal":0.68,"valence":-0.4,"label":"tense","voice_label":"tense","source":"voice+text",` +
		`"confidence":0.62,"baseline":true,"why":["pitch +2.1 st","louder +3 dB","words: charged twice"]}`),
}

func benchAddTurn(b *testing.B, cfg Config) {
	s := open(b, cfg)
	call := must(s.CallStarted(ctx, CallStart{CallID: "bench"}))(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.AddTurn(ctx, call, benchTurn); err != nil {
			b.Fatal(err)
		}
	}
}

// Many calls at once, each its own goroutine.
func benchAddTurnParallel(b *testing.B, cfg Config) {
	s := open(b, cfg)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		call, err := s.CallStarted(ctx, CallStart{CallID: "bench"})
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if _, err := s.AddTurn(ctx, call, benchTurn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
