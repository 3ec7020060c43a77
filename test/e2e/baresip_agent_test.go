package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// A SIPp caller asks for a person and reaches alice, whose phone is
// baresip: registered to Hotline with digest authentication, answering by
// itself, talking from a WAV and recording what it hears. The caller's
// voice is in alice's recording, alice's voice reaches the caller, and the
// caller's hang-up ends alice's call too.
func TestBaresipAgentAnswers(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	need(t, "baresip")
	need(t, "sox")
	sipSection, extra := agentConfig("{name: general, ring_timeout: 10s}")
	n := startHotline(t, sipSection, extra)

	phone := startBaresipAgent(t, n, "alice", e2eAgentPassword, filepath.Join(repoRoot, "test", "audio", "caller-ulaw.wav"))
	phone.registered(t, n, "alice")

	phrases := []string{"i want to speak to an agent", "hello my card was stolen yesterday"}
	c := startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 18 * time.Second})
	sr := c.sipp.wait(t)
	callerPkts := c.capt.stop(t)
	sr.expectSuccess(t)
	call := map[string]any{"call_id": sr.CallID}
	n.logs.must(t, "call ended", call, 10*time.Second)
	connected := n.logs.must(t, "agent connected", call, time.Second)
	if connected["agent"] != "alice" {
		t.Fatalf("connected %v", connected)
	}
	n.logs.must(t, "agent call ended", map[string]any{"call_id": sr.CallID, "agent": "alice"}, 5*time.Second)

	// Alice's phone saw the call end without hanging up itself, and
	// recorded what it heard: the caller's second phrase.
	heard := phone.stop(t)
	said, err := fliteSay(filepath.Join(t.TempDir(), "said.wav"), "slt", phrases[1])
	if err != nil {
		t.Fatal(err)
	}
	expectSignal(t, "the caller's voice in alice's recording", heard, said, 0, len(heard))

	// The caller heard alice's WAV after she answered.
	answered := n.logs.must(t, "call answered", call, time.Second)
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
	toCaller := rtpFrames(callerPkts, hotline, caller)
	tConnected := logTime(t, connected)
	first := 0
	for i, f := range toCaller {
		if f.Time.After(tConnected) {
			first = i
			break
		}
	}
	got, _ := rtpAudio(t, callerPkts, hotline, caller)
	source := loadSource(t, "test/audio/caller-ulaw.wav")
	looped := append(append([]int16(nil), source...), source...)
	start := first * 160
	expectSignal(t, "alice's voice heard by the caller", looped, clip(got, start+sec(1), start+sec(4)), 0, len(source))
}

// baresipAgent is an agent's phone: baresip, registered, answering calls
// by itself.
type baresipAgent struct {
	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

// startBaresipAgent registers user's phone to n and answers what rings:
// talking source (padded with silence), recording what it hears.
func startBaresipAgent(t *testing.T, n *node, user, password, source string) *baresipAgent {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rec"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "source.wav")
	if out, err := exec.Command("sox", source, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", src,
		"repeat", "20").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	sipPort := freePort(t)
	rtp := freeMediaPort(t, "127.0.0.1")
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "test", "baresip", "config"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"@SIP_LISTEN@", fmt.Sprintf("127.0.0.1:%d", sipPort),
		"@NET_INTERFACE@", "net_interface\t\t127.0.0.1",
		"@SOURCE@", src,
		"@RTP_PORTS@", fmt.Sprintf("%d-%d", rtp, rtp+3),
		"@CTRL_LISTEN@", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"@REC_DIR@", filepath.Join(dir, "rec"),
	).Replace(string(tmpl))
	account := fmt.Sprintf("<sip:%s@127.0.0.1:%d;transport=udp>;auth_pass=%s;answermode=auto;regint=60;audio_codecs=PCMU,PCMA\n",
		user, n.SIPPort, password)
	for name, body := range map[string]string{"config": cfg, "accounts": account} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := &baresipAgent{dir: dir, done: make(chan struct{})}
	a.cmd = exec.Command("baresip", "-f", dir)
	log, err := os.Create(filepath.Join(dir, "baresip.log"))
	if err != nil {
		t.Fatal(err)
	}
	a.cmd.Stdout, a.cmd.Stderr = log, log
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		a.cmd.Wait()
		log.Close()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
	})
	return a
}

// registered waits for user's phone to register with n; baresip's own log
// tells why when it does not.
func (a *baresipAgent) registered(t *testing.T, n *node, user string) {
	t.Helper()
	if _, ok := n.logs.wait("agent phone", map[string]any{"agent": user, "state": "available"}, 20*time.Second); !ok {
		b, _ := os.ReadFile(filepath.Join(a.dir, "baresip.log"))
		t.Fatalf("%s's phone did not register:\n%s", user, tail(string(b), 3000))
	}
}

// stop ends baresip and returns what it heard on its call.
func (a *baresipAgent) stop(t *testing.T) []int16 {
	t.Helper()
	a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
	dec, _ := filepath.Glob(filepath.Join(a.dir, "rec", "dump-*-dec.wav"))
	if len(dec) == 0 {
		b, _ := os.ReadFile(filepath.Join(a.dir, "baresip.log"))
		t.Fatalf("alice's phone recorded nothing:\n%s", tail(string(b), 3000))
	}
	pcm, err := media.LoadWAVFile(dec[0], rate)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}
