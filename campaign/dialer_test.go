package campaign

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// The rate limit spaces the calls, the concurrency limit caps them, and a
// call's end frees a place.
func TestPacing(t *testing.T) {
	f := newFixture(t, monday)
	spec := baseSpec()
	spec.MaxConcurrent, spec.CallsPerSecond = 2, 0.5
	r := f.campaign(spec, contacts("1001", "1002", "1003", "1004")...)

	if wait := f.step(r); wait != 2*time.Second {
		t.Errorf("after the first call: wait %v, want 2s (0.5 calls a second)", wait)
	}
	first := f.caller.next(t)
	f.caller.none(t)
	if got := f.inFlight(r); got != 1 {
		t.Fatalf("in progress %d, want 1: the rate allows one call now", got)
	}

	f.clock.Advance(time.Second)
	if wait := f.step(r); wait != time.Second {
		t.Errorf("half way: wait %v, want 1s", wait)
	}
	f.caller.none(t)

	f.clock.Advance(time.Second)
	f.step(r)
	second := f.caller.next(t)
	f.clock.Advance(10 * time.Second)
	if wait := f.step(r); wait != idle {
		t.Errorf("at the concurrency limit: wait %v, want %v (a call's end wakes the loop)", wait, idle)
	}
	f.caller.none(t)
	if got := f.inFlight(r); got != 2 {
		t.Fatalf("in progress %d, want 2 (max_concurrent)", got)
	}

	f.end(r, first, Result{Outcome: Answered})
	f.step(r)
	third := f.caller.next(t)
	if third.Contact.Number != "1003" || first.Contact.Number != "1001" || second.Contact.Number != "1002" {
		t.Errorf("called %s, %s, %s; want the contacts in order", first.Contact.Number, second.Contact.Number, third.Contact.Number)
	}
	f.end(r, second, Result{Outcome: Answered})
	f.end(r, third, Result{Outcome: Answered})
	f.clock.Advance(2 * time.Second)
	f.step(r)
	f.end(r, f.caller.next(t), Result{Outcome: Answered})
	if _, finished := f.d.step(r); !finished {
		t.Error("every contact done, but the campaign is not finished")
	}
}

// Busy and no answer are retried with a doubling back-off up to their
// attempts; an outcome without a policy ends the contact's calls.
func TestRetries(t *testing.T) {
	f := newFixture(t, monday)
	spec := baseSpec()
	spec.Retry = map[Outcome]Retry{Busy: {Attempts: 3, Backoff: Duration(time.Minute)}, NoAnswer: {Attempts: 2, Backoff: Duration(10 * time.Minute)}}
	r := f.campaign(spec, contacts("2001", "3001", "4001")...)
	ctx := context.Background()

	f.step(r)
	busy := f.caller.next(t)
	f.clock.Advance(time.Second)
	f.step(r)
	noAnswer := f.caller.next(t)
	f.end(r, busy, Result{Outcome: Busy, SIPCode: 486})
	f.end(r, noAnswer, Result{Outcome: NoAnswer, SIPCode: 487})
	f.clock.Advance(time.Second)
	f.step(r)
	failed := f.caller.next(t)
	f.end(r, failed, Result{Outcome: Failed, SIPCode: 503})

	// 2001 is due a minute after its busy ended (at 1s), 3001 ten
	// minutes after.
	f.clock.Advance(30 * time.Second)
	if wait := f.step(r); wait != 29*time.Second {
		t.Errorf("wait %v, want 29s until the busy contact's back-off ends", wait)
	}
	f.caller.none(t)
	f.clock.Advance(29 * time.Second)
	f.step(r)
	again := f.caller.next(t)
	if again.Contact.Number != "2001" || again.Attempt != 2 {
		t.Fatalf("retried %s attempt %d, want 2001 attempt 2", again.Contact.Number, again.Attempt)
	}
	f.end(r, again, Result{Outcome: Busy, SIPCode: 486})
	// The second back-off is twice the first.
	f.clock.Advance(time.Minute)
	f.step(r)
	f.caller.none(t)
	f.clock.Advance(time.Minute)
	f.step(r)
	third := f.caller.next(t)
	if third.Attempt != 3 {
		t.Fatalf("attempt %d, want 3", third.Attempt)
	}
	f.end(r, third, Result{Outcome: Busy, SIPCode: 486})

	f.clock.Advance(10 * time.Minute)
	f.step(r)
	last := f.caller.next(t)
	if last.Contact.Number != "3001" || last.Attempt != 2 {
		t.Fatalf("retried %s attempt %d, want 3001 attempt 2", last.Contact.Number, last.Attempt)
	}
	f.end(r, last, Result{Outcome: NoAnswer, SIPCode: 480})
	f.clock.Advance(24 * time.Hour)
	if _, finished := f.d.step(r); !finished {
		t.Fatal("attempts used up, but the campaign is not finished")
	}
	f.caller.none(t)

	st, err := f.d.Status(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Outcome]int{Busy: 3, NoAnswer: 2, Failed: 1}
	for _, o := range Outcomes {
		if st.Progress.Attempts[o] != want[o] {
			t.Errorf("%s attempts %d, want %d", o, st.Progress.Attempts[o], want[o])
		}
	}
	if st.Progress.Done != 3 || st.Progress.Remaining != 0 {
		t.Errorf("progress %+v, want 3 done, none remaining", st.Progress)
	}
	var out bytes.Buffer
	if err := f.d.Export(ctx, r.id, &out); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+6 || rows[1][0] != "2001" || rows[1][6] != "busy" || rows[1][7] != "486" {
		t.Errorf("export %q, want a header and the 6 attempts, 2001's busy first", rows)
	}
}

// Each contact is called inside the calling hours of their own time zone.
func TestCallingHours(t *testing.T) {
	// Monday 07:00 UTC: 08:00 in Berlin, 02:00 in New York.
	f := newFixture(t, time.Date(2025, 3, 3, 7, 0, 0, 0, time.UTC))
	spec := baseSpec()
	spec.Hours = Hours{Start: "09:00", End: "17:00", Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}
	spec.CallsPerSecond = 10
	r := f.campaign(spec,
		Contact{Number: "+4930111", TimeZone: "Europe/Berlin"},
		Contact{Number: "+1212555", TimeZone: "America/New_York"})

	if wait := f.step(r); wait != time.Hour {
		t.Errorf("wait %v, want 1h until 09:00 in Berlin", wait)
	}
	f.caller.none(t)
	f.clock.Advance(time.Hour)
	f.step(r)
	berlin := f.caller.next(t)
	if berlin.Contact.Number != "+4930111" {
		t.Fatalf("called %s, want Berlin's contact", berlin.Contact.Number)
	}
	f.end(r, berlin, Result{Outcome: Answered})
	// New York opens at 14:00 UTC (EST, UTC-5).
	if wait := f.step(r); wait != 6*time.Hour {
		t.Errorf("wait %v, want 6h until 09:00 in New York", wait)
	}
	f.caller.none(t)
	f.clock.Advance(6 * time.Hour)
	f.step(r)
	f.end(r, f.caller.next(t), Result{Outcome: Answered})
}

func TestHoursOpen(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	weekdays := Hours{Start: "09:00", End: "17:30", Days: []time.Weekday{1, 2, 3, 4, 5}}
	tests := []struct {
		name  string
		h     Hours
		at    time.Time
		open  bool
		opens time.Time
	}{
		{"inside", weekdays, time.Date(2025, 3, 3, 10, 0, 0, 0, berlin), true, time.Time{}},
		{"at the start", weekdays, time.Date(2025, 3, 3, 9, 0, 0, 0, berlin), true, time.Time{}},
		{"at the end", weekdays, time.Date(2025, 3, 3, 17, 30, 0, 0, berlin), false, time.Date(2025, 3, 4, 9, 0, 0, 0, berlin)},
		{"before", weekdays, time.Date(2025, 3, 3, 6, 0, 0, 0, berlin), false, time.Date(2025, 3, 3, 9, 0, 0, 0, berlin)},
		{"friday night", weekdays, time.Date(2025, 3, 7, 20, 0, 0, 0, berlin), false, time.Date(2025, 3, 10, 9, 0, 0, 0, berlin)},
		{"saturday", weekdays, time.Date(2025, 3, 8, 10, 0, 0, 0, berlin), false, time.Date(2025, 3, 10, 9, 0, 0, 0, berlin)},
		// The clocks go forward at 02:00 on 30 March: 09:00 is still 09:00.
		{"summer time", weekdays, time.Date(2025, 3, 29, 12, 0, 0, 0, berlin), false, time.Date(2025, 3, 31, 9, 0, 0, 0, berlin)},
		{"all day", Hours{Start: "00:00", End: "24:00"}, time.Date(2025, 3, 8, 23, 59, 0, 0, berlin), true, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			h.start, h.end = clockOf(h.Start), clockOf(h.End)
			open, opens := h.open(tc.at, berlin)
			if open != tc.open || !tc.open && !opens.Equal(tc.opens) {
				t.Errorf("open(%v) = %v, %v; want %v, %v", tc.at, open, opens, tc.open, tc.opens)
			}
		})
	}
}

// A number on the do-not-call list is never called, also when it was
// added after the upload; a callee who opts out is added to it.
func TestDoNotCall(t *testing.T) {
	f := newFixture(t, monday)
	ctx := context.Background()
	if _, err := f.d.AddDNC(ctx, "+49 30 999", "asked by letter"); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	spec.CallsPerSecond = 10
	r := f.campaign(spec, contacts("+4930999", "+4930777", "+4930555")...)
	// Added after the upload, before the dial.
	if _, err := f.d.AddDNC(ctx, "+4930777", ""); err != nil {
		t.Fatal(err)
	}
	// One a step (the rate): two skipped for the list, then the call.
	for range 2 {
		f.step(r)
		waitFor(t, func() bool { return r.inFlightNow() == 0 })
		f.clock.Advance(time.Second)
	}
	f.step(r)
	p := f.caller.next(t)
	if p.Contact.Number != "+4930555" {
		t.Fatalf("called %s, want only +4930555", p.Contact.Number)
	}
	f.end(r, p, Result{Outcome: OptedOut})
	waitFor(t, func() bool { return r.inFlightNow() == 0 })
	f.caller.none(t)
	on, err := f.st.OnDNC(ctx, "+4930555")
	if err != nil || !on {
		t.Errorf("opted-out number on the do-not-call list: %v, %v; want true", on, err)
	}
	st, err := f.d.Status(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Progress.DNC != 2 || st.Progress.Attempts[OptedOut] != 1 {
		t.Errorf("progress %+v, want 2 skipped for the list and 1 opted out", st.Progress)
	}

	// Another campaign does not call the opted-out number either, and a
	// number taken off the list is called again.
	if err := f.d.RemoveDNC(ctx, "+4930999"); err != nil {
		t.Fatal(err)
	}
	if err := f.d.RemoveDNC(ctx, "+4930999"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing twice: %v, want not found", err)
	}
	r2 := f.campaign(spec, contacts("+4930555", "+4930999")...)
	f.step(r2)
	waitFor(t, func() bool { return r2.inFlightNow() == 0 })
	f.clock.Advance(time.Second)
	f.step(r2)
	p = f.caller.next(t)
	if p.Contact.Number != "+4930999" {
		t.Fatalf("called %s, want +4930999", p.Contact.Number)
	}
	f.end(r2, p, Result{Outcome: Answered})
	if _, err := f.d.AddDNC(ctx, "call me", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("a malformed number: %v, want invalid", err)
	}
}

func (r *run) inFlightNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

// Pausing stops new attempts at once while a call in progress finishes
// and is recorded; resuming goes on; stopping ends the campaign.
func TestPauseResumeStop(t *testing.T) {
	f := newFixture(t, monday)
	ctx := context.Background()
	spec := baseSpec()
	spec.MaxConcurrent, spec.CallsPerSecond = 3, 1
	id, err := f.d.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.AddContacts(ctx, id, contacts("1001", "1002", "1003")); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Resume(ctx, id); !errors.Is(err, ErrState) {
		t.Errorf("resume a draft: %v, want ErrState", err)
	}
	if err := f.d.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	first := f.caller.next(t)
	if err := f.d.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	st, err := f.d.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != store.CampaignPaused || st.Progress.InProgress != 1 {
		t.Errorf("paused: state %s, in progress %d; want paused with the call going on", st.State, st.Progress.InProgress)
	}
	first.result <- Result{Outcome: Answered}
	waitFor(t, func() bool {
		st, _ := f.d.Status(ctx, id)
		return st.Progress.InProgress == 0 && st.Progress.Attempts[Answered] == 1
	})
	f.caller.none(t)

	if err := f.d.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	second := f.caller.next(t)
	if err := f.d.Stop(ctx, id); err != nil {
		t.Fatal(err)
	}
	second.result <- Result{Outcome: Busy, SIPCode: 486}
	waitFor(t, func() bool {
		st, _ := f.d.Status(ctx, id)
		return st.Progress.InProgress == 0
	})
	f.clock.Advance(time.Hour)
	f.caller.none(t)
	if err := f.d.Resume(ctx, id); !errors.Is(err, ErrState) {
		t.Errorf("resume a stopped campaign: %v, want ErrState", err)
	}
	st, err = f.d.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != store.CampaignStopped || st.Progress.Remaining != 1 {
		t.Errorf("stopped: %+v", st)
	}
}

// A campaign whose contacts are all done completes, and a dialer that
// restarts resumes the campaigns that were running.
func TestCompleteAndRestore(t *testing.T) {
	f := newFixture(t, monday)
	ctx := context.Background()
	id, err := f.d.Create(ctx, baseSpec())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.AddContacts(ctx, id, contacts("1001", "1002")); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	f.caller.next(t).result <- Result{Outcome: Booked}
	// The node stops with 1002 still to call, and starts again.
	waitFor(t, func() bool {
		st, _ := f.d.Status(ctx, id)
		return st.Progress.Attempts[Booked] == 1
	})
	f.d.Close()
	d2 := New(f.st, f.caller, f.clock, f.d.log)
	defer d2.Close()
	if err := d2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	p := f.caller.next(t)
	if p.Contact.Number != "1002" {
		t.Fatalf("after the restart called %s, want 1002", p.Contact.Number)
	}
	p.result <- Result{Outcome: Answered}
	waitFor(t, func() bool {
		st, _ := d2.Status(ctx, id)
		return st.State == store.CampaignCompleted
	})
}

// waitFor waits for cond, which the dialer's goroutines make true.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A call the node's shutdown kept from going out is no attempt: the
// contact stays due, with its attempts as they were.
func TestAbortedIsNoAttempt(t *testing.T) {
	f := newFixture(t, monday)
	ctx := context.Background()
	r := f.campaign(baseSpec(), contacts("1001")...)
	f.step(r)
	f.end(r, f.caller.next(t), Result{Outcome: Failed, Aborted: true})
	st, err := f.d.Status(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Progress.Remaining != 1 || st.Progress.Attempts[Failed] != 0 {
		t.Errorf("progress %+v, want the contact still due and no attempt", st.Progress)
	}
	f.clock.Advance(time.Second)
	f.step(r)
	if p := f.caller.next(t); p.Attempt != 1 {
		t.Errorf("next call is attempt %d, want 1", p.Attempt)
	} else {
		f.end(r, p, Result{Outcome: Answered})
	}
}
