package e2e

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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
	dir := t.TempDir()
	writeRTPPcap(t, filepath.Join(dir, "yes.pcap"), speechTimeline(t, "slt", []string{"hello", "yes please"},
		[]time.Duration{300 * time.Millisecond, 9 * time.Second}))
	writeRTPPcap(t, filepath.Join(dir, "optout.pcap"), speechTimeline(t, "slt", []string{"hello", "please stop calling me"},
		[]time.Duration{300 * time.Millisecond, 9 * time.Second}))
	greeting := speechTimeline(t, "slt", []string{"Hello, you have reached the voicemail of Lena Park. " +
		"I am not available to take your call right now, so please leave your message after the tone."},
		[]time.Duration{200 * time.Millisecond})
	beep := make([]int16, sec(0.6))
	for i := range beep {
		beep[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/rate))
	}
	machine := append(append(greeting, make([]int16, sec(0.3))...), beep...)
	writeRTPPcap(t, filepath.Join(dir, "machine.pcap"), append(machine, make([]int16, sec(20))...))
	scenario, err := os.ReadFile(filepath.Join(repoRoot, "test", "sipp", "uas_customers.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "uas_customers.xml"), scenario, 0o644); err != nil {
		t.Fatal(err)
	}

	customersPort := freePort(t)
	// The carrier challenges every INVITE: the trunk's credentials answer.
	n := startHotline(t, `trunks: [{name: carrier, allow: ["127.0.0.0/8"], outbound_username: northwind,
  outbound_password_env: HOTLINE_TEST_SECRET}]`, fmt.Sprintf(`dialog: {brain: rules}
campaigns:
  gateway: "sip:{number}@127.0.0.1:%d"
  trunk: carrier
  caller_id: northwind
  flows: {reminders: %q}`, customersPort, filepath.Join(repoRoot, "examples", "campaign", "flow.yaml")))
	customers := startSIPp(t, n, sippRun{Scenario: filepath.Join(dir, "uas_customers.xml"), Timeout: 180 * time.Second,
		SIPPort: customersPort, Args: []string{"-m", fmt.Sprint(calls)}})

	api := newAPIClient(t, n)
	spec := fmt.Sprintf(`{"name": "payment reminders", "purpose": "remind customers of a payment due",
		"greeting": "Hello {name}, this is Northwind Bank. Your {product} payment is due on {due_date}. Shall we book a reminder? Please say yes or no.",
		"flow": "reminders", "hours": {"start": "00:00", "end": "24:00"},
		"max_concurrent": %d, "calls_per_second": %g, "ring_timeout": "3s",
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

// apiClient calls a node's operator API with the supervisor's token.
type apiClient struct {
	t    *testing.T
	base string
}

func newAPIClient(t *testing.T, n *node) *apiClient {
	return &apiClient{t: t, base: "http://" + fmt.Sprint(n.logs.must(t, "api listening", nil, time.Second)["addr"])}
}

// do sends a request, fails the test unless the answer has status, and
// decodes a JSON answer into v when v is not nil. It returns the body.
func (c *apiClient) do(method, path, contentType, body string, status int, v any) string {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, status)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return string(b)
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
