package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pgtest"
)

// Campaigns, their contacts and attempts, and the do-not-call list behave
// the same on both databases.
func TestCampaignsSQLite(t *testing.T) { testCampaigns(t, sqliteDB) }

func TestCampaignsPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	testCampaigns(t, func(t testing.TB) Config {
		c := DefaultConfig()
		c.Driver, c.DSN = Postgres, srv.NewDatabase(t)
		return c
	})
}

func testCampaigns(t *testing.T, db newDB) {
	ctx := context.Background()
	s := open(t, db(t))
	spec := json.RawMessage(`{"name":"reminders","greeting":"Hello {name}"}`)
	id, err := s.CreateCampaign(ctx, "reminders", spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCampaign(ctx, "bad", json.RawMessage(`{`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("spec not JSON: %v, want invalid", err)
	}
	c, err := s.Campaign(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	json.Unmarshal(c.Spec, &got)
	json.Unmarshal(spec, &want)
	if c.Name != "reminders" || c.State != CampaignDraft || c.CreatedAt.IsZero() || !jsonEqual(got, want) {
		t.Errorf("campaign %+v", c)
	}
	if _, err := s.Campaign(ctx, id+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
	if err := s.SetCampaignState(ctx, id, CampaignRunning); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCampaignState(ctx, id, "flying"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
	if err := s.SetCampaignState(ctx, id+100, CampaignPaused); !errors.Is(err, ErrNotFound) {
		t.Errorf("state of an unknown campaign: %v", err)
	}

	contacts := []Contact{
		{Line: 2, Number: "+4930123", Name: "Lena", Language: "en", TimeZone: "Europe/Berlin", Fields: map[string]string{"product": "card"}},
		{Line: 3, Number: "+1212555"},
	}
	if err := s.AddContacts(ctx, id, contacts); err != nil {
		t.Fatal(err)
	}
	if err := s.AddContacts(ctx, id, []Contact{{Number: "+33111"}, {Number: "+4930123"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a number twice: %v, want invalid", err)
	}
	if err := s.AddContacts(ctx, id+100, contacts); !errors.Is(err, ErrNotFound) {
		t.Errorf("contacts of an unknown campaign: %v", err)
	}
	cs, err := s.Contacts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d contacts, want 2 (the failed batch added none)", len(cs))
	}
	if c := cs[0]; c.Number != "+4930123" || c.Name != "Lena" || c.TimeZone != "Europe/Berlin" || c.Fields["product"] != "card" ||
		c.Status != ContactPending || c.Line != 2 || !c.NextAt.IsZero() {
		t.Errorf("contact %+v", c)
	}

	start := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	next := start.Add(10 * time.Minute)
	aid, err := s.RecordAttempt(ctx, Attempt{Campaign: id, Contact: cs[0].ID, Seq: 1, StartedAt: start,
		EndedAt: start.Add(5 * time.Second), Outcome: "busy", SIPCode: 486, CallID: "abc@host"},
		Contact{Status: ContactPending, Attempts: 1, NextAt: next, LastOutcome: "busy"})
	if err != nil || aid <= 0 {
		t.Fatalf("RecordAttempt = %d, %v", aid, err)
	}
	if _, err := s.RecordAttempt(ctx, Attempt{Campaign: id, Contact: cs[1].ID, Seq: 1, Outcome: "booked"},
		Contact{Status: ContactDone, Attempts: 1, LastOutcome: "booked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordAttempt(ctx, Attempt{Campaign: id, Contact: 9999, Seq: 1, Outcome: "busy"},
		Contact{Status: ContactDone}); !errors.Is(err, ErrNotFound) {
		t.Errorf("attempt of an unknown contact: %v, want not found", err)
	}
	if _, err := s.RecordAttempt(ctx, Attempt{Campaign: id, Contact: cs[0].ID, Seq: 0, Outcome: "busy"},
		Contact{Status: ContactDone}); !errors.Is(err, ErrInvalid) {
		t.Errorf("attempt 0: %v, want invalid", err)
	}
	cs, err = s.Contacts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Attempts != 1 || !cs[0].NextAt.Equal(next) || cs[0].LastOutcome != "busy" || cs[1].Status != ContactDone {
		t.Errorf("contacts after the attempts: %+v", cs)
	}
	if err := s.SetContactStatus(ctx, cs[0].ID, Contact{Status: ContactDNC, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	as, err := s.Attempts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Outcome != "busy" || as[0].SIPCode != 486 || as[0].Number != "+4930123" ||
		!as[0].StartedAt.Equal(start) || as[0].CallID != "abc@host" || as[1].Outcome != "booked" {
		t.Errorf("attempts %+v", as)
	}
	list, err := s.Campaigns(ctx)
	if err != nil || len(list) != 1 || list[0].State != CampaignRunning {
		t.Errorf("Campaigns = %+v, %v", list, err)
	}

	// The do-not-call list.
	if err := s.AddDNC(ctx, "+4930123", "opted out", start); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDNC(ctx, "+4930123", "again", time.Time{}); err != nil {
		t.Fatalf("adding twice: %v", err)
	}
	if on, err := s.OnDNC(ctx, "+4930123"); err != nil || !on {
		t.Errorf("OnDNC = %v, %v", on, err)
	}
	if on, err := s.OnDNC(ctx, "+1212555"); err != nil || on {
		t.Errorf("OnDNC of another number = %v, %v", on, err)
	}
	dnc, err := s.DNC(ctx)
	if err != nil || len(dnc) != 1 || dnc[0].Reason != "opted out" || !dnc[0].AddedAt.Equal(start) {
		t.Errorf("DNC = %+v, %v", dnc, err)
	}
	if err := s.RemoveDNC(ctx, "+4930123"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDNC(ctx, "+4930123"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if err := s.AddDNC(ctx, "", "", time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty number: %v", err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
