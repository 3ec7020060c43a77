package campaign

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// Export writes a campaign's results as CSV: one line per attempt, and
// one per contact never called (on the do-not-call list, or not reached
// yet) with its status.
func (d *Dialer) Export(ctx context.Context, id int64, w io.Writer) error {
	if _, err := d.st.Campaign(ctx, id); err != nil {
		return err
	}
	cs, err := d.st.Contacts(ctx, id)
	if err != nil {
		return err
	}
	as, err := d.st.Attempts(ctx, id)
	if err != nil {
		return err
	}
	byContact := map[int64][]store.Attempt{}
	for _, a := range as {
		byContact[a.Contact] = append(byContact[a.Contact], a)
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"number", "name", "status", "attempt", "started_at", "ended_at", "outcome", "sip_code", "call_id", "detail"})
	for _, c := range cs {
		row := func(a store.Attempt) []string {
			var seq, started, ended, code string
			if a.Seq > 0 {
				seq, code = strconv.Itoa(a.Seq), strconv.Itoa(a.SIPCode)
				started, ended = a.StartedAt.UTC().Format(time.RFC3339), a.EndedAt.UTC().Format(time.RFC3339)
			}
			return []string{cell(c.Number), cell(c.Name), c.Status, seq, started, ended, a.Outcome, code, cell(a.CallID), cell(a.Detail)}
		}
		if len(byContact[c.ID]) == 0 {
			cw.Write(row(store.Attempt{}))
			continue
		}
		for _, a := range byContact[c.ID] {
			cw.Write(row(a))
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a value a spreadsheet would run as a formula inert; a number
// such as +4930123456 stays as it is.
func cell(v string) string {
	if v == "" {
		return v
	}
	if _, err := NormalizeNumber(v); err == nil {
		return v
	}
	if strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// AddDNC puts a number on the do-not-call list.
func (d *Dialer) AddDNC(ctx context.Context, number, reason string) (string, error) {
	n, err := NormalizeNumber(number)
	if err != nil {
		return "", err
	}
	if err := checkValue("reason", reason); err != nil {
		return "", errorsInvalid(err)
	}
	return n, d.st.AddDNC(ctx, n, reason, d.clock.Now())
}

// RemoveDNC takes a number off the do-not-call list.
func (d *Dialer) RemoveDNC(ctx context.Context, number string) error {
	n, err := NormalizeNumber(number)
	if err != nil {
		return err
	}
	return d.st.RemoveDNC(ctx, n)
}

// DNC lists the do-not-call list.
func (d *Dialer) DNC(ctx context.Context) ([]store.DNCEntry, error) { return d.st.DNC(ctx) }
