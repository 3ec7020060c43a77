package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// baresipCallSecs is how long the caller stays on the line after the answer:
// past the greeting and the menu (about 18.4 s) and into the menu's wait
// for a key (8 s by default), so the end of the recording must be silent.
const baresipCallSecs = 22

// TestBaresipCallHearsGreeting places a call with baresip exactly as the
// README shows (scripts/baresip-call.sh: headless, driven over ctrl_tcp,
// sending a WAV with aufile, recording what it hears with sndfile), and
// checks the caller's recording of what Hotline sent: the greeting and then
// the menu, sample-aligned, with their energy where the prompts have it and
// silence where they have none and after them.
//
// Hotline's menu runs with ivr.speech off here. This test is about the
// prompts' playout through a real softphone, sample by sample; the caller's
// audio (test/audio/caller-pcm.wav from the answer on) is there so baresip
// sends RTP as a phone does, and with speech on it would, rightly, stop the
// greeting at once. Barge-in and spoken choices are tested with SIPp, whose
// callers speak on a script (TestSIPpCallFlow, TestSIPpSpokenPhrases).
func TestBaresipCallHearsGreeting(t *testing.T) {
	t.Parallel()
	need(t, "baresip")
	need(t, "sox")
	n := startHotline(t, "", "ivr: {speech: false}")
	out := t.TempDir()

	ctx, cancel := context.WithTimeout(t.Context(), (baresipCallSecs+30)*time.Second)
	defer cancel()
	uri := fmt.Sprintf("sip:hotline@127.0.0.1:%d", n.SIPPort)
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "scripts", "baresip-call.sh"),
		uri, fmt.Sprint(baresipCallSecs), out)
	cmd.Dir = repoRoot
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("baresip-call.sh: %v\n%s\n%s", err, buf.String(), bsLogTail(filepath.Join(out, "baresip.log")))
	}

	// Hotline saw the caller hang up, and the caller's audio arrived.
	ended, ok := n.logs.wait("call ended", nil, 5*time.Second)
	if !ok {
		t.Fatal("hotline logged no \"call ended\"")
	}
	if cause := fmt.Sprint(ended["cause"]); !strings.Contains(cause, "far end hung up") {
		t.Errorf("call ended with cause %q, want the caller's BYE", cause)
	}
	rtp, _ := ended["rtp"].(map[string]any)
	minPackets := float64(50 * (baresipCallSecs - 2))
	if got, _ := rtp["received"].(float64); got < minPackets {
		t.Errorf("hotline received %v RTP packets from baresip, want at least %v", rtp["received"], minPackets)
	}
	// What Hotline sent is judged by what the caller heard, below; its clock
	// statistics show whether a loaded machine made it skip slots.
	t.Logf("hotline sent %v RTP packets; clock: %v frames, %v late, %v skipped",
		rtp["sent"], ended["frames"], ended["late_frames"], ended["skipped_frames"])

	heard, err := media.LoadWAVFile(filepath.Join(out, "heard.wav"), rate)
	if err != nil {
		t.Fatal(err)
	}
	greeting := loadSource(t, "prompts/greeting.wav")
	menu := loadSource(t, "prompts/menu.wav")

	// Where the greeting starts: coarsely by energy envelope, then to the
	// sample by correlation.
	coarse, _ := findSignal(heard, greeting, 0, 3*rate)
	gCorr, gStart := correlateNear(heard, greeting, coarse, rate/20)
	t.Logf("greeting heard at %.3f s, correlation %.4f", seconds(gStart), gCorr)
	if gCorr < 0.9 {
		t.Fatalf("greeting correlation %.3f, want >= 0.9: the caller did not hear the greeting", gCorr)
	}
	// The menu follows the greeting's last (padded) 20 ms frame.
	frame := media.FrameSamples(rate)
	mWant := gStart + (len(greeting)+frame-1)/frame*frame
	mCorr, mStart := correlateNear(heard, menu, mWant, 2*frame)
	t.Logf("menu heard at %.3f s (%+d samples from right after the greeting), correlation %.4f",
		seconds(mStart), mStart-mWant, mCorr)
	if mCorr < 0.9 {
		t.Errorf("menu correlation %.3f, want >= 0.9", mCorr)
	}

	// Energy where the prompts have it, silence where they have none.
	bsCheckEnvelope(t, "greeting", heard[gStart:], greeting)
	bsCheckEnvelope(t, "menu", heard[mStart:], menu)

	// Silence before the greeting and after the menu, until the hang-up.
	const guard = rate / 20 // 50 ms either side of the prompts
	if gStart > 2*guard {
		bsCheckSilent(t, "before the greeting", heard[:gStart-guard], 0)
	}
	// The recording holds the frames Hotline sent; a clock that fell behind
	// on a loaded machine skips slots, which shortens it, so ask for less
	// than the nominal 5 s.
	tailFrom, tailTo := mStart+len(menu)+guard, len(heard)-2*guard
	if tailTo-tailFrom < 3*rate/2 {
		t.Fatalf("only %.1f s heard after the menu (of %.1f s heard), want 1.5 s to check for silence",
			seconds(tailTo-tailFrom), seconds(len(heard)))
	}
	bsCheckSilent(t, "after the menu", heard[tailFrom:tailTo], tailFrom)
}

func seconds(samples int) float64 { return float64(samples) / rate }

// bsCheckEnvelope compares heard (aligned at ref's start) with ref in 100 ms
// segments: where ref speaks, heard must carry the same level; where ref is
// silent, heard must be too. A few segments may differ (a frame lost on a
// loaded machine shifts what follows it by 20 ms).
func bsCheckEnvelope(t *testing.T, what string, heard, ref []int16) {
	t.Helper()
	const seg = rate / 10
	var loud, quiet int
	var bad []string
	for i := 0; i+seg <= len(ref) && i+seg <= len(heard); i += seg {
		r, h := media.Level(ref[i:i+seg]), media.Level(heard[i:i+seg])
		switch {
		case r > -40:
			loud++
			if math.Abs(h-r) > 3 {
				bad = append(bad, fmt.Sprintf("%.1f s: heard %.1f dBFS where the prompt has %.1f dBFS", seconds(i), h, r))
			}
		case r < -60:
			quiet++
			if h > -50 {
				bad = append(bad, fmt.Sprintf("%.1f s: heard %.1f dBFS where the prompt is silent", seconds(i), h))
			}
		}
	}
	t.Logf("%s: %d speech and %d silent 100 ms segments, %d differ from the prompt", what, loud, quiet, len(bad))
	if len(bad) > (loud+quiet)/20 {
		t.Errorf("%s: %d of %d segments differ from the prompt:\n%s", what, len(bad), loud+quiet, strings.Join(bad, "\n"))
	}
	if loud < len(ref)/seg/3 {
		t.Errorf("%s: only %d speech segments in the prompt: is it speech?", what, loud)
	}
}

// bsCheckSilent requires every 100 ms of pcm (starting at sample offset in
// the recording) to be digital silence or close to it.
func bsCheckSilent(t *testing.T, what string, pcm []int16, offset int) {
	t.Helper()
	const seg = rate / 10
	for i := 0; i+seg <= len(pcm); i += seg {
		if l := media.Level(pcm[i : i+seg]); l > -60 {
			t.Errorf("%s: %.1f dBFS at %.1f s, want silence (< -60 dBFS)", what, l, seconds(offset+i))
			return
		}
	}
	t.Logf("%s: %.1f s of silence (%.1f dBFS)", what, seconds(len(pcm)), media.Level(pcm))
}

// bsLogTail returns the last lines of a log file for a failure message.
func bsLogTail(path string) string {
	b, err := exec.Command("tail", "-n", "40", path).Output()
	if err != nil {
		return ""
	}
	return string(b)
}
