package e2e

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A campaign calls SIPp's customers through the gateway: one says yes,
// one opts out, two are busy, one never answers, one is not available
// (480), one hangs up during the greeting, one is an answering machine,
// and one is on the do-not-call list. The customers' side shows the pacing (never more calls at once
// than max_concurrent, never faster than calls_per_second) and the
// retries' back-off; the API shows the stored outcomes.
func TestCampaignDialer(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	const (
		maxConcurrent = 2
		callsPerSec   = 1.0
		backoff       = 8 * time.Second
		calls         = 12 // INVITEs the customers get, retries included
	)

	// The customers' voices, as the scenario replays them.
	greeting := speechTimeline(t, "slt", []string{"Hello, you have reached the voicemail of Lena Park. " +
		"I am not available to take your call right now, so please leave your message after the tone."},
		[]time.Duration{200 * time.Millisecond})
	beep := make([]int16, sec(0.6))
	for i := range beep {
		beep[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/rate))
	}
	machine := append(append(greeting, make([]int16, sec(0.3))...), beep...)
	scenario := customersScenario(t, map[string][]int16{
		"yes.pcap": speechTimeline(t, "slt", []string{"hello", "yes please"},
			[]time.Duration{300 * time.Millisecond, 9 * time.Second}),
		"optout.pcap": speechTimeline(t, "slt", []string{"hello", "please stop calling me"},
			[]time.Duration{300 * time.Millisecond, 9 * time.Second}),
		"machine.pcap": append(machine, make([]int16, sec(20))...),
		// A ringback tone as early media: 425 Hz, 1 s on, 1 s off.
		"early.pcap": ringback(sec(2)),
	})

	customersPort := freePort(t)
	// The carrier challenges every INVITE: the trunk's credentials answer.
	n := startHotline(t, carrierTrunk, fmt.Sprintf(`dialog: {brain: rules}
campaigns:
  gateway: "sip:{number}@127.0.0.1:%d"
  trunk: carrier
  caller_id: northwind
  flows: {reminders: %q}`, customersPort, filepath.Join(repoRoot, "examples", "campaign", "flow.yaml")))
	customers := startSIPp(t, n, sippRun{Scenario: scenario, Timeout: 180 * time.Second,
		SIPPort: customersPort, Args: []string{"-m", fmt.Sprint(calls)}})

	api := newAPIClient(t, n)
	spec := fmt.Sprintf(`{"name": "payment reminders", "purpose": "remind customers of a payment due",
		"greeting": "Hello {name}, this is Northwind Bank. Your {product} payment is due on {due_date}. Shall we book a reminder? Please say yes or no.",
		"flow": "reminders", "hours": {"start": "00:00", "end": "24:00"},
		"max_concurrent": %d, "calls_per_second": %g, "ring_timeout": "4s",
		"retry": {"busy": {"attempts": 2, "backoff": "%s"}, "no_answer": {"attempts": 2, "backoff": "%s"}},
		"machine": {"action": "message", "message": "This is Northwind Bank with a reminder about your {product} payment. Please call us back."}}`,
		maxConcurrent, callsPerSec, backoff, backoff)
	var created struct {
		ID int64 `json:"id"`
	}
	api.do("POST", "/api/v1/campaigns", "application/json", spec, http.StatusCreated, &created)
	base := fmt.Sprintf("/api/v1/campaigns/%d", created.ID)

	// A bad upload is refused whole, naming its line.
	body := api.do("POST", base+"/contacts", "text/csv", "number,name,product,due_date\n1001,Lena,card,March 31\n10x1,Tom,loan,\n",
		http.StatusBadRequest, nil)
	if !strings.Contains(body, "line 3") {
		t.Errorf("bad upload: %s, want the bad line named", body)
	}
	contacts := "number,name,product,due_date\n" +
		"1001,Lena Park,card,March 31\n" + // says yes
		"6001,Omar Haddad,loan,April 2\n" + // opts out
		"2001,Tom Berg,card,March 30\n" + // busy
		"2002,Ann Lee,loan,April 1\n" + // busy
		"3001,Wei Chen,card,March 29\n" + // never answers
		"7001,Ida Roth,loan,April 6\n" + // not available (480)
		"4001,Eva Stone,loan,April 3\n" + // hangs up
		"5001,Max Weber,card,April 4\n" + // a machine
		"1002,Kim Novak,card,April 5\n" // on the do-not-call list
	api.do("POST", base+"/contacts", "text/csv", contacts, http.StatusOK, nil)
	api.do("POST", "/api/v1/dnc", "application/json", `{"number": "1002", "reason": "asked by letter"}`, http.StatusCreated, nil)
	api.do("POST", base+"/start", "", "", http.StatusOK, nil)

	var st campaignStatus
	deadline := time.Now().Add(150 * time.Second)
	for st.State != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("campaign not completed: %+v\n%s", st, n.logs.textAbove(""))
		}
		time.Sleep(200 * time.Millisecond)
		api.do("GET", base, "", "", http.StatusOK, &st)
	}
	sr := customers.wait(t)
	sr.expectSuccess(t)

	// The stored outcomes.
	want := map[string]int{"booked": 1, "opted_out": 1, "busy": 4, "no_answer": 4, "answered": 1, "machine": 1}
	for o, c := range st.Progress.Attempts {
		if c != want[o] {
			t.Errorf("%s attempts %d, want %d", o, c, want[o])
		}
	}
	scrape := api.do("GET", "/metrics", "", "", http.StatusOK, nil)
	for o, c := range want {
		if line := fmt.Sprintf(`hotline_campaign_attempts_total{outcome="%s"} %d`, o, c); !strings.Contains(scrape, line) {
			t.Errorf("metrics lack %s:\n%s", line, grepLines(scrape, "campaign"))
		}
	}
	if p := st.Progress; p.Contacts != 9 || p.Done != 8 || p.DNC != 1 || p.Remaining != 0 || p.InProgress != 0 {
		t.Errorf("progress %+v", p)
	}
	results := api.do("GET", base+"/results", "", "", http.StatusOK, nil)
	rows, err := csv.NewReader(strings.NewReader(results)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string][]string{}
	for _, r := range rows[1:] {
		outcomes[r[0]] = append(outcomes[r[0]], r[6])
		t.Logf("result: %s", strings.Join(r, ","))
	}
	for number, want := range map[string][]string{"1001": {"booked"}, "6001": {"opted_out"}, "2001": {"busy", "busy"},
		"2002": {"busy", "busy"}, "3001": {"no_answer", "no_answer"}, "7001": {"no_answer", "no_answer"}, "4001": {"answered"}, "5001": {"machine"}, "1002": {""}} {
		if !slices.Equal(outcomes[number], want) {
			t.Errorf("%s: outcomes %q, want %q", number, outcomes[number], want)
		}
	}
	// The yes: Hotline opened with the campaign's greeting, the contact's
	// fields filled in, and heard the answer.
	callOf := map[string]string{}
	for _, r := range rows[1:] {
		callOf[r[0]] = r[8]
	}
	said := n.logs.find("hotline said", map[string]any{"call_id": callOf["1001"]})
	if len(said) == 0 || !strings.HasPrefix(fmt.Sprint(said[0]["text"]), "Hello Lena Park, this is Northwind Bank. Your card payment is due on March 31.") {
		t.Errorf("Hotline's first words to 1001: %v", summarize(said, "text"))
	}
	// Its carrier's 183 and early media did not count as the answer, nor
	// as the customer's voice (the call was not taken for a machine).
	if !strings.Contains(sr.Messages, "SIP/2.0 183 Session Progress") {
		t.Error("the customers sent no 183: early media not tested")
	}
	heard := summarize(n.logs.find("caller said", map[string]any{"call_id": callOf["1001"]}), "text")
	t.Logf("1001 heard: %q; Hotline said: %q", heard, summarize(said, "text"))
	dnc := api.do("GET", "/api/v1/dnc", "", "", http.StatusOK, nil)
	if !strings.Contains(dnc, `"6001"`) || !strings.Contains(dnc, `"1002"`) {
		t.Errorf("do-not-call list %s, want the opted-out 6001 and 1002", dnc)
	}
	if got := len(n.logs.find("answering challenge", map[string]any{"trunk": "carrier", "username": "northwind"})); got != calls {
		t.Errorf("%d INVITEs answered the carrier's challenge, want %d", got, calls)
	}
	if n.logs.must(t, "answering machine", nil, time.Second)["action"] != "message" {
		t.Error("the machine got no message")
	}

	// What the customers saw: every INVITE and when each call ended.
	seen := sippCalls(t, sr.Messages)
	if seen["1002"] != nil {
		t.Error("1002, on the do-not-call list, was called")
	}
	var all []sippCall
	for _, cs := range seen {
		all = append(all, cs...)
	}
	if len(all) != calls {
		t.Fatalf("the customers saw %d calls, want %d", len(all), calls)
	}
	slices.SortFunc(all, func(a, b sippCall) int { return a.invite.Compare(b.invite) })
	minGap := time.Hour
	for i := 1; i < len(all); i++ {
		minGap = min(minGap, all[i].invite.Sub(all[i-1].invite))
	}
	most := 0
	for _, c := range all {
		at := 0
		for _, o := range all {
			if !o.invite.After(c.invite) && o.end.After(c.invite) {
				at++
			}
		}
		most = max(most, at)
	}
	t.Logf("pacing: %d calls, at most %d at once (limit %d), shortest gap between INVITEs %v (limit %v)",
		len(all), most, maxConcurrent, minGap.Round(time.Millisecond), time.Duration(float64(time.Second)/callsPerSec))
	if most > maxConcurrent {
		t.Errorf("%d calls at once, want at most %d", most, maxConcurrent)
	}
	if most < maxConcurrent {
		t.Errorf("never %d calls at once: the limit was not reached, so not tested", maxConcurrent)
	}
	// 100 ms for the loopback and the two processes' scheduling.
	if limit := time.Duration(float64(time.Second)/callsPerSec) - 100*time.Millisecond; minGap < limit {
		t.Errorf("INVITEs %v apart, want at least %v", minGap, limit)
	}
	for _, number := range []string{"2001", "2002", "3001", "7001"} {
		cs := seen[number]
		if len(cs) != 2 {
			t.Errorf("%s called %d times, want 2", number, len(cs))
			continue
		}
		wait := cs[1].invite.Sub(cs[0].end)
		t.Logf("%s retried %v after its first call ended (back-off %v)", number, wait.Round(time.Millisecond), backoff)
		if wait < backoff-100*time.Millisecond {
			t.Errorf("%s retried %v after its first call, want the back-off %v", number, wait, backoff)
		}
	}
}

// Pausing a running campaign lets the call in progress finish and places
// no new one until it is resumed; stopping it lets its call in progress
// finish and leaves the rest uncalled.
func TestCampaignPauseResumeStop(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	scenario := customersScenario(t, nil)
	customersPort := freePort(t)
	n := startHotline(t, carrierTrunk, fmt.Sprintf(`dialog: {brain: rules}
campaigns: {gateway: "sip:{number}@127.0.0.1:%d", trunk: carrier}`, customersPort))
	// Each customer answers and hangs up 6 s later.
	customers := startSIPp(t, n, sippRun{Scenario: scenario, Timeout: 90 * time.Second, SIPPort: customersPort,
		Args: []string{"-m", "2"}})
	api := newAPIClient(t, n)
	var created struct {
		ID int64 `json:"id"`
	}
	api.do("POST", "/api/v1/campaigns", "application/json", `{"name": "pause", "greeting": "Hello {name}, this is Northwind Bank.",
		"hours": {"start": "00:00", "end": "24:00"}, "max_concurrent": 1}`, http.StatusCreated, &created)
	base := fmt.Sprintf("/api/v1/campaigns/%d", created.ID)
	api.do("POST", base+"/contacts", "application/json", `[{"number": "4001", "name": "Eva"}, {"number": "4002", "name": "Ian"},
		{"number": "4003", "name": "Uma"}]`, http.StatusOK, nil)
	status := func(what string, cond func(campaignStatus) bool) campaignStatus {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var st campaignStatus
			api.do("GET", base, "", "", http.StatusOK, &st)
			if cond(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %+v", what, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	api.do("POST", base+"/start", "", "", http.StatusOK, nil)
	status("the first call", func(st campaignStatus) bool { return st.Progress.InProgress == 1 })
	api.do("POST", base+"/pause", "", "", http.StatusOK, nil)
	// The call in progress ends and is recorded; none follows it.
	st := status("the first call's end", func(st campaignStatus) bool { return st.Progress.Attempts["answered"] == 1 })
	if st.State != "paused" || st.Progress.InProgress != 0 || st.Progress.Remaining != 2 {
		t.Errorf("paused after its call: %+v, want no call in progress and two contacts left", st)
	}
	resumed := time.Now()
	api.do("POST", base+"/resume", "", "", http.StatusOK, nil)
	status("the second call", func(st campaignStatus) bool { return st.Progress.InProgress == 1 })
	api.do("POST", base+"/stop", "", "", http.StatusOK, nil)
	st = status("the second call's end", func(st campaignStatus) bool { return st.Progress.Attempts["answered"] == 2 })
	if st.State != "stopped" || st.Progress.InProgress != 0 || st.Progress.Remaining != 1 {
		t.Errorf("stopped after its call: %+v, want the last contact left uncalled", st)
	}
	api.do("POST", base+"/resume", "", "", http.StatusConflict, nil)

	sr := customers.wait(t)
	sr.expectSuccess(t)
	seen := sippCalls(t, sr.Messages)
	if len(seen["4001"]) != 1 || len(seen["4002"]) != 1 || len(seen["4003"]) != 0 {
		t.Fatalf("customers called: %v, want 4001 and 4002 once", seen)
	}
	if at := seen["4002"][0].invite; at.Before(resumed) {
		t.Errorf("4002 called at %v, before the campaign was resumed at %v", at, resumed)
	}
	if seen["4002"][0].invite.Before(seen["4001"][0].end) {
		t.Error("the second call started before the first ended (max_concurrent 1)")
	}
}

// carrierTrunk is the trunk of the customers' carrier, whose challenge
// the outbound credentials answer (HOTLINE_TEST_SECRET is s3cret-pw).
const carrierTrunk = `trunks: [{name: carrier, allow: ["127.0.0.0/8"], outbound_username: northwind,
  outbound_password_env: HOTLINE_TEST_SECRET}]`

// customersScenario writes uas_customers.xml and the recordings its
// customers play (yes.pcap, optout.pcap, machine.pcap, early.pcap; a
// missing one is silence) into a folder of their own, and returns the scenario's path.
func customersScenario(t *testing.T, pcaps map[string][]int16) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"yes.pcap", "optout.pcap", "machine.pcap", "early.pcap"} {
		pcm, ok := pcaps[name]
		if !ok {
			pcm = make([]int16, sec(1))
		}
		writeRTPPcap(t, filepath.Join(dir, name), pcm)
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "test", "sipp", "uas_customers.xml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "uas_customers.xml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ringback is n samples of a ringback tone: 425 Hz, 1 s on, 1 s off.
func ringback(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		if i%sec(2) < sec(1) {
			pcm[i] = int16(6000 * math.Sin(2*math.Pi*425*float64(i)/rate))
		}
	}
	return pcm
}

type campaignStatus struct {
	State    string `json:"state"`
	Progress struct {
		Contacts   int            `json:"contacts"`
		Remaining  int            `json:"remaining"`
		InProgress int            `json:"in_progress"`
		Done       int            `json:"done"`
		DNC        int            `json:"dnc"`
		Attempts   map[string]int `json:"attempts"`
	} `json:"progress"`
}

// sippCall is one call a SIPp UAS took: when its INVITE came and when its
// last message went or came.
type sippCall struct {
	invite, end time.Time
}

// sippCalls reads SIPp's message trace (-trace_msg) and returns the calls
// by the number called, in the order they came.
func sippCalls(t *testing.T, trace string) map[string][]sippCall {
	t.Helper()
	type msg struct {
		at            time.Time
		first, callID string
	}
	var msgs []msg
	sc := bufio.NewScanner(strings.NewReader(trace))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur *msg
	for sc.Scan() {
		line := sc.Text()
		if ts, ok := strings.CutPrefix(line, "----------------------------------------------- "); ok {
			at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", ts, time.Local)
			if err != nil {
				t.Fatalf("trace time %q: %v", ts, err)
			}
			msgs = append(msgs, msg{at: at})
			cur = &msgs[len(msgs)-1]
			continue
		}
		switch {
		case cur == nil:
		case cur.first == "" && strings.Contains(line, "SIP/2.0"):
			cur.first = line
		case strings.HasPrefix(line, "Call-ID:") && cur.callID == "":
			cur.callID = strings.TrimSpace(strings.TrimPrefix(line, "Call-ID:"))
		}
	}
	byID := map[string]*sippCall{}
	number := map[string]string{}
	var order []string
	for _, m := range msgs {
		c := byID[m.callID]
		if c == nil {
			if !strings.HasPrefix(m.first, "INVITE sip:") {
				continue
			}
			c = &sippCall{invite: m.at}
			byID[m.callID] = c
			user, _, _ := strings.Cut(strings.TrimPrefix(m.first, "INVITE sip:"), "@")
			number[m.callID] = user
			order = append(order, m.callID)
		}
		c.end = m.at
	}
	out := map[string][]sippCall{}
	for _, id := range order {
		out[number[id]] = append(out[number[id]], *byID[id])
	}
	return out
}
