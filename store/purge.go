package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"
)

// purgeBatch is how many rows one purge transaction deletes: short
// transactions keep SQLite's single writer lock free for the calls.
const purgeBatch = 500

// PurgeResult is what a purge removed.
type PurgeResult struct {
	// Turns is the number of turns deleted.
	Turns int64
	// Texts is the number of transfer summaries, callback notes and crisis
	// alert excerpts blanked.
	Texts int64
	// Recordings are the recording files deleted (or found already gone),
	// whose rows are deleted too.
	Recordings []string
}

// Purge applies the retention at time now:
//
//   - transcripts older than Retention.Transcripts: the turns are deleted
//     (the call's turn count stays), and the text of transfers (reason and
//     summary), callback notes and crisis alert excerpts is blanked;
//   - recordings that began more than Retention.Recordings ago, on calls
//     that have ended: Purge deletes the file itself, then its row. A file
//     that cannot be deleted (other than already missing) keeps its row, is
//     reported in the error, and is tried again by the next purge, so no
//     file outlives its record. Relative paths are relative to the
//     process's working directory; with several nodes on one PostgreSQL
//     database, run the purge where the recordings are (shared storage):
//     a file missing from that node counts as deleted.
//
// Call detail records are kept. A zero retention keeps that kind forever.
// Purge works in short transactions and may be cancelled through ctx; what
// it purged before is reported with the error.
func (s *Store) Purge(ctx context.Context, now time.Time) (PurgeResult, error) {
	var res PurgeResult
	if now.IsZero() {
		return res, fmt.Errorf("store: purge: zero time: %w", ErrInvalid)
	}
	r := s.cfg.Retention
	var errs []error
	if r.Transcripts > 0 {
		if err := s.purgeTranscripts(ctx, micro(now.Add(-r.Transcripts)), &res); err != nil {
			errs = append(errs, err)
		}
	}
	if r.Recordings > 0 && ctx.Err() == nil {
		if err := s.purgeRecordings(ctx, micro(now.Add(-r.Recordings)), &res); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("store: purge: %w", err)
	}
	return res, nil
}

func (s *Store) purgeTranscripts(ctx context.Context, before time.Time, res *PurgeResult) error {
	cut := s.d.timeArg(before)
	for {
		r, err := s.exec(ctx, `DELETE FROM turns WHERE (call, seq) IN (SELECT call, seq FROM turns WHERE at < ? LIMIT ?)`, cut, purgeBatch)
		if err != nil {
			return fmt.Errorf("turns: %w", err)
		}
		n, _ := r.RowsAffected()
		res.Turns += n
		if n < purgeBatch {
			break
		}
	}
	for _, q := range []string{
		`UPDATE transfers SET reason = '', summary = '' WHERE id IN (SELECT id FROM transfers WHERE at < ? AND (reason <> '' OR summary <> '') LIMIT ?)`,
		`UPDATE callbacks SET note = '' WHERE id IN (SELECT id FROM callbacks WHERE requested_at < ? AND note <> '' LIMIT ?)`,
		`UPDATE crisis_alerts SET excerpt = '' WHERE id IN (SELECT id FROM crisis_alerts WHERE at < ? AND excerpt <> '' LIMIT ?)`,
	} {
		for {
			r, err := s.exec(ctx, q, cut, purgeBatch)
			if err != nil {
				return fmt.Errorf("texts: %w", err)
			}
			n, _ := r.RowsAffected()
			res.Texts += n
			if n < purgeBatch {
				break
			}
		}
	}
	return nil
}

func (s *Store) purgeRecordings(ctx context.Context, before time.Time, res *PurgeResult) error {
	var (
		after  int64 // keyset: past the files that could not be deleted
		failed []error
	)
	for {
		type rec struct {
			id   int64
			path string
		}
		var batch []rec
		rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT r.id, r.path FROM recordings r JOIN calls c ON c.id = r.call
WHERE r.started_at < ? AND c.ended_at IS NOT NULL AND r.id > ? ORDER BY r.id LIMIT ?`), s.d.timeArg(before), after, purgeBatch)
		if err != nil {
			return fmt.Errorf("recordings: %w", err)
		}
		err = eachRow(rows, func() error {
			var r rec
			batch = append(batch, r)
			return rows.Scan(&batch[len(batch)-1].id, &batch[len(batch)-1].path)
		})
		if err != nil {
			return fmt.Errorf("recordings: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].id
		var gone []int64
		var paths []string
		for _, r := range batch {
			if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				failed = append(failed, err)
				continue
			}
			gone = append(gone, r.id)
			paths = append(paths, r.path)
		}
		if len(gone) > 0 {
			ph := strings.TrimSuffix(strings.Repeat("?, ", len(gone)), ", ")
			args := make([]any, len(gone))
			for i, id := range gone {
				args[i] = id
			}
			if _, err := s.exec(ctx, `DELETE FROM recordings WHERE id IN (`+ph+`)`, args...); err != nil {
				return fmt.Errorf("recordings: %w", err)
			}
			res.Recordings = append(res.Recordings, paths...)
		}
		if len(batch) < purgeBatch {
			break
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d recording files could not be deleted, kept for the next purge: %w", len(failed), errors.Join(firstN(failed, 3)...))
	}
	return nil
}

func firstN(errs []error, n int) []error {
	if len(errs) > n {
		return append(errs[:n:n], fmt.Errorf("and %d more", len(errs)-n))
	}
	return errs
}

// RunPurge purges at once, then every interval, until ctx ends; then it
// returns nil. Run it in a goroutine the caller owns and waits for. It
// returns at once when the retention keeps everything. log may be nil.
func (s *Store) RunPurge(ctx context.Context, every time.Duration, log *slog.Logger) error {
	if every <= 0 {
		return fmt.Errorf("store: purge interval %v: want a positive duration: %w", every, ErrInvalid)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Retention == (Retention{}) {
		log.Info("store: retention keeps records forever; no purge")
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		res, err := s.Purge(ctx, start)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			log.Warn("store: purge", "err", err, "turns", res.Turns, "texts", res.Texts, "recordings", len(res.Recordings))
		} else if res.Turns > 0 || res.Texts > 0 || len(res.Recordings) > 0 {
			log.Info("store: purged", "turns", res.Turns, "texts", res.Texts, "recordings", len(res.Recordings),
				"took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
