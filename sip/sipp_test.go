package sip

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// TestDialSIPp dials SIPp running test/sipp/uas_answer.xml, a far end
// that is not sipgo: it rings, answers PCMU and streams recorded speech,
// which Hotline must hear; Hotline's BYE ends SIPp's one call.
func TestDialSIPp(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed")
	}
	s := newTestServer(t, testConfig(), func(context.Context, *Call) {})
	sipPort := freeUDPPort(t)
	mediaPort := freePortPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", "-sf", "test/sipp/uas_answer.xml", "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(sipPort), "-mp", strconv.Itoa(mediaPort), "-m", "1", "-timeout", "15s", "-nostdin")
	cmd.Dir = ".." // the scenario's audio path is relative to the repository
	if err := cmd.Start(); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	var oc *OutboundCall
	var err error
	for range 20 { // until SIPp listens
		oc, err = s.Dial(ctx, DialRequest{To: "sip:service@127.0.0.1:" + strconv.Itoa(sipPort), RingTimeout: 5 * time.Second})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial sipp: %v", err)
	}
	loud := 0
	for loud < 10 {
		f, err := oc.Leg.ReadFrame(ctx)
		if err != nil {
			t.Fatalf("no speech from sipp: %v", err)
		}
		if media.Level(f) > -40 {
			loud++
		}
	}
	if err := oc.Leg.Hangup(ctx); err != nil {
		t.Fatalf("bye: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("sipp: %v", err)
		}
		exited <- nil
	case <-ctx.Done():
		t.Fatal("sipp did not finish its call")
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
