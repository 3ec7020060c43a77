package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// A caller on the "Call us" page, in headless Chromium, asks a question
// aloud and goes through the same dialog as a phone caller: Hotline hears
// them over WebRTC and answers from the knowledge base.
func TestBrowserCallerTalksWithHotline(t *testing.T) {
	t.Parallel()
	need(t, "flite")
	browserDir := needBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	n := startHotline(t, "", "dialog: {brain: rules}")
	page := "http://" + fmt.Sprint(n.logs.must(t, "caller page listening", nil, time.Second)["addr"]) + "/caller/"

	// The page's microphone: the question 4 s after the call starts (after
	// the greeting), then silence; Chromium loops the file, so it lasts
	// longer than the call.
	pcm, err := fliteSay(filepath.Join(t.TempDir(), "q.wav"), "slt", "what are your opening hours")
	if err != nil {
		t.Fatal(err)
	}
	mic := append(make([]int16, 4*rate), pcm...)
	mic = append(mic, make([]int16, 40*rate-len(mic))...)
	addLineNoise(mic)
	wav := micWAV(t, mic)

	cmd := exec.CommandContext(ctx, "node", "call.mjs", page, wav, "16")
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "HOTLINE_NO_KEYS=1")
	out, err := cmd.CombinedOutput()
	t.Logf("page: %s", strings.TrimSpace(string(out)))
	if err != nil || !strings.Contains(string(out), `"states":["connected","ended"]`) {
		t.Fatalf("call.mjs: %v", err)
	}

	started := n.logs.must(t, "recording call", map[string]any{"component": "webrtc"}, 5*time.Second)
	call := map[string]any{"call_id": started["call_id"]}
	heard := n.logs.must(t, "caller said", call, 5*time.Second)
	if heard["text"] != "what are your opening hours" {
		t.Errorf("Hotline heard %q from the page", heard["text"])
	}
	var answered bool
	for _, r := range n.logs.find("hotline said", call) {
		answered = answered || strings.Contains(fmt.Sprint(r["text"]), "Monday to Friday")
	}
	if !answered {
		t.Errorf("Hotline did not answer the opening hours:\n%s", n.logs.textAbove("DEBUG"))
	}
	n.logs.must(t, "caller emotion over the call", call, 10*time.Second)
}

// needBrowser makes sure headless Chromium and the browser test's Node
// packages are there (test/browser/setup.sh, which does nothing once they
// are) and returns the folder of the Playwright scripts.
func needBrowser(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs headless Chromium; skipped under -short")
	}
	need(t, "node")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("no Chromium (scripts/setup.sh installs it): %v", err)
	}
	dir := filepath.Join(repoRoot, "test", "browser")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	setup := exec.CommandContext(ctx, "./setup.sh")
	setup.Dir = dir
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("test/browser/setup.sh: %v\n%s", err, out)
	}
	return dir
}

// micWAV writes pcm as the WAV a page's fake microphone plays.
func micWAV(t *testing.T, pcm []int16) string {
	t.Helper()
	wav := filepath.Join(t.TempDir(), "mic.wav")
	w, err := media.NewRecorder(wav, rate, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.WriteMono(pcm), w.Close()); err != nil {
		t.Fatal(err)
	}
	return wav
}
