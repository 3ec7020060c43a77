package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/ratelimit"
	"github.com/hotline-cc/hotline/store"
)

// Clock is the dialer's time: calling hours, back-off and the call rate
// all run on it, so tests drive them without sleeping.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Call is one attempt to place.
type Call struct {
	Campaign int64
	Spec     Spec
	Contact  Contact
	// Attempt numbers the contact's attempts from 1.
	Attempt int
}

// Result is how an attempt ended.
type Result struct {
	Outcome Outcome
	// SIPCode is the final failure response; 0 when answered.
	SIPCode int
	CallID  string
	// Detail says more, for the results: the error, the queue.
	Detail string
	// Aborted is set when the node stopped before the call went out: it
	// was no attempt, and the contact stays due.
	Aborted bool
}

// Caller places one call and returns once it has ended, ring and
// conversation included. ctx ends only when the node shuts down. A Caller
// with a method CheckSpec(Spec) error may refuse a campaign it cannot run
// (a flow it does not have).
type Caller interface {
	Call(ctx context.Context, c Call) Result
}

// ErrState is a state change the campaign's state does not allow (409).
var ErrState = errors.New("campaign: not in a state that allows this")

// Dialer runs the campaigns: one scheduling loop per running campaign and
// one goroutine per call in progress, all stopped by Close.
type Dialer struct {
	st     *store.Store
	caller Caller
	clock  Clock
	log    *slog.Logger

	ctx    context.Context // the calls', ended by Close
	cancel context.CancelFunc
	// loops is the scheduling loops' context, ended by Drain.
	loops     context.Context
	stopLoops context.CancelFunc
	wg        sync.WaitGroup

	// observe, if set, hears each attempt's result.
	observe func(campaign int64, res Result)

	mu   sync.Mutex
	runs map[int64]*run
}

// New returns a dialer on the store's campaigns that places calls with
// caller; a nil clock is the real one. Nothing runs until Start.
func New(st *store.Store, caller Caller, clock Clock, log *slog.Logger) *Dialer {
	if clock == nil {
		clock = realClock{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	loops, stopLoops := context.WithCancel(ctx)
	return &Dialer{st: st, caller: caller, clock: clock, log: log, ctx: ctx, cancel: cancel, loops: loops,
		stopLoops: stopLoops, runs: map[int64]*run{}}
}

// Observe has fn told of every attempt's result once it is recorded (for
// metrics and the live event stream). It is called before Restore or Start.
func (d *Dialer) Observe(fn func(campaign int64, res Result)) { d.observe = fn }

// Restore resumes the campaigns that were running when the node stopped.
func (d *Dialer) Restore(ctx context.Context) error {
	cs, err := d.st.Campaigns(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State != store.CampaignRunning {
			continue
		}
		d.mu.Lock()
		_, err := d.load(ctx, c, store.CampaignRunning)
		d.mu.Unlock()
		if err != nil {
			return err
		}
		d.log.Info("campaign resumed", "campaign", c.ID, "name", c.Name)
	}
	return nil
}

// Drain stops every campaign's scheduling: no new attempts, while the
// calls in progress go on. Campaigns keep their state for the next start.
func (d *Dialer) Drain() { d.stopLoops() }

// Close stops the scheduling, ends the calls in progress and waits for
// them and their records.
func (d *Dialer) Close() {
	d.cancel()
	d.wg.Wait()
}

// run is a campaign the dialer has in memory: its contacts' scheduling
// and the calls it has in progress.
type run struct {
	id   int64
	spec Spec
	log  *slog.Logger

	mu       sync.Mutex
	state    string
	contacts []*entry
	inFlight int
	bucket   ratelimit.Bucket
	kick     chan struct{}
	// stopLoop ends the scheduling loop; nil when none runs.
	stopLoop context.CancelFunc
}

// entry is one contact's place in the schedule.
type entry struct {
	id       int64
	c        Contact
	loc      *time.Location
	status   string
	attempts int
	nextAt   time.Time
	last     Outcome
	dialing  bool
}

// load builds a campaign's run from the store and starts its loop when
// state is running; d.mu is held.
func (d *Dialer) load(ctx context.Context, c store.Campaign, state string) (*run, error) {
	spec, err := ParseSpec(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: stored spec: %w", c.ID, err)
	}
	r := &run{id: c.ID, spec: spec, state: state, kick: make(chan struct{}, 1),
		log: d.log.With("campaign", c.ID)}
	if err := r.addContacts(ctx, d.st); err != nil {
		return nil, err
	}
	d.runs[c.ID] = r
	if state == store.CampaignRunning {
		d.startLoop(r)
	}
	return r, nil
}

// addContacts adds the store's contacts of the campaign the run lacks.
func (r *run) addContacts(ctx context.Context, st *store.Store) error {
	cs, err := st.Contacts(ctx, r.id)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	known := map[int64]bool{}
	for _, e := range r.contacts {
		known[e.id] = true
	}
	campaignZone, _ := time.LoadLocation(r.spec.TimeZone)
	for _, c := range cs {
		if known[c.ID] {
			continue
		}
		loc := campaignZone
		if c.TimeZone != "" {
			if l, err := time.LoadLocation(c.TimeZone); err == nil {
				loc = l
			}
		}
		r.contacts = append(r.contacts, &entry{id: c.ID, loc: loc, status: c.Status, attempts: c.Attempts,
			nextAt: c.NextAt, last: Outcome(c.LastOutcome), c: Contact{Number: c.Number, Name: c.Name,
				Language: c.Language, TimeZone: c.TimeZone, Fields: c.Fields, Line: c.Line}})
	}
	return nil
}

func (d *Dialer) startLoop(r *run) {
	ctx, cancel := context.WithCancel(d.loops)
	r.stopLoop = cancel
	d.wg.Go(func() { d.loop(ctx, r) })
}

// loop places the campaign's calls as they fall due, until the campaign
// stops, completes or the dialer closes.
func (d *Dialer) loop(ctx context.Context, r *run) {
	for {
		wait, finished := d.step(r)
		if finished {
			d.complete(r)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-d.clock.After(wait):
		}
	}
}

// idle is step's wait when only a call's end or a state change can make
// an attempt due (they wake the loop); the loop looks again anyway.
const idle = time.Hour

// step starts every attempt due now that the limits allow, and returns
// how long until the next may be due; finished once no contact needs a
// call and none is in progress.
func (d *Dialer) step(r *run) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != store.CampaignRunning {
		return idle, false
	}
	now := d.clock.Now()
	var next time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	pending := false
	for _, e := range r.contacts {
		if e.status != store.ContactPending {
			continue
		}
		pending = true
		if e.dialing {
			continue
		}
		if e.nextAt.After(now) {
			soonest(e.nextAt)
			continue
		}
		open, opens := r.spec.Hours.open(now, e.loc)
		if !open {
			soonest(opens)
			continue
		}
		if r.inFlight >= r.spec.MaxConcurrent {
			// A call's end kicks the loop.
			break
		}
		ok, after := r.bucket.Take(now, r.spec.CallsPerSecond, 1)
		if !ok {
			soonest(now.Add(after))
			break
		}
		e.dialing = true
		r.inFlight++
		call := Call{Campaign: r.id, Spec: r.spec, Contact: e.c, Attempt: e.attempts + 1}
		d.wg.Go(func() { d.dial(r, e, call) })
	}
	if !pending && r.inFlight == 0 {
		return 0, true
	}
	if next.IsZero() {
		return idle, false
	}
	return max(next.Sub(now), 0), false
}

// dial places one attempt and records how it ended. The do-not-call list
// is read right before: a number added since the upload is never called.
func (d *Dialer) dial(r *run, e *entry, call Call) {
	log := r.log.With("contact", e.id, "attempt", call.Attempt)
	rec := store.Contact{Status: store.ContactDone, Attempts: e.attempts}
	// The records of a call that took place are written even while the
	// node stops.
	keep := context.WithoutCancel(d.ctx)
	banned, err := d.st.OnDNC(d.ctx, call.Contact.Number)
	switch {
	case err != nil:
		// Not knowing is not calling: try again later.
		log.Warn("do-not-call list not read: attempt put off", "err", err)
		rec.Status, rec.NextAt, rec.LastOutcome = store.ContactPending, d.clock.Now().Add(time.Minute), string(e.last)
		d.finish(r, e, rec)
		return
	case banned:
		log.Info("contact on the do-not-call list: not called")
		rec.Status, rec.LastOutcome = store.ContactDNC, string(e.last)
		if err := d.st.SetContactStatus(d.ctx, e.id, rec); err != nil {
			log.Warn("contact status not written", "err", err)
		}
		d.finish(r, e, rec)
		return
	}
	started := d.clock.Now()
	log.Info("campaign call", "number", call.Contact.Number)
	res := d.caller.Call(d.ctx, call)
	ended := d.clock.Now()
	if res.Aborted {
		log.Info("campaign call not placed: shutting down")
		rec.Status, rec.NextAt, rec.LastOutcome = store.ContactPending, e.nextAt, string(e.last)
		if err := d.st.SetContactStatus(keep, e.id, rec); err != nil {
			log.Warn("contact status not written", "err", err)
		}
		d.finish(r, e, rec)
		return
	}
	if res.Outcome == "" {
		res.Outcome = Failed
	}
	if res.Outcome == OptedOut {
		if err := d.st.AddDNC(keep, call.Contact.Number, fmt.Sprintf("opted out on a call of campaign %d", r.id), ended); err != nil {
			log.Error("opt-out not added to the do-not-call list", "err", err)
		}
	}
	rec.Attempts, rec.LastOutcome = call.Attempt, string(res.Outcome)
	if p, ok := r.spec.Retry[res.Outcome]; ok && call.Attempt < p.Attempts {
		rec.Status, rec.NextAt = store.ContactPending, ended.Add(p.backoff(call.Attempt))
	}
	log.Info("campaign call ended", "outcome", res.Outcome, "sip_code", res.SIPCode, "call_id", res.CallID,
		"status", rec.Status, "next_at", rec.NextAt)
	if _, err := d.st.RecordAttempt(keep, store.Attempt{Campaign: r.id, Contact: e.id, Seq: call.Attempt,
		StartedAt: started, EndedAt: ended, Outcome: string(res.Outcome), SIPCode: res.SIPCode, CallID: res.CallID,
		Detail: res.Detail}, rec); err != nil {
		log.Error("campaign attempt not recorded", "err", err)
	}
	if d.observe != nil {
		d.observe(r.id, res)
	}
	d.finish(r, e, rec)
}

// finish puts the contact's new standing into the schedule and wakes the
// loop: a place is free.
func (d *Dialer) finish(r *run, e *entry, rec store.Contact) {
	r.mu.Lock()
	e.dialing = false
	e.status, e.attempts, e.nextAt, e.last = rec.Status, rec.Attempts, rec.NextAt, Outcome(rec.LastOutcome)
	r.inFlight--
	r.mu.Unlock()
	r.wake()
}

// complete marks a campaign whose contacts are all done.
func (d *Dialer) complete(r *run) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != store.CampaignRunning {
		return
	}
	r.state = store.CampaignCompleted
	if err := d.st.SetCampaignState(context.WithoutCancel(d.ctx), r.id, store.CampaignCompleted); err != nil {
		r.log.Error("campaign state not written", "err", err)
	}
	r.log.Info("campaign completed")
}

// Create records a new campaign, in state draft.
func (d *Dialer) Create(ctx context.Context, spec Spec) (int64, error) {
	if err := spec.normalize(); err != nil {
		return 0, errorsInvalid(err)
	}
	if c, ok := d.caller.(interface{ CheckSpec(Spec) error }); ok {
		if err := c.CheckSpec(spec); err != nil {
			return 0, errorsInvalid(fmt.Errorf("campaign: %w", err))
		}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	return d.st.CreateCampaign(ctx, spec.Name, b)
}

// AddContacts adds contacts to a campaign that has not ended.
func (d *Dialer) AddContacts(ctx context.Context, id int64, cs []Contact) error {
	c, err := d.st.Campaign(ctx, id)
	if err != nil {
		return err
	}
	if c.State == store.CampaignStopped || c.State == store.CampaignCompleted {
		return fmt.Errorf("campaign %d is %s: %w", id, c.State, ErrState)
	}
	rows := make([]store.Contact, len(cs))
	for i, ct := range cs {
		rows[i] = store.Contact{Line: ct.Line, Number: ct.Number, Name: ct.Name, Language: ct.Language,
			TimeZone: ct.TimeZone, Fields: ct.Fields}
	}
	if err := d.st.AddContacts(ctx, id, rows); err != nil {
		return err
	}
	d.mu.Lock()
	r := d.runs[id]
	d.mu.Unlock()
	if r != nil {
		if err := r.addContacts(ctx, d.st); err != nil {
			return err
		}
		r.wake()
	}
	return nil
}

func (r *run) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start starts calling a draft campaign's contacts.
func (d *Dialer) Start(ctx context.Context, id int64) error {
	return d.transition(ctx, id, store.CampaignRunning, store.CampaignDraft)
}

// Pause stops new attempts at once; calls in progress finish.
func (d *Dialer) Pause(ctx context.Context, id int64) error {
	return d.transition(ctx, id, store.CampaignPaused, store.CampaignRunning)
}

// Resume calls a paused campaign's contacts again.
func (d *Dialer) Resume(ctx context.Context, id int64) error {
	return d.transition(ctx, id, store.CampaignRunning, store.CampaignPaused)
}

// Stop ends a campaign for good: no new attempts, calls in progress
// finish.
func (d *Dialer) Stop(ctx context.Context, id int64) error {
	return d.transition(ctx, id, store.CampaignStopped, store.CampaignDraft, store.CampaignRunning, store.CampaignPaused)
}

// transition moves a campaign in one of the states from to state to.
func (d *Dialer) transition(ctx context.Context, id int64, to string, from ...string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.st.Campaign(ctx, id)
	if err != nil {
		return err
	}
	r := d.runs[id]
	state := c.State
	if r != nil {
		r.mu.Lock()
		state = r.state
		r.mu.Unlock()
	}
	if !slices.Contains(from, state) {
		return fmt.Errorf("campaign %d is %s, cannot become %s: %w", id, state, to, ErrState)
	}
	if err := d.st.SetCampaignState(ctx, id, to); err != nil {
		return err
	}
	if r == nil {
		if to != store.CampaignRunning {
			return nil
		}
		if _, err := d.load(ctx, c, to); err != nil {
			return err
		}
		r = d.runs[id]
		r.log.Info("campaign running")
		return nil
	}
	r.mu.Lock()
	r.state = to
	if to == store.CampaignRunning && r.stopLoop == nil {
		d.startLoop(r)
	}
	if to == store.CampaignStopped && r.stopLoop != nil {
		r.stopLoop()
	}
	r.mu.Unlock()
	r.wake()
	r.log.Info("campaign " + to)
	return nil
}

// Status is a campaign with its live progress.
type Status struct {
	ID        int64     `json:"id"`
	Spec      Spec      `json:"spec"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	Progress  Progress  `json:"progress"`
}

// Progress counts a campaign's contacts and attempts.
type Progress struct {
	Contacts int `json:"contacts"`
	// Remaining are the contacts that still need a call, InProgress the
	// calls under way, Done the contacts finished, DNC those skipped for
	// the do-not-call list.
	Remaining  int `json:"remaining"`
	InProgress int `json:"in_progress"`
	Done       int `json:"done"`
	DNC        int `json:"dnc"`
	// Attempts counts every attempt by its outcome.
	Attempts map[Outcome]int `json:"attempts"`
}

// Status returns a campaign and its progress.
func (d *Dialer) Status(ctx context.Context, id int64) (Status, error) {
	c, err := d.st.Campaign(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return d.status(ctx, c)
}

func (d *Dialer) status(ctx context.Context, c store.Campaign) (Status, error) {
	spec, err := ParseSpec(c.Spec)
	if err != nil {
		return Status{}, fmt.Errorf("campaign %d: stored spec: %w", c.ID, err)
	}
	st := Status{ID: c.ID, Spec: spec, State: c.State, CreatedAt: c.CreatedAt,
		Progress: Progress{Attempts: map[Outcome]int{}}}
	for _, o := range Outcomes {
		st.Progress.Attempts[o] = 0
	}
	cs, err := d.st.Contacts(ctx, c.ID)
	if err != nil {
		return st, err
	}
	p := &st.Progress
	p.Contacts = len(cs)
	for _, ct := range cs {
		switch ct.Status {
		case store.ContactPending:
			p.Remaining++
		case store.ContactDone:
			p.Done++
		case store.ContactDNC:
			p.DNC++
		}
	}
	as, err := d.st.Attempts(ctx, c.ID)
	if err != nil {
		return st, err
	}
	for _, a := range as {
		p.Attempts[Outcome(a.Outcome)]++
	}
	d.mu.Lock()
	r := d.runs[c.ID]
	d.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		p.InProgress, st.State = r.inFlight, r.state
		r.mu.Unlock()
	}
	return st, nil
}

// List returns every campaign with its progress, newest first.
func (d *Dialer) List(ctx context.Context) ([]Status, error) {
	cs, err := d.st.Campaigns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(cs))
	for _, c := range cs {
		st, err := d.status(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
