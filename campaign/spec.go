// Package campaign calls customers before they have to call: a campaign is
// a list of contacts, a script for the dialog, calling hours in each
// contact's time zone, pacing limits and a retry policy. The Dialer
// schedules the attempts on an injectable clock, never above the
// campaign's concurrency and call rate, skips every number on the
// do-not-call list (checked again right before each dial), places the
// calls through a Caller (the server's SIP trunk) and records each
// attempt's outcome in the store.
package campaign

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // contacts' time zones must resolve on hosts without zoneinfo
)

// Outcome is how one attempt ended.
type Outcome string

// The outcomes of an attempt.
const (
	Answered    Outcome = "answered"    // the callee talked with Hotline
	Busy        Outcome = "busy"        // 486, 600, 603
	NoAnswer    Outcome = "no_answer"   // rang out (our CANCEL, 487), 408, 480
	Failed      Outcome = "failed"      // any other failure: unreachable, 404, 5xx
	OptedOut    Outcome = "opted_out"   // asked not to be called again: now on the do-not-call list
	Booked      Outcome = "booked"      // said yes to the script's question
	Transferred Outcome = "transferred" // asked for a person and was handed to a queue
	Machine     Outcome = "machine"     // an answering machine took the call
)

// Outcomes lists every outcome, in the order progress shows them.
var Outcomes = []Outcome{Answered, Booked, Transferred, OptedOut, Machine, Busy, NoAnswer, Failed}

// retryable are the outcomes a retry policy may name.
var retryable = []Outcome{Busy, NoAnswer, Failed, Machine}

// Spec is what a campaign does, as created through the API.
type Spec struct {
	Name string `json:"name"`
	// Purpose says why the campaign calls, for the supervisors.
	Purpose string `json:"purpose,omitempty"`
	// Greeting opens each call instead of the dialog's own greeting,
	// with the contact's fields filled in ({name}, {product}, {due_date}).
	// A yes to its question books (Booked): "Hello {name}, this is
	// Northwind Bank. Your {product} payment is due on {due_date}. Shall
	// we book a reminder? Say yes or no."
	Greeting string `json:"greeting"`
	// Flow names the rule flow the dialog runs (campaigns.flows in the
	// configuration); empty: the node's dialog.
	Flow string `json:"flow,omitempty"`
	// Prompt is the LLM brain's instructions for the call, with the
	// contact's fields filled in; ignored by the rule brain.
	Prompt string `json:"prompt,omitempty"`
	// Hours is when contacts may be called, in each contact's time zone.
	Hours Hours `json:"hours"`
	// TimeZone is the zone of contacts that give none. Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// MaxConcurrent caps the calls in progress at once. Default 1.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// CallsPerSecond caps how fast calls are placed. Default 1.
	CallsPerSecond float64 `json:"calls_per_second,omitempty"`
	// RingTimeout is how long a call may ring before it counts as
	// no_answer. Default 30s.
	RingTimeout Duration `json:"ring_timeout,omitempty"`
	// Retry says, for busy, no_answer, failed and machine, how many
	// attempts a contact gets in all and how long to wait before the next.
	// An outcome without a policy ends the contact's calls.
	Retry map[Outcome]Retry `json:"retry,omitempty"`
	// Machine is what to do when an answering machine takes the call.
	Machine MachinePolicy `json:"machine"`
}

// Hours is a daily calling window, local to the contact.
type Hours struct {
	// Start and End are "HH:MM", End after Start ("24:00" is midnight at
	// the day's end). Default 09:00 to 20:00.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// Days are the weekdays calls may be placed, 0 Sunday to 6 Saturday.
	// Default every day.
	Days []time.Weekday `json:"days,omitempty"`

	start, end time.Duration // from local midnight
}

// Retry is the retry policy of one outcome.
type Retry struct {
	// Attempts is how many attempts the contact gets in all, the first
	// included, while they end this way.
	Attempts int `json:"attempts"`
	// Backoff is the wait before the next attempt, doubled for each
	// attempt already made after the first.
	Backoff Duration `json:"backoff"`
}

// Machine actions.
const (
	MachineHangup  = "hangup"  // hang up at once
	MachineMessage = "message" // leave Message after the greeting's end
)

// MachinePolicy is what an answering machine gets.
type MachinePolicy struct {
	// Action is hangup (default) or message.
	Action string `json:"action,omitempty"`
	// Message is spoken after the machine's greeting ends, with the
	// contact's fields filled in.
	Message string `json:"message,omitempty"`
	// Greeting is how long the callee may speak without a pause right
	// after the answer before it is taken for a machine. Default 3.5s.
	Greeting Duration `json:"greeting,omitempty"`
}

// Duration is a time.Duration that JSON spells "30s", "10m".
type Duration time.Duration

// MarshalJSON spells the duration as Go does.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s" (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return errors.New(`want a duration such as "30s"`)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want such as \"30s\" or \"10m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Limits bound a campaign, whatever its spec asks.
const (
	maxConcurrent = 100
	maxRate       = 50
	maxAttempts   = 10
	maxText       = 2000
)

// clockTime is "HH:MM"; 24:00 ends a window at midnight.
var clockTime = regexp.MustCompile(`^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$`)

// ParseSpec decodes and checks a campaign's spec, filling in the
// defaults; the error names every problem.
func ParseSpec(b []byte) (Spec, error) {
	var sp Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return sp, fmt.Errorf("campaign: %w", err)
	}
	if dec.More() {
		return sp, errors.New("campaign: one JSON object expected")
	}
	return sp, sp.normalize()
}

// normalize fills in the defaults and checks the spec.
func (sp *Spec) normalize() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	sp.Name = strings.TrimSpace(sp.Name)
	if sp.Name == "" || len(sp.Name) > 200 {
		bad("name: 1 to 200 characters")
	}
	if strings.TrimSpace(sp.Greeting) == "" {
		bad("greeting: required (what Hotline says when the callee answers)")
	}
	for name, v := range map[string]string{"purpose": sp.Purpose, "greeting": sp.Greeting, "prompt": sp.Prompt,
		"machine.message": sp.Machine.Message} {
		if len(v) > maxText {
			bad("%s: at most %d characters", name, maxText)
		}
	}
	if sp.Flow != "" && !validName.MatchString(sp.Flow) {
		bad("flow %q: a name of letters, digits, _ or -", sp.Flow)
	}
	if sp.Hours.Start == "" {
		sp.Hours.Start = "09:00"
	}
	if sp.Hours.End == "" {
		sp.Hours.End = "20:00"
	}
	sp.Hours.start, sp.Hours.end = clockOf(sp.Hours.Start), clockOf(sp.Hours.End)
	switch {
	case sp.Hours.start < 0 || sp.Hours.end < 0:
		bad("hours: start and end are HH:MM")
	case sp.Hours.end <= sp.Hours.start:
		bad("hours: end %s must be after start %s", sp.Hours.End, sp.Hours.Start)
	}
	for _, d := range sp.Hours.Days {
		if d < time.Sunday || d > time.Saturday {
			bad("hours.days: %d is not 0 (Sunday) to 6 (Saturday)", d)
		}
	}
	if sp.TimeZone == "" {
		sp.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(sp.TimeZone); err != nil {
		bad("time_zone %q: not a time zone (such as Europe/Berlin)", sp.TimeZone)
	}
	if sp.MaxConcurrent == 0 {
		sp.MaxConcurrent = 1
	}
	if sp.MaxConcurrent < 1 || sp.MaxConcurrent > maxConcurrent {
		bad("max_concurrent: 1 to %d", maxConcurrent)
	}
	if sp.CallsPerSecond == 0 {
		sp.CallsPerSecond = 1
	}
	if !(sp.CallsPerSecond > 0 && sp.CallsPerSecond <= maxRate) {
		bad("calls_per_second: more than 0, at most %d", maxRate)
	}
	if sp.RingTimeout == 0 {
		sp.RingTimeout = Duration(30 * time.Second)
	}
	if sp.RingTimeout < Duration(time.Second) || sp.RingTimeout > Duration(5*time.Minute) {
		bad("ring_timeout: 1s to 5m")
	}
	for o, r := range sp.Retry {
		if !slices.Contains(retryable, o) {
			bad("retry: %q is not one of busy, no_answer, failed, machine", o)
		}
		if r.Attempts < 1 || r.Attempts > maxAttempts {
			bad("retry.%s.attempts: 1 to %d", o, maxAttempts)
		}
		if r.Backoff < 0 || r.Backoff > Duration(7*24*time.Hour) {
			bad("retry.%s.backoff: 0 to 168h", o)
		}
	}
	switch sp.Machine.Action {
	case "":
		sp.Machine.Action = MachineHangup
	case MachineHangup:
	case MachineMessage:
		if strings.TrimSpace(sp.Machine.Message) == "" {
			bad("machine.message: required with action message")
		}
	default:
		bad("machine.action %q: hangup or message", sp.Machine.Action)
	}
	if sp.Machine.Greeting == 0 {
		sp.Machine.Greeting = Duration(3500 * time.Millisecond)
	}
	if sp.Machine.Greeting < Duration(time.Second) || sp.Machine.Greeting > Duration(30*time.Second) {
		bad("machine.greeting: 1s to 30s")
	}
	if len(errs) > 0 {
		return fmt.Errorf("campaign: %s", strings.Join(errs, "; "))
	}
	return nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// clockOf turns "HH:MM" into the time since midnight, -1 if malformed.
func clockOf(s string) time.Duration {
	m := clockTime.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	if m[3] != "" {
		return 24 * time.Hour
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute
}

// open reports whether t, in loc, is inside the calling hours, and if not,
// when they next open.
func (h Hours) open(t time.Time, loc *time.Location) (bool, time.Time) {
	lt := t.In(loc)
	for day := 0; day <= 7; day++ {
		d := lt.AddDate(0, 0, day)
		midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
		if len(h.Days) > 0 && !slices.Contains(h.Days, midnight.Weekday()) {
			continue
		}
		// Minutes through time.Date, not Add: a day with a clock change
		// is not 24 h long, and 09:00 stays 09:00.
		from := time.Date(d.Year(), d.Month(), d.Day(), 0, int(h.start/time.Minute), 0, 0, loc)
		until := time.Date(d.Year(), d.Month(), d.Day(), 0, int(h.end/time.Minute), 0, 0, loc)
		if day == 0 && !lt.Before(from) && lt.Before(until) {
			return true, t
		}
		if from.After(t) {
			return false, from
		}
	}
	return false, time.Time{}
}

// backoff is the wait after the attempt numbered n (from 1) ended with
// policy r.
func (r Retry) backoff(n int) time.Duration {
	d := time.Duration(r.Backoff)
	for i := 1; i < n && d < 7*24*time.Hour; i++ {
		d *= 2
	}
	return d
}

var placeholder = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

// Fill replaces {field} in text by the contact's value: name, number,
// language, time_zone or a free field; an unknown field becomes empty.
func Fill(text string, c Contact) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return c.value(m[1 : len(m)-1])
	})
}
