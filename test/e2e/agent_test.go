package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/hotline-cc/hotline/internal/pcapfile"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/store"
)

// agentConfig is a node with one agent, alice, whose phone registers as
// SIP user alice; queue is the general queue's YAML. The sample dialog's
// other queues are there too: it may transfer to them.
func agentConfig(queue string) (sipSection, extra string) {
	return "agents: [{user: alice, password_env: HOTLINE_TEST_AGENT_PW}]",
		fmt.Sprintf("dialog: {brain: rules}\nrouting: {agents: [{id: alice}], queues: [%s, {name: cards}, {name: accounts}, "+
			"{name: loans}, {name: fraud}, {name: complaints}, {name: crisis}]}", queue)
}

// The caller asks for a person, hears the hold music, and is put through
// to alice, whose phone registered: each hears the other until the caller
// hangs up, which ends alice's call too. The records name alice.
func TestCallerReachesAnAgent(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	sipSection, extra := agentConfig("{name: general, ring_timeout: 10s}")
	n := startHotline(t, sipSection, extra)

	// Alice's phone: registered from the port where a SIPp UAS then takes
	// its calls, answering after a second of ringing and talking (the
	// looped recording of test/audio/caller-ulaw.raw) until the BYE.
	phonePort := freePort(t)
	registerPhone(t, n, "alice", phonePort)
	n.logs.must(t, "agent phone", map[string]any{"agent": "alice", "state": "available"}, 5*time.Second)
	phoneMedia := freeMediaPort(t, "127.0.0.1")
	phoneCapt := startCapture(t, fmt.Sprintf("udp portrange %d-%d", phoneMedia, phoneMedia+3))
	phone := startSIPp(t, n, sippRun{Scenario: "uas_answer.xml", Timeout: 90 * time.Second, SIPPort: phonePort,
		Media: phoneMedia})

	// Alice's desktop: signed in with her phone's password, following her
	// own live stream.
	desk := openAgentStream(t, n, "alice", e2eAgentPassword)

	phrases := []string{"i want to speak to an agent", "hello my card was stolen yesterday"}
	c := startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 18 * time.Second})
	sr := c.sipp.wait(t)
	callerPkts := c.capt.stop(t)
	sr.expectSuccess(t)
	pr := phone.wait(t)
	phonePkts := phoneCapt.stop(t)
	pr.expectSuccess(t) // its BYE came: the agent's leg ended with the caller's

	call := map[string]any{"call_id": sr.CallID}
	n.logs.must(t, "call ended", call, 10*time.Second)
	n.logs.none(t, "call flow failed", call)
	transfer := n.logs.must(t, "transfer", call, time.Second)
	connected := n.logs.must(t, "agent connected", call, time.Second)
	if connected["agent"] != "alice" || connected["queue"] != "general" {
		t.Errorf("connected %v", connected)
	}
	n.logs.must(t, "agent call ended", map[string]any{"call_id": sr.CallID, "agent": "alice"}, time.Second)
	if !pr.received("INVITE", "X-Hotline-Call: "+sr.CallID, "X-Hotline-Summary: ") {
		t.Errorf("alice's phone got no INVITE naming the call and its summary:\n%s", tail(pr.Messages, 3000))
	}

	// Her desktop learned the call when she answered: who calls, the
	// dialog's summary, the connection, what was said, and the end.
	got := desk.types()
	for _, want := range []string{"call.started", "transfer", "handoff", "agent.connected", "turn", "call.ended"} {
		if !contains(got, want) {
			t.Errorf("alice's live stream lacks %s: %q", want, got)
		}
	}
	if sum := desk.summary(); !strings.Contains(sum, "Wants") && !strings.Contains(sum, "agent") {
		t.Errorf("alice's screen pop summary %q", sum)
	}

	// On the wire: hold music from the transfer to the answer, then
	// alice's voice to the caller and the caller's to alice.
	answered := n.logs.must(t, "call answered", call, time.Second)
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
	toCaller := rtpFrames(callerPkts, hotline, caller)
	tTransfer, tConnected := logTime(t, transfer), logTime(t, connected)
	var held, firstAgent time.Time
	for _, f := range toCaller {
		loud := media.Level(f.PCM) > promptDBFS
		switch {
		case f.Time.After(tTransfer) && f.Time.Before(tConnected) && loud && held.IsZero():
			held = f.Time
		case f.Time.After(tConnected) && loud && firstAgent.IsZero():
			firstAgent = f.Time
		}
	}
	if held.IsZero() {
		t.Errorf("the caller heard nothing while alice's phone rang")
	}
	if firstAgent.IsZero() {
		t.Fatal("the caller heard nothing after alice answered")
	}
	t.Logf("transfer → agent connected %v, → alice's first audio at the caller %v (her phone rings 1 s)",
		tConnected.Sub(tTransfer).Round(time.Millisecond), firstAgent.Sub(tTransfer).Round(time.Millisecond))

	heard, _ := rtpAudio(t, callerPkts, hotline, caller)
	start := sec(firstAgent.Sub(toCaller[0].Time).Seconds())
	source := loadSource(t, "test/audio/caller-ulaw.wav")
	looped := append(append([]int16(nil), source...), source...)
	expectSignal(t, "alice's voice heard by the caller", looped, clip(heard, start+sec(1), start+sec(4)), 0, len(source))

	phoneAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(phoneMedia))
	toPhone := fromAnyTo(phonePkts, phoneAddr)
	agentHeard, npk := rtpAudio(t, phonePkts, toPhone, phoneAddr)
	if npk == 0 {
		t.Fatal("alice's phone received no audio")
	}
	said, err := fliteSay(filepath.Join(t.TempDir(), "said.wav"), "slt", phrases[1])
	if err != nil {
		t.Fatal(err)
	}
	expectSignal(t, "the caller's voice heard by alice", agentHeard, said, 0, len(agentHeard))

	// The records: the transcript has the queue joined and alice; the
	// store has the call completed with alice, and her transfer.
	tr := n.logs.must(t, "transcript", call, time.Second)
	var agents []string
	for _, turn := range readTranscript(t, fmt.Sprint(tr["path"])) {
		if x, ok := turn["transfer"].(map[string]any); ok {
			agents = append(agents, fmt.Sprint(x["queue"], "/", x["agent"]))
		}
	}
	if strings.Join(agents, " ") != "general/<nil> general/alice" {
		t.Errorf("transcript transfers %q, want the queue joined, then alice", agents)
	}
	n.Stop()
	d := storedCall(t, n, sr.CallID)
	if d.Disposition != store.DispositionCompleted || d.Agent != "alice" || d.Queue != "general" ||
		d.HangupSide != store.SideCaller || d.Talk <= 0 {
		t.Errorf("stored call: %s by %s, queue %q, agent %q, wait %v, talk %v; want completed with alice",
			d.Disposition, d.HangupSide, d.Queue, d.Agent, d.Wait, d.Talk)
	}
	t.Logf("stored call: wait %v, talk %v", d.Wait, d.Talk)
	if len(d.Transfers) != 2 || d.Transfers[1].Agent != "alice" {
		t.Errorf("stored transfers %+v, want the queue, then alice", d.Transfers)
	}
}

// Nobody is at work: the caller hears the hold music and their place,
// and after the queue's max wait leaves a message.
func TestCallerWithoutAgentLeavesAMessage(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	sipSection, extra := agentConfig("{name: general, max_wait: 6s, announce_every: 2s, overflow: {action: voicemail}}")
	n := startHotline(t, sipSection, extra)
	// The second phrase comes after the no-agent prompt and the beep.
	phrases := []string{"i want to speak to an agent", "hello my card was stolen yesterday"}
	c := startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 26 * time.Second})
	sr := c.sipp.wait(t)
	c.capt.stop(t)
	sr.expectSuccess(t)

	call := map[string]any{"call_id": sr.CallID}
	n.logs.must(t, "call ended", call, 10*time.Second)
	n.logs.none(t, "call flow failed", call)
	transfer := n.logs.must(t, "transfer", call, time.Second)
	left := n.logs.must(t, "left the queue", call, time.Second)
	if left["overflow"] != "voicemail" {
		t.Errorf("left the queue: %v", left)
	}
	t.Logf("waited %v from the transfer", logTime(t, left).Sub(logTime(t, transfer)).Round(time.Millisecond))
	msg := n.logs.must(t, "message recorded", call, time.Second)
	t.Logf("message: %v s, ended by %v", msg["seconds"], msg["ended_by"])

	tr := n.logs.must(t, "transcript", call, time.Second)
	var announced []string
	for _, turn := range readTranscript(t, fmt.Sprint(tr["path"])) {
		if text := fmt.Sprint(turn["text"]); strings.HasPrefix(text, "You are number") {
			announced = append(announced, text)
		}
	}
	if len(announced) == 0 || announced[0] != "You are number 1 in the queue." {
		t.Errorf("announcements %q, want the caller's place", announced)
	}
	n.Stop()
	d := storedCall(t, n, sr.CallID)
	if d.Disposition != store.DispositionMessage || d.Queue != "general" || d.Agent != "" || d.Wait < 5*time.Second {
		t.Errorf("stored call: %s, queue %q, agent %q, wait %v; want a message after the wait", d.Disposition, d.Queue, d.Agent, d.Wait)
	}
}

// registerPhone registers user's phone from 127.0.0.1:port, as a phone
// does: a REGISTER, the 401 challenge, the REGISTER with its digest, 200.
// The socket is closed after, for the phone that answers the calls there.
func registerPhone(t *testing.T, n *node, user string, port int) {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hotline := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.SIPPort)))
	callID, tag := siplib.GenerateTagN(16), siplib.GenerateTagN(8)
	send := func(cseq uint32, auth string) *siplib.Response {
		t.Helper()
		req := siplib.NewRequest(siplib.REGISTER, siplib.Uri{Scheme: "sip", Host: "127.0.0.1", Port: n.SIPPort})
		req.AppendHeader(siplib.NewHeader("Via", fmt.Sprintf("SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport", port, siplib.GenerateTagN(12))))
		req.AppendHeader(siplib.NewHeader("From", fmt.Sprintf("<sip:%s@127.0.0.1>;tag=%s", user, tag)))
		req.AppendHeader(siplib.NewHeader("To", fmt.Sprintf("<sip:%s@127.0.0.1>", user)))
		req.AppendHeader(siplib.NewHeader("Call-ID", callID))
		req.AppendHeader(siplib.NewHeader("CSeq", fmt.Sprintf("%d REGISTER", cseq)))
		req.AppendHeader(siplib.NewHeader("Contact", fmt.Sprintf("<sip:%s@127.0.0.1:%d>", user, port)))
		req.AppendHeader(siplib.NewHeader("Expires", "3600"))
		req.AppendHeader(siplib.NewHeader("Max-Forwards", "70"))
		if auth != "" {
			req.AppendHeader(siplib.NewHeader("Authorization", auth))
		}
		req.AppendHeader(siplib.NewHeader("Content-Length", "0"))
		if _, err := conn.WriteToUDP([]byte(req.String()), hotline); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8192)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("register %s: %v", user, err)
		}
		msg, err := siplib.ParseMessage(buf[:k])
		res, ok := msg.(*siplib.Response)
		if err != nil || !ok {
			t.Fatalf("register %s: not a response: %v\n%s", user, err, buf[:k])
		}
		return res
	}
	res := send(1, "")
	if res.StatusCode == 401 {
		chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: fmt.Sprintf("sip:127.0.0.1:%d", n.SIPPort),
			Username: user, Password: e2eAgentPassword, Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		res = send(2, cred.String())
	}
	if res.StatusCode != 200 {
		t.Fatalf("register %s: %d %s", user, res.StatusCode, res.Reason)
	}
}

// fromAnyTo is the source of the RTP packets sent to dst.
func fromAnyTo(pkts []pcapfile.Packet, dst netip.AddrPort) netip.AddrPort {
	for _, p := range pkts {
		if p.Dst == dst {
			return p.Src
		}
	}
	return netip.AddrPort{}
}

// storedCall reads the call's record from the stopped node's store.
func storedCall(t *testing.T, n *node, callID string) store.CallDetail {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Path = filepath.Join(n.Dir, cfg.Path)
	st, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ListCalls(t.Context(), store.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Calls {
		if c.CallID == callID {
			d, err := st.Call(t.Context(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("call %s not stored", callID)
	return store.CallDetail{}
}

// agentStream is an agent's live event stream, as the desktop reads it.
type agentStream struct {
	mu     sync.Mutex
	events []map[string]any
}

// openAgentStream signs the agent in through the operator's API and follows
// their own events until the test ends.
func openAgentStream(t *testing.T, n *node, agent, password string) *agentStream {
	t.Helper()
	base := "http://" + fmt.Sprint(n.logs.must(t, "api listening", nil, time.Second)["addr"])
	body, _ := json.Marshal(map[string]string{"agent": agent, "password": password})
	resp, err := http.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || login.Token == "" {
		t.Fatalf("agent sign-in: %s, %v", resp.Status, err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("agent's live stream: %v %v", resp, err)
	}
	s := &agentStream{}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var typ string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				typ = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var ev map[string]any
				_ = json.Unmarshal([]byte(v), &ev)
				if ev == nil {
					ev = map[string]any{}
				}
				ev["_type"] = typ
				s.mu.Lock()
				s.events = append(s.events, ev)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *agentStream) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.events {
		out = append(out, fmt.Sprint(ev["_type"]))
	}
	return out
}

// summary is the summary of the transfer the agent's stream carried.
func (s *agentStream) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev["_type"] == "transfer" {
			return fmt.Sprint(ev)
		}
	}
	return ""
}
