package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Campaign states.
const (
	CampaignDraft     = "draft"     // created, contacts may be added, nobody is called
	CampaignRunning   = "running"   // the dialer calls its contacts
	CampaignPaused    = "paused"    // no new attempts; calls in progress finish
	CampaignStopped   = "stopped"   // ended by an operator
	CampaignCompleted = "completed" // every contact done
)

var campaignStates = map[string]bool{CampaignDraft: true, CampaignRunning: true, CampaignPaused: true,
	CampaignStopped: true, CampaignCompleted: true}

// Contact statuses.
const (
	ContactPending = "pending" // more attempts to come
	ContactDone    = "done"    // no more attempts
	ContactDNC     = "dnc"     // on the do-not-call list: never called
)

var contactStatuses = map[string]bool{ContactPending: true, ContactDone: true, ContactDNC: true}

// Campaign is an outbound campaign's record. Spec is its definition, which
// the campaign package reads and writes; the store keeps it as JSON.
type Campaign struct {
	ID        int64
	Name      string
	Spec      json.RawMessage
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Contact is one number of a campaign and where its calling stands.
type Contact struct {
	ID       int64
	Campaign int64
	// Line is the contact's line in the uploaded CSV; 0 when it came as
	// JSON.
	Line     int
	Number   string
	Name     string
	Language string
	TimeZone string
	// Fields are the free columns (product, due_date...), for the script.
	Fields map[string]string

	Status      string
	Attempts    int
	NextAt      time.Time // zero: at once
	LastOutcome string
}

// Attempt is one call placed to a contact.
type Attempt struct {
	ID       int64
	Campaign int64
	Contact  int64
	// Seq is the contact's attempt number, from 1.
	Seq       int
	StartedAt time.Time
	EndedAt   time.Time
	Outcome   string
	// SIPCode is the final failure response; 0 when answered.
	SIPCode int
	CallID  string
	Detail  string
	// Number is the contact's, filled in by Attempts.
	Number string
}

// DNCEntry is a number on the do-not-call list.
type DNCEntry struct {
	Number  string
	Reason  string
	AddedAt time.Time
}

// CreateCampaign records a new campaign in state draft and returns its id.
func (s *Store) CreateCampaign(ctx context.Context, name string, spec json.RawMessage) (int64, error) {
	if name == "" || len(name) > maxField {
		return 0, fmt.Errorf("store: create campaign: name must be 1 to %d characters: %w", maxField, ErrInvalid)
	}
	if !json.Valid(spec) {
		return 0, fmt.Errorf("store: create campaign: spec is not JSON: %w", ErrInvalid)
	}
	at := now()
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO campaigns (name, spec, state, created_at, updated_at)
VALUES (?, ?, ?, ?, ?) RETURNING id`), name, string(spec), CampaignDraft, s.d.timeArg(at), s.d.timeArg(at)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: create campaign: %w", err)
	}
	return id, nil
}

const campaignColumns = `id, name, spec, state, created_at, updated_at`

func scanCampaign(r rowScanner) (Campaign, error) {
	var c Campaign
	var spec string
	var created, updated nullTime
	if err := r.Scan(&c.ID, &c.Name, &spec, &c.State, &created, &updated); err != nil {
		return c, err
	}
	c.Spec, c.CreatedAt, c.UpdatedAt = json.RawMessage(spec), created.T, updated.T
	return c, nil
}

// Campaign returns one campaign.
func (s *Store) Campaign(ctx context.Context, id int64) (Campaign, error) {
	if err := checkID("campaign", id); err != nil {
		return Campaign{}, fmt.Errorf("store: campaign: %w", err)
	}
	c, err := scanCampaign(s.db.QueryRowContext(ctx, s.d.rebind(`SELECT `+campaignColumns+` FROM campaigns WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("store: campaign %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("store: campaign %d: %w", id, err)
	}
	return c, nil
}

// Campaigns lists every campaign, newest first.
func (s *Store) Campaigns(ctx context.Context) ([]Campaign, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+campaignColumns+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	var out []Campaign
	err = eachRow(rows, func() error {
		c, err := scanCampaign(rows)
		out = append(out, c)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	return out, nil
}

// SetCampaignState changes a campaign's state.
func (s *Store) SetCampaignState(ctx context.Context, id int64, state string) error {
	if err := checkID("campaign", id); err != nil {
		return fmt.Errorf("store: campaign state: %w", err)
	}
	if !campaignStates[state] {
		return fmt.Errorf("store: campaign state %q: %w", state, ErrInvalid)
	}
	res, err := s.exec(ctx, `UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ?`, state, s.d.timeArg(now()), id)
	if err != nil {
		return fmt.Errorf("store: campaign %d state: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: campaign %d: %w", id, ErrNotFound)
	}
	return nil
}

// AddContacts adds contacts to a campaign, all or none: a number the
// campaign already has is ErrInvalid.
func (s *Store) AddContacts(ctx context.Context, campaign int64, cs []Contact) error {
	if err := checkID("campaign", campaign); err != nil {
		return fmt.Errorf("store: add contacts: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT count(*) FROM campaigns WHERE id = ?`), campaign).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("campaign %d: %w", campaign, ErrNotFound)
		}
		for _, c := range cs {
			if c.Number == "" || len(c.Number) > maxField {
				return fmt.Errorf("contact number %q: %w", clip(c.Number, 32), ErrInvalid)
			}
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT count(*) FROM campaign_contacts WHERE campaign = ? AND number = ?`),
				campaign, c.Number).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("contact %s is already in campaign %d: %w", c.Number, campaign, ErrInvalid)
			}
			fields, err := json.Marshal(c.Fields)
			if err != nil {
				return err
			}
			if c.Fields == nil {
				fields = []byte("{}")
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO campaign_contacts (campaign, line, number, name, language, time_zone, fields)
VALUES (?, ?, ?, ?, ?, ?, ?)`), campaign, c.Line, c.Number, clip(c.Name, maxField), clip(c.Language, maxField),
				clip(c.TimeZone, maxField), string(fields)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add contacts: %w", err)
	}
	return nil
}

// Contacts returns a campaign's contacts in the order they were added.
func (s *Store) Contacts(ctx context.Context, campaign int64) ([]Contact, error) {
	if err := checkID("campaign", campaign); err != nil {
		return nil, fmt.Errorf("store: contacts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT id, campaign, line, number, name, language, time_zone, fields,
status, attempts, next_at, last_outcome FROM campaign_contacts WHERE campaign = ? ORDER BY id`), campaign)
	if err != nil {
		return nil, fmt.Errorf("store: contacts: %w", err)
	}
	var out []Contact
	err = eachRow(rows, func() error {
		var c Contact
		var fields string
		var next nullTime
		if err := rows.Scan(&c.ID, &c.Campaign, &c.Line, &c.Number, &c.Name, &c.Language, &c.TimeZone, &fields,
			&c.Status, &c.Attempts, &next, &c.LastOutcome); err != nil {
			return err
		}
		c.NextAt = next.T
		if err := json.Unmarshal([]byte(fields), &c.Fields); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: contacts: %w", err)
	}
	return out, nil
}

// RecordAttempt writes an attempt that ended and, in the same
// transaction, where its contact now stands (c's Status, Attempts, NextAt
// and LastOutcome). It returns the attempt's id.
func (s *Store) RecordAttempt(ctx context.Context, a Attempt, c Contact) (int64, error) {
	switch {
	case checkID("campaign", a.Campaign) != nil, checkID("contact", a.Contact) != nil:
		return 0, fmt.Errorf("store: record attempt: campaign and contact ids must be positive: %w", ErrInvalid)
	case a.Outcome == "", !contactStatuses[c.Status], a.Seq < 1:
		return 0, fmt.Errorf("store: record attempt: outcome %q, status %q, seq %d: %w", a.Outcome, c.Status, a.Seq, ErrInvalid)
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO campaign_attempts (campaign, contact, seq, started_at, ended_at, outcome, sip_code, call_id, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`), a.Campaign, a.Contact, a.Seq, s.d.timeArg(orNow(a.StartedAt)),
			s.d.timeArg(orNow(a.EndedAt)), clip(a.Outcome, maxField), a.SIPCode, clip(a.CallID, maxField), clip(a.Detail, maxField)).Scan(&id)
		if err != nil {
			return notFoundOnFK(err)
		}
		return s.updateContact(ctx, tx, a.Contact, c)
	})
	if err != nil {
		return 0, fmt.Errorf("store: record attempt: %w", err)
	}
	return id, nil
}

// SetContactStatus records where a contact stands without an attempt: one
// found on the do-not-call list before its call.
func (s *Store) SetContactStatus(ctx context.Context, id int64, c Contact) error {
	if err := checkID("contact", id); err != nil {
		return fmt.Errorf("store: contact status: %w", err)
	}
	if !contactStatuses[c.Status] {
		return fmt.Errorf("store: contact status %q: %w", c.Status, ErrInvalid)
	}
	if err := s.write(ctx, func(tx *sql.Tx) error { return s.updateContact(ctx, tx, id, c) }); err != nil {
		return fmt.Errorf("store: contact %d status: %w", id, err)
	}
	return nil
}

func (s *Store) updateContact(ctx context.Context, tx *sql.Tx, id int64, c Contact) error {
	res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE campaign_contacts SET status = ?, attempts = ?, next_at = ?, last_outcome = ? WHERE id = ?`),
		c.Status, c.Attempts, s.d.timeArg(micro(c.NextAt)), clip(c.LastOutcome, maxField), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("contact %d: %w", id, ErrNotFound)
	}
	return nil
}

// Attempts returns a campaign's attempts in the order they ended, each
// with its contact's number.
func (s *Store) Attempts(ctx context.Context, campaign int64) ([]Attempt, error) {
	if err := checkID("campaign", campaign); err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT a.id, a.campaign, a.contact, a.seq, a.started_at, a.ended_at, a.outcome,
a.sip_code, a.call_id, a.detail, c.number FROM campaign_attempts a JOIN campaign_contacts c ON c.id = a.contact
WHERE a.campaign = ? ORDER BY a.id`), campaign)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	var out []Attempt
	err = eachRow(rows, func() error {
		var a Attempt
		var started, ended nullTime
		if err := rows.Scan(&a.ID, &a.Campaign, &a.Contact, &a.Seq, &started, &ended, &a.Outcome, &a.SIPCode,
			&a.CallID, &a.Detail, &a.Number); err != nil {
			return err
		}
		a.StartedAt, a.EndedAt = started.T, ended.T
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	return out, nil
}

// AddDNC puts a number on the do-not-call list; a number already on it
// keeps its first entry.
func (s *Store) AddDNC(ctx context.Context, number, reason string, at time.Time) error {
	if number == "" || len(number) > maxField {
		return fmt.Errorf("store: add do-not-call: number must be 1 to %d characters: %w", maxField, ErrInvalid)
	}
	if _, err := s.exec(ctx, `INSERT INTO do_not_call (number, reason, added_at) VALUES (?, ?, ?) ON CONFLICT (number) DO NOTHING`,
		number, clip(reason, maxField), s.d.timeArg(orNow(at))); err != nil {
		return fmt.Errorf("store: add do-not-call: %w", err)
	}
	return nil
}

// RemoveDNC takes a number off the do-not-call list; ErrNotFound when it
// was not on it.
func (s *Store) RemoveDNC(ctx context.Context, number string) error {
	res, err := s.exec(ctx, `DELETE FROM do_not_call WHERE number = ?`, number)
	if err != nil {
		return fmt.Errorf("store: remove do-not-call: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: do-not-call %s: %w", clip(number, 32), ErrNotFound)
	}
	return nil
}

// OnDNC reports whether a number is on the do-not-call list.
func (s *Store) OnDNC(ctx context.Context, number string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT count(*) FROM do_not_call WHERE number = ?`), number).Scan(&n); err != nil {
		return false, fmt.Errorf("store: do-not-call: %w", err)
	}
	return n > 0, nil
}

// DNC lists the do-not-call list by number.
func (s *Store) DNC(ctx context.Context) ([]DNCEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT number, reason, added_at FROM do_not_call ORDER BY number`)
	if err != nil {
		return nil, fmt.Errorf("store: do-not-call: %w", err)
	}
	var out []DNCEntry
	err = eachRow(rows, func() error {
		var e DNCEntry
		var at nullTime
		if err := rows.Scan(&e.Number, &e.Reason, &at); err != nil {
			return err
		}
		e.AddedAt = at.T
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: do-not-call: %w", err)
	}
	return out, nil
}
