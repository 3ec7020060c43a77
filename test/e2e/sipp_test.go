package e2e

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// The SIPp scenarios in test/sipp against the hotline binary. Each test runs
// its own hotline, so they run in parallel; SIPp replays the caller's RTP
// from pcap files (root), and tcpdump records what Hotline sent back.

// TestSIPpCallFlow walks the whole first call flow as test/sipp/uac_call.xml
// scripts it, with speech on as Hotline runs by default: the caller speaks
// over the greeting (words that are no menu phrase), which stops it; Hotline
// says it did not understand and plays the menu; the caller presses 1
// (greeting again), 0 (leave a message), speaks the message, presses #, and
// Hotline says goodbye and hangs up. Checked: the SIP flow, the barge-ins,
// utterance and choices Hotline logged, that the greeting stopped within
// 150 ms of the caller's first words on the wire, that the prompts reached
// the caller in Hotline's RTP where the log says they began, and that the
// call and message recordings hold the caller's speech where it was sent.
// The flow stays deterministic because the caller's words are no phrase of
// the menu's grammar and each digit comes well inside a prompt (see the
// scenario); spoken choices are TestSIPpSpokenPhrases' subject.
func TestSIPpCallFlow(t *testing.T) {
	t.Parallel()
	needRoot(t)
	n := startHotline(t, "", "ivr: {menu_repeats: 4}")
	mediaPort := freeMediaPort(t, "127.0.0.1")
	capt := startCapture(t, fmt.Sprintf("udp port %d", mediaPort))
	res := runSIPp(t, n, sippRun{Scenario: "uac_call.xml", Timeout: 80 * time.Second, Media: mediaPort})
	pkts := capt.stop(t)
	res.expectSuccess(t)

	call := map[string]any{"call_id": res.CallID}
	answered := n.logs.must(t, "call answered", call, 5*time.Second)
	ended := n.logs.must(t, "call ended", call, 5*time.Second)
	t.Logf("call ended after %v, rtp %v", time.Duration(ended["duration"].(float64)), ended["rtp"])
	if got := ended["cause"]; got != "sip: hung up" {
		t.Errorf("call ended with cause %v, want Hotline's own hang-up after goodbye", got)
	}
	// The caller's sentence: no menu phrase, so not understood. Hotline
	// hears it as one utterance, or as up to three: it ends a turn after
	// 300 ms of quiet when the recognizer's partial hypothesis is a whole
	// menu phrase, and the sentence pauses for 380 and 520 ms. Each part
	// after the first interrupts the "not understood" that follows the one
	// before (hence menu_repeats 4: each counts as a try).
	said := n.logs.find("caller said", call)
	t.Logf("the caller's sentence was heard as %d utterances", len(said))
	if len(said) == 0 || len(said) > 3 {
		t.Fatalf("caller said %v, want the sentence as one to three utterances", said)
	}
	for _, r := range said {
		if r["text"] != "" || r["barge_in"] != true {
			t.Errorf("caller said %v, want nothing understood, begun over a prompt", r)
		}
	}
	wantBarges := []string{"greeting speech"}
	for range said[1:] {
		wantBarges = append(wantBarges, "not-understood speech")
	}
	wantBarges = append(wantBarges, "menu key 1", "menu key 0")
	if barges := summarize(n.logs.find("barge-in", call), "prompt", "by", "digit"); !slices.Equal(barges, wantBarges) {
		t.Errorf("barge-ins %q, want %q", barges, wantBarges)
	}
	choices := summarize(n.logs.find("menu choice", call), "choice", "by", "digit", "text")
	if want := []string{"greeting key 1", "message key 0"}; !slices.Equal(choices, want) {
		t.Errorf("menu choices %q, want %q", choices, want)
	}
	if st, ok := ended["rtp"].(map[string]any); !ok || fmt.Sprint(st["digits_in"]) != "3" {
		t.Errorf("rtp stats %v: want digits_in 3 (1, 0, #; each end packet sent three times)", ended["rtp"])
	}
	msg := n.logs.must(t, "message recorded", call, time.Second)
	if msg["ended_by"] != "key" {
		t.Errorf("message ended by %v, want the # key", msg["ended_by"])
	}
	if s, _ := msg["seconds"].(float64); s < 7 || s > 10 {
		t.Errorf("message is %.2f s long, want the 7.1 s of speech and a little", s)
	}
	n.logs.none(t, "call flow failed", call)

	// Every packet the caller sent came from its one media port (so
	// Hotline's latch kept them all), and Hotline sent to that port.
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(mediaPort))
	toHotline := 0
	for _, p := range pkts {
		if p.Dst == hotline {
			toHotline++
			if p.Src != caller {
				t.Fatalf("caller RTP from %v, want all of it from %v", p.Src, caller)
			}
		}
	}
	// Two plays of 355 speech packets and three digits of 10 packets; a
	// capture may miss a few under load.
	t.Logf("captured %d packets from the caller", toHotline)
	if sent := 2*355 + 3*10; toHotline < sent*97/100 || toHotline > sent {
		t.Errorf("captured %d caller packets, want the %d SIPp replayed", toHotline, sent)
	}

	// The greeting stopped when the caller began to speak.
	fromHotline := rtpFrames(pkts, hotline, caller)
	onsets := speechOnsets(loudTimes(rtpFrames(pkts, caller, hotline), onsetDBFS), 500*time.Millisecond)
	if len(fromHotline) == 0 || len(onsets) == 0 {
		t.Fatalf("captured %d packets from Hotline and %d speech onsets from the caller", len(fromHotline), len(onsets))
	}
	stop, playing := promptStop(loudTimes(fromHotline, promptDBFS), onsets[0], 300*time.Millisecond)
	t.Logf("the greeting stopped %v after the caller began to speak", stop.Sub(onsets[0]).Round(time.Millisecond))
	if !playing || stop.Sub(onsets[0]) > bargeInLimit {
		t.Errorf("the greeting stopped %v after the caller began to speak (playing then: %v), want within %v",
			stop.Sub(onsets[0]), playing, bargeInLimit)
	}

	// What the caller heard: the greeting until it spoke, "sorry" after
	// its words, the greeting again after 1. The log says when each
	// began; the RTP timeline starts with Hotline's first packet.
	heard, npkts := rtpAudio(t, pkts, hotline, caller)
	dur := time.Duration(ended["duration"].(float64))
	if want := int(dur.Seconds() * 50 * 0.9); npkts < want {
		t.Errorf("Hotline sent %d RTP packets in a %v call, want at least %d (50 a second)", npkts, dur, want)
	}
	at := func(rec map[string]any) int { return sec(logTime(t, rec).Sub(fromHotline[0].Time).Seconds()) }
	greeting := loadSource(t, "prompts/greeting.wav")
	expectSignal(t, "greeting in Hotline's RTP, until the caller spoke", heard, greeting[:sec(1.4)], 0, sec(0.5))
	last := said[len(said)-1]
	expectSignal(t, "not-understood after the caller's words, in Hotline's RTP", heard,
		loadSource(t, "prompts/not-understood.wav"), at(last)-sec(0.2), at(last)+sec(1))
	one := n.logs.must(t, "menu choice", map[string]any{"call_id": res.CallID, "digit": "1"}, 0)
	expectSignal(t, "greeting again after 1, in Hotline's RTP", heard, greeting, at(one)-sec(0.2), at(one)+sec(1))

	// The call recording: the caller on the left where SIPp spoke, silent
	// between; Hotline on the right.
	speech := loadSource(t, "test/audio/caller-pcm.wav")
	rec := n.logs.must(t, "recording call", call, time.Second)
	ch := loadRecording(t, fmt.Sprint(rec["path"]))
	if len(ch) != 2 {
		t.Fatalf("call recording has %d channels, want 2", len(ch))
	}
	left, right := ch[0], ch[1]
	s1 := expectSignal(t, "caller speech, left channel", left, speech, sec(1), sec(3))
	s2 := expectSignal(t, "caller's message, left channel", left, speech, s1+sec(22), s1+sec(25))
	if l := media.Level(clip(left, s1+len(speech)+sec(0.3), s2-sec(0.3))); l > -50 {
		t.Errorf("left channel between the caller's two speeches at %.1f dBFS, want silence", l)
	}
	expectSignal(t, "greeting until the caller spoke, right channel", right, greeting[:sec(1.4)], 0, sec(0.5))
	if l := media.Level(clip(right, s2, s2+sec(7))); l > -50 {
		t.Errorf("right channel while the message is recorded at %.1f dBFS, want silence", l)
	}

	// The message recording holds the message.
	m := loadRecording(t, fmt.Sprint(msg["path"]))
	if len(m) != 1 {
		t.Fatalf("message recording has %d channels, want 1", len(m))
	}
	expectSignal(t, "message recording", m[0], speech, 0, sec(2))
}

// TestSIPpCancel: a CANCEL while Hotline rings gets 200, the INVITE 487, and
// nothing is left of the call.
func TestSIPpCancel(t *testing.T) {
	t.Parallel()
	n := startHotline(t, "ring_time: 3s", "")
	res := runSIPp(t, n, sippRun{Scenario: "uac_cancel.xml", Timeout: 15 * time.Second})
	res.expectSuccess(t)
	if !res.received("SIP/2.0 487", "CSeq: 1 INVITE") || !res.received("SIP/2.0 200", "CSeq: 1 CANCEL") {
		t.Error("SIPp's trace lacks the 200 for the CANCEL or the 487 for the INVITE")
	}
	call := map[string]any{"call_id": res.CallID}
	n.logs.must(t, "incoming call", call, time.Second)
	end := n.logs.must(t, "call ended before answer", call, 5*time.Second)
	if end["cause"] != "sip: call canceled" {
		t.Errorf("call ended with cause %v, want canceled", end["cause"])
	}
	n.logs.none(t, "call answered", call)
	// Nothing left behind: shutting down finds no call to drain.
	n.Stop()
	drain := n.logs.must(t, "sip draining", nil, 0)
	if fmt.Sprint(drain["calls"]) != "0" {
		t.Errorf("at shutdown %v calls were still up, want 0", drain["calls"])
	}
}

// TestSIPpHoldResume: re-INVITE with a=sendonly is answered a=recvonly and
// Hotline stops sending; a=sendrecv resumes both ways. The hold lasts longer
// than rtp_timeout and must not end the call. Speech stays on: the caller's
// words after the resume interrupt the menu, and Hotline, listening to
// them, keeps sending (silence) until the BYE, which is what is counted.
func TestSIPpHoldResume(t *testing.T) {
	t.Parallel()
	needRoot(t)
	n := startHotline(t, "rtp_timeout: 3s", "")
	mediaPort, sipPort := freeMediaPort(t, "127.0.0.1"), freePort(t)
	capt := startCapture(t, fmt.Sprintf("udp port %d or udp port %d", mediaPort, sipPort))
	res := runSIPp(t, n, sippRun{Scenario: "uac_hold.xml", Timeout: 30 * time.Second, SIPPort: sipPort, Media: mediaPort})
	pkts := capt.stop(t)
	res.expectSuccess(t)

	call := map[string]any{"call_id": res.CallID}
	answered := n.logs.must(t, "call answered", call, time.Second)
	n.logs.must(t, "media updated", map[string]any{"call_id": res.CallID, "hold": true, "direction": "recvonly"}, time.Second)
	n.logs.must(t, "media updated", map[string]any{"call_id": res.CallID, "hold": false, "direction": "sendrecv"}, time.Second)
	end := n.logs.must(t, "call ended", call, 5*time.Second)
	if end["cause"] != "sip: far end hung up" {
		t.Errorf("call ended with cause %v, want the caller's BYE", end["cause"])
	}
	n.logs.none(t, "no rtp from caller, hanging up", call)

	// On the wire: Hotline's 200s to the hold (CSeq 2) and the resume
	// (CSeq 3), and its RTP before, during and after the hold.
	okAt := func(cseq string) time.Time {
		for _, p := range pkts {
			if p.Src.Port() == uint16(n.SIPPort) && bytes.HasPrefix(p.Payload, []byte("SIP/2.0 200")) &&
				bytes.Contains(p.Payload, []byte("CSeq: "+cseq+" INVITE")) {
				return p.Time
			}
		}
		t.Fatalf("no 200 OK for CSeq %s INVITE in the capture", cseq)
		return time.Time{}
	}
	held, resumed := okAt("2"), okAt("3")
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(mediaPort))
	var before, during, after int
	for _, p := range pkts {
		if p.Src != hotline || p.Dst != caller {
			continue
		}
		switch {
		case p.Time.Before(held):
			before++
		case p.Time.After(held.Add(100*time.Millisecond)) && p.Time.Before(resumed):
			during++
		case p.Time.After(resumed):
			after++
		}
	}
	t.Logf("Hotline's RTP packets: %d before the hold, %d during the %v hold, %d after", before, during, resumed.Sub(held).Round(time.Millisecond), after)
	if before < 25 || during != 0 || after < 50 {
		t.Errorf("Hotline's RTP: %d packets before the hold, %d during, %d after; want some, none, some", before, during, after)
	}

	// After the resume Hotline hears the caller again.
	rec := n.logs.must(t, "recording call", call, time.Second)
	ch := loadRecording(t, fmt.Sprint(rec["path"]))
	speech := loadSource(t, "test/audio/caller-pcm.wav")
	expectSignal(t, "caller speech after the resume, left channel", ch[0], speech[:sec(2.5)], sec(4), sec(9))
}

// TestSIPpRTPTimeout: a caller that answers but sends no RTP is hung up with
// BYE after rtp_timeout.
func TestSIPpRTPTimeout(t *testing.T) {
	t.Parallel()
	n := startHotline(t, "rtp_timeout: 2s", "")
	res := runSIPp(t, n, sippRun{Scenario: "uac_rtp_timeout.xml", Timeout: 25 * time.Second})
	res.expectSuccess(t)
	call := map[string]any{"call_id": res.CallID}
	answered := n.logs.must(t, "call answered", call, time.Second)
	timeout := n.logs.must(t, "no rtp from caller, hanging up", call, time.Second)
	end := n.logs.must(t, "call ended", call, 5*time.Second)
	if end["cause"] != "sip: rtp timeout" {
		t.Errorf("call ended with cause %v, want rtp timeout", end["cause"])
	}
	if d := logTime(t, timeout).Sub(logTime(t, answered)); d < 1900*time.Millisecond || d > 10*time.Second {
		t.Errorf("hung up %v after the answer, want about the 2 s rtp_timeout", d)
	}
	if !strings.Contains(res.Messages, "BYE sip:") {
		t.Error("SIPp's trace shows no BYE from Hotline")
	}
}

// TestSIPpRejected: requests Hotline must refuse, and digest authentication
// (over UDP and TCP), against one hotline with an authenticated trunk for
// 127.0.0.3 and an open one for 127.0.0.1; 127.0.0.2 is in no trunk.
func TestSIPpRejected(t *testing.T) {
	t.Parallel()
	needRoot(t) // the authenticated call replays speech from a pcap
	n := startHotline(t, `trunks:
  - name: carrier
    allow: [127.0.0.3]
    username: trunk1
    password_env: HOTLINE_TEST_SECRET
  - name: local
    allow: [127.0.0.1]`, "")

	t.Run("malformed SDP", func(t *testing.T) {
		res := runSIPp(t, n, sippRun{Scenario: "uac_bad_sdp.xml", Timeout: 10 * time.Second})
		res.expectSuccess(t)
		if !strings.Contains(res.Log, `warning: 399 Hotline "malformed sdp`) {
			t.Errorf("488 Warning %q, want 399 Hotline \"malformed sdp...\"", strings.TrimSpace(res.Log))
		}
		r := n.logs.must(t, "sdp not acceptable", map[string]any{"call_id": res.CallID}, time.Second)
		if !strings.HasPrefix(fmt.Sprint(r["reason"]), "malformed sdp") {
			t.Errorf("logged reason %v", r["reason"])
		}
		n.logs.none(t, "incoming call", map[string]any{"call_id": res.CallID})
	})

	t.Run("codec mismatch", func(t *testing.T) {
		res := runSIPp(t, n, sippRun{Scenario: "uac_codec_mismatch.xml", Timeout: 10 * time.Second})
		res.expectSuccess(t)
		if !strings.Contains(res.Log, `warning: 399 Hotline "no common codec: offered G729`) {
			t.Errorf("488 Warning %q, want 399 Hotline \"no common codec: offered G729...\"", strings.TrimSpace(res.Log))
		}
		n.logs.must(t, "sdp not acceptable", map[string]any{"call_id": res.CallID}, time.Second)
		n.logs.none(t, "incoming call", map[string]any{"call_id": res.CallID})
	})

	t.Run("unknown source", func(t *testing.T) {
		res := runSIPp(t, n, sippRun{Scenario: "uac_forbidden.xml", Timeout: 10 * time.Second, IP: "127.0.0.2"})
		res.expectSuccess(t)
		if !res.received("SIP/2.0 403", "CSeq: 1 INVITE") {
			t.Error("SIPp's trace shows no 403 for the INVITE")
		}
		n.logs.must(t, "sip request from address no trunk allows",
			map[string]any{"method": "INVITE", "source": fmt.Sprintf("127.0.0.2:%d", res.SIPPort)}, time.Second)
		n.logs.none(t, "incoming call", map[string]any{"call_id": res.CallID})
	})

	for _, transport := range []string{"udp", "tcp"} {
		t.Run("digest authentication over "+transport, func(t *testing.T) {
			args := []string{"-au", "trunk1", "-ap", "s3cret-pw"}
			if transport == "tcp" {
				args = append(args, "-t", "t1")
			}
			res := runSIPp(t, n, sippRun{Scenario: "uac_auth.xml", Timeout: 15 * time.Second, IP: "127.0.0.3", Args: args})
			res.expectSuccess(t)
			if !strings.Contains(res.Messages, "SIP/2.0 401") || !strings.Contains(res.Messages, "Authorization: Digest") {
				t.Error("SIPp's trace does not show the 401 challenge and the authenticated INVITE")
			}
			if via := "Via: SIP/2.0/" + strings.ToUpper(transport); !strings.Contains(res.Messages, via) {
				t.Errorf("SIPp's trace has no %q", via)
			}
			call := map[string]any{"call_id": res.CallID}
			n.logs.must(t, "call answered", map[string]any{"call_id": res.CallID, "trunk": "carrier"}, time.Second)
			end := n.logs.must(t, "call ended", call, 5*time.Second)
			if end["cause"] != "sip: far end hung up" {
				t.Errorf("call ended with cause %v, want the caller's BYE", end["cause"])
			}
			n.logs.none(t, "digest authentication failed", call)
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		res := runSIPp(t, n, sippRun{Scenario: "uac_auth.xml", Timeout: 10 * time.Second, IP: "127.0.0.3",
			Args: []string{"-au", "trunk1", "-ap", "not-the-password"}})
		if res.Code == 0 {
			t.Fatal("the call with a wrong password succeeded")
		}
		if !res.received("SIP/2.0 401", "CSeq: 2 INVITE") {
			t.Errorf("the call failed, but the authenticated INVITE got no 401:\n%s", res.Errors)
		}
		call := map[string]any{"call_id": res.CallID}
		n.logs.must(t, "digest authentication failed", map[string]any{"call_id": res.CallID, "username": "trunk1"}, time.Second)
		n.logs.none(t, "call answered", call)
		n.logs.none(t, "incoming call", call)
	})

	n.Stop()
	if strings.Contains(n.logs.text(), "s3cret-pw") {
		t.Error("the trunk password appears in Hotline's log")
	}
}

func mustAddrPort(t *testing.T, v any) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("address %v: %v", v, err)
	}
	return ap
}

// The caller's side vanishes mid-call (no more RTP, no answer to SIP), and
// then Hotline is stopped: after the drain time it sends its BYE, waits
// for an answer only a few seconds, and stops cleanly.
func TestStopWithAVanishedCaller(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	n := startHotline(t, "", "dialog: {brain: rules}")
	c := startSpokenCall(t, n, "slt", []string{"what are your opening hours", "goodbye"},
		[]time.Duration{4 * time.Second, 30 * time.Second})
	n.logs.must(t, "caller said", map[string]any{"call_id": c.sipp.res.CallID}, 20*time.Second)
	c.sipp.cancel()
	c.sipp.cmd.Wait()
	c.capt.stop(t)
	start := time.Now()
	n.Stop() // fails the test unless it exits cleanly within 15 s
	n.logs.must(t, "sip drain time over, hanging up", nil, time.Second)
	t.Logf("stopped %v after SIGTERM (drain time 2 s)", time.Since(start).Round(time.Millisecond))
}
