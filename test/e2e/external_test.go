package e2e

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The dialog hands a caller to a destination outside Hotline (the partner
// line of routing.external, answered by SIPp): Hotline calls it and
// bridges the caller in, and the caller hears the partner.
func TestTransferOutside(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	partnerPort := freePort(t)
	partnerMedia := freeMediaPort(t, "127.0.0.1")
	n := startHotline(t, "", fmt.Sprintf(`dialog: {brain: rules, human_queue: partner}
routing: {external: [{name: partner, uri: "sip:partner@127.0.0.1:%d"}]}`, partnerPort))
	partner := startSIPp(t, n, sippRun{Scenario: "uas_answer.xml", Timeout: 90 * time.Second, SIPPort: partnerPort,
		Media: partnerMedia})

	c := startSpokenCall(t, n, "slt", []string{"i want to speak to an agent", "thank you"},
		[]time.Duration{4 * time.Second, 16 * time.Second})
	sr := c.sipp.wait(t)
	callerPkts := c.capt.stop(t)
	sr.expectSuccess(t)
	pr := partner.wait(t)
	pr.expectSuccess(t) // the partner's call ended with the caller's

	call := map[string]any{"call_id": sr.CallID}
	bridged := n.logs.must(t, "bridged outside", call, 5*time.Second)
	if bridged["destination"] != "partner" {
		t.Errorf("bridged %v", bridged)
	}
	n.logs.must(t, "outside call ended", call, 5*time.Second)

	answered := n.logs.must(t, "call answered", call, time.Second)
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
	toCaller := rtpFrames(callerPkts, hotline, caller)
	tBridged := logTime(t, bridged)
	first := len(toCaller)
	for i, f := range toCaller {
		if f.Time.After(tBridged) {
			first = i
			break
		}
	}
	heard, _ := rtpAudio(t, callerPkts, hotline, caller)
	source := loadSource(t, "test/audio/caller-ulaw.wav")
	looped := append(append([]int16(nil), source...), source...)
	start := first * 160
	expectSignal(t, "the partner heard by the caller", looped, clip(heard, start+sec(1), start+sec(4)), 0, len(source))
}
