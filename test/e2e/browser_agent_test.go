package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/pcapfile"
	"github.com/hotline-cc/hotline/media"
)

// phoneRun is what test/browser/phone.mjs saw.
type phoneRun struct {
	Phone   string `json:"phone"`
	Ready   bool   `json:"ready"`
	Ringing struct {
		Caller, Queue, Summary, Phase string
		AcceptEnabled                 bool `json:"acceptEnabled"`
	} `json:"ringing"`
	Connected bool `json:"connected"`
	Samples   []struct {
		Level, Energy  float64
		Received, Sent int
		Codec          string
	} `json:"samples"`
	Ended string `json:"ended"`
	After struct {
		Phase, Wrapup string
	} `json:"after"`
	Error     string `json:"error"`
	PageError string `json:"pageError"`
}

// Alice signs in on the agent desktop in headless Chromium, whose browser
// phone is her only phone, and presses Ready. A SIP caller asks for an
// agent: her page rings with the screen pop, she accepts with A, and each
// hears the other until the caller hangs up, which ends her call too.
func TestBrowserAgentTakesACall(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	browserDir := needBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	sipSection, extra := agentConfig("{name: general, ring_timeout: 20s}")
	n := startHotline(t, sipSection, extra)
	api := "http://" + fmt.Sprint(n.logs.must(t, "api listening", nil, time.Second)["addr"])

	page := startPhonePage(t, ctx, api, browserDir)
	n.logs.must(t, "agent's browser phone connected", map[string]any{"agent": "alice"}, 30*time.Second)
	waitAgentState(t, api, "alice", "available", 20*time.Second)

	phrases := []string{"i want to speak to an agent", "hello my card was stolen yesterday"}
	c := startSpokenCall(t, n, "slt", phrases, []time.Duration{4 * time.Second, 20 * time.Second})
	sr := c.sipp.wait(t)
	callerPkts := c.capt.stop(t)
	sr.expectSuccess(t)
	run := page.wait(t, ctx)
	shots := page.shots

	call := map[string]any{"call_id": sr.CallID}
	n.logs.must(t, "call ended", call, 10*time.Second)
	n.logs.none(t, "call flow failed", call)
	n.logs.must(t, "agent's browser phone rings", call, time.Second)
	transfer := n.logs.must(t, "transfer", call, time.Second)
	connected := n.logs.must(t, "agent connected", call, time.Second)
	if connected["agent"] != "alice" {
		t.Errorf("connected %v", connected)
	}
	n.logs.must(t, "agent call ended", map[string]any{"call_id": sr.CallID, "agent": "alice"}, time.Second)

	// The screen pop came with the ring, before she accepted.
	if run.Phone != "phone: browser" || !run.Ringing.AcceptEnabled || run.Ringing.Queue != "general" {
		t.Errorf("ringing page: %+v (phone %q)", run.Ringing, run.Phone)
	}
	if s := run.Ringing.Summary; s == "" || s == "No summary." {
		t.Errorf("no summary on the ringing page: %+v", run.Ringing)
	}
	t.Logf("screen pop: caller %q, queue %q, summary %q", run.Ringing.Caller, run.Ringing.Queue, run.Ringing.Summary)
	if run.Ended != "idle" {
		t.Errorf("alice's phone after the caller hung up: %q, want idle", run.Ended)
	}

	run.heardCaller(t)
	answered := n.logs.must(t, "call answered", call, time.Second)
	tConnected := logTime(t, connected)
	callerHeardAgent(t, answered, sr, callerPkts, tConnected)
	t.Logf("transfer → connected %v", tConnected.Sub(logTime(t, transfer)).Round(time.Millisecond))
	t.Logf("screenshots in %s", shots)
}

// waitAgentState polls the API until agent is in state.
func waitAgentState(t *testing.T, api, agent, state string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, api+"/api/v1/agents/"+agent, nil)
		req.Header.Set("Authorization", "Bearer "+e2eAPIToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var a struct{ State string }
			_ = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
			if last = a.State; last == state {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("agent %s is %q after %v, want %s", agent, last, d, state)
}

// phonePage is test/browser/phone.mjs driving alice's agent desktop in
// headless Chromium, her microphone her greeting again and again.
type phonePage struct {
	out, stderr bytes.Buffer
	done        chan error
	shots       string
}

func startPhonePage(t *testing.T, ctx context.Context, api, browserDir string) *phonePage {
	t.Helper()
	pcm, err := fliteSay(filepath.Join(t.TempDir(), "alice.wav"), "slt", "hello, this is alice from the bank, how can i help you today")
	if err != nil {
		t.Fatal(err)
	}
	var mic []int16
	for len(mic) < 90*rate {
		mic = append(append(mic, pcm...), make([]int16, rate/2)...)
	}
	wav := micWAV(t, mic)
	p := &phonePage{done: make(chan error, 1), shots: os.Getenv("HOTLINE_SCREENSHOT_DIR")}
	if p.shots == "" {
		p.shots = t.TempDir()
	}
	page := exec.CommandContext(ctx, "node", "phone.mjs", api, "alice", e2eAgentPassword, wav, p.shots)
	page.Dir = browserDir
	page.Stdout, page.Stderr = &p.out, &p.stderr
	if err := page.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- page.Wait() }()
	return p
}

// wait is what the page saw, once it ended.
func (p *phonePage) wait(t *testing.T, ctx context.Context) phoneRun {
	t.Helper()
	var err error
	select {
	case err = <-p.done:
	case <-ctx.Done():
		t.Fatal("phone.mjs did not end")
	}
	t.Logf("phone.mjs: %s", p.stderr.String())
	var run phoneRun
	if jerr := json.Unmarshal(bytes.TrimSpace(p.out.Bytes()), &run); jerr != nil || err != nil || run.Error != "" {
		t.Fatalf("phone.mjs: %v, %v, %q", err, jerr, run.Error)
	}
	return run
}

// heardCaller: the page's inbound audio has energy, and its level peaks
// while the caller speaks to her.
func (run phoneRun) heardCaller(t *testing.T) {
	t.Helper()
	if len(run.Samples) < 4 {
		t.Fatalf("%d samples of the call's statistics", len(run.Samples))
	}
	last := run.Samples[len(run.Samples)-1]
	var peak float64
	for _, s := range run.Samples {
		peak = max(peak, s.Level)
	}
	t.Logf("alice's page: codec %s, %d packets in, %d out, energy %.4f, peak level %.3f", last.Codec, last.Received, last.Sent, last.Energy, peak)
	if last.Received < 200 || last.Sent < 200 || last.Energy <= 0 || peak < 0.01 {
		t.Errorf("alice heard too little: %+v, peak level %.3f", last, peak)
	}
}

// callerHeardAgent: the agent's voice on the caller's wire after the
// agent connected; answered is the caller's "call answered" log line.
func callerHeardAgent(t *testing.T, answered map[string]any, sr sippResult, callerPkts []pcapfile.Packet, tConnected time.Time) {
	t.Helper()
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
	var loud, after int
	var sum float64
	for _, f := range rtpFrames(callerPkts, hotline, caller) {
		if f.Time.Before(tConnected.Add(500 * time.Millisecond)) {
			continue
		}
		after++
		l := media.Level(f.PCM)
		if l > promptDBFS {
			loud++
			sum += l
		}
	}
	if after == 0 || loud < 50 {
		t.Fatalf("the caller heard %d loud frames of %d after alice answered", loud, after)
	}
	t.Logf("caller: %d of %d frames after the answer loud (mean %.1f dBFS)", loud, after, sum/float64(loud))
}
