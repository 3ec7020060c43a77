// Package browser runs Hotline's pages in headless Chromium: the caller
// page against a real webrtc.Server (the page's microphone, a WAV, must
// reach the server's leg, and the leg's audio the page), and the agent and
// supervisor desktops against the operator's API fed with live events.
package browser

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/web"
	"github.com/hotline-cc/hotline/webrtc"
)

// Frequencies of the two directions, apart from each other and from
// Chromium's own fake-microphone beep.
const (
	pageTone   = 1300.0 // the WAV the page's microphone plays
	hotlineHz  = 440.0  // what the leg says to the page
	wavRate    = 48000
	wavSeconds = 3
)

// pageResult is the line call.mjs prints.
type pageResult struct {
	Title  string   `json:"title"`
	States []string `json:"states"`
	Status string   `json:"status"`
	Meter  string   `json:"meter"`
	Error  string   `json:"error"`
	Stats  *struct {
		PacketsReceived  int     `json:"packetsReceived"`
		PacketsSent      int     `json:"packetsSent"`
		AudioLevel       float64 `json:"audioLevel"`
		TotalAudioEnergy float64 `json:"totalAudioEnergy"`
		Codec            string  `json:"codec"`
	} `json:"stats"`
}

// legResult is what the server's side of the call saw.
type legResult struct {
	codec  string
	heard  []int16
	digits string
	cause  error
}

// needBrowser finds Chromium and node and installs the Node packages; a
// browser test fails without them, unless -short skips it.
func needBrowser(t *testing.T) (chromium string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: runs headless Chromium for several seconds; skipped under -short")
	}
	chromium = cmp(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no Chromium at %s (scripts/setup.sh installs Debian's chromium): %v", chromium, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("no node (scripts/setup.sh installs nodejs and npm)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "./setup.sh").CombinedOutput(); err != nil {
		t.Fatalf("test/browser/setup.sh: %v\n%s", err, out)
	}
	return chromium
}

// screenshotDir is where a test's screenshots go: $HOTLINE_SCREENSHOT_DIR,
// or a temporary directory.
func screenshotDir(t *testing.T) string {
	return cmp(os.Getenv("HOTLINE_SCREENSHOT_DIR"), t.TempDir())
}

// openStore opens a SQLite store at path, closed when the test ends.
func openStore(ctx context.Context, t *testing.T, path string) *store.Store {
	t.Helper()
	sc := store.DefaultConfig()
	sc.Path = path
	st, err := store.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// warnLog writes warnings and errors to the test's output.
func warnLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// serveAPI serves the operator's API over loopback until the test ends,
// with supToken a supervisor's token; recordings is its recordings
// folder, if any.
func serveAPI(t *testing.T, recordings string, deps api.Deps, log *slog.Logger) *httptest.Server {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Tokens = []api.Token{{Name: "sup", Role: "supervisor", Value: supToken}}
	cfg.RecordingsDir = recordings
	h, err := api.New(cfg, deps, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs
}

// script is a node script of this folder, args[0], that drives Chromium
// and prints its steps as JSON lines.
func script(ctx context.Context, t *testing.T, chromium string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	cmd.Stderr = t.Output()
	return cmd
}

// startScript starts a script and returns its standard output.
func startScript(t *testing.T, cmd *exec.Cmd) io.Reader {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return stdout
}

// waitScript waits for a script to end; its failure fails a test that
// has not failed yet.
func waitScript(t *testing.T, cmd *exec.Cmd) {
	if err := cmd.Wait(); err != nil && !t.Failed() {
		t.Errorf("%s: %v", cmd.Args[1], err)
	}
}

// stepHead is what every step a script prints has: its name, and what
// went wrong in a failed one.
type stepHead struct {
	Step  string `json:"step"`
	Error string `json:"error"`
}

func (h stepHead) head() stepHead { return h }

// readSteps reads the steps a script prints on out, logging its other
// lines. next(want) is the next step; a step other than want, or the end,
// cancels the script and fails the test.
func readSteps[S interface{ head() stepHead }](t *testing.T, cancel context.CancelFunc, name string, out io.Reader) (next func(want string) S) {
	steps := bufio.NewScanner(out)
	steps.Buffer(nil, 1<<20)
	return func(want string) S {
		t.Helper()
		for steps.Scan() {
			var s S
			if json.Unmarshal(steps.Bytes(), &s) != nil {
				t.Logf("%s: %s", name, steps.Text())
				continue
			}
			if h := s.head(); h.Step != want {
				cancel()
				t.Fatalf("%s at %q, want %q: %s", name, h.Step, want, h.Error)
			}
			return s
		}
		cancel()
		t.Fatalf("%s ended before %q: %v", name, want, steps.Err())
		var none S
		return none
	}
}

func TestCallerPageInChromium(t *testing.T) {
	chromium := needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeWAV(t, wav, audiotest.Tone(wavRate, pageTone, 0.5, wavRate*wavSeconds))

	cfg := webrtc.DefaultConfig()
	cfg.LoopbackOnly = true
	results := make(chan legResult, 1)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := webrtc.NewServer(cfg, func(ctx context.Context, c *webrtc.Call) {
		res := legResult{codec: c.Codec}
		tone := audiotest.Tone(8000, hotlineHz, 0.3, 8000)
		go func() {
			for i := 0; ; i++ {
				off := (i * 160) % len(tone)
				if c.Leg.WriteFrame(ctx, tone[off:off+160]) != nil {
					return
				}
			}
		}()
		for {
			select {
			case d := <-c.Leg.Digits():
				res.digits += d.String()
				continue
			default:
			}
			f, err := c.Leg.ReadFrame(ctx)
			if err != nil {
				break
			}
			res.heard = append(res.heard, f...)
		}
		res.cause = context.Cause(ctx)
		results <- res
	}, log)
	mux := http.NewServeMux()
	mux.Handle("/ws/", srv.Handler())
	mux.Handle("/", web.Handler())
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	shot := filepath.Join(screenshotDir(t), "caller.png")
	out, err := script(ctx, t, chromium, "call.mjs", hs.URL+"/caller/", wav, "4", shot).Output()
	var page pageResult
	if jerr := json.Unmarshal(lastLine(out), &page); jerr != nil {
		t.Fatalf("call.mjs: %v, output %q (%v)", err, out, jerr)
	}
	t.Logf("page: %s", lastLine(out))
	if err != nil || page.Error != "" {
		t.Fatalf("call.mjs: %v: %s", err, page.Error)
	}

	var leg legResult
	select {
	case leg = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's call did not end after the page hung up")
	}
	if page.Title != "Call us" || strings.Join(page.States, ",") != "connected,ended" {
		t.Errorf("page title %q states %v", page.Title, page.States)
	}
	// The page heard Hotline: packets arrived, decoded to sound.
	if s := page.Stats; s == nil || s.PacketsReceived < 100 || (s.AudioLevel <= 0 && s.TotalAudioEnergy <= 0) || s.Codec != "audio/PCMU" {
		t.Errorf("page inbound audio: %+v", page.Stats)
	}
	// Hotline heard the page's microphone.
	if leg.codec != "PCMU" || !strings.Contains(leg.cause.Error(), "hung up by the page") {
		t.Errorf("leg codec %s cause %v", leg.codec, leg.cause)
	}
	best := bestSecond(leg.heard, pageTone)
	if best < 0.5 {
		t.Errorf("the leg did not hear the page's %g Hz tone: best one-second share %.2f of %d samples", pageTone, best, len(leg.heard))
	}
	if !strings.Contains(leg.digits, "5") {
		t.Errorf("digits %q, want the 5 the page pressed", leg.digits)
	}
	t.Logf("leg heard %.1f s, %g Hz share %.2f, digits %q", float64(len(leg.heard))/8000, pageTone, best, leg.digits)
}

// bestSecond is the highest share of freq in any one-second window of pcm.
func bestSecond(pcm []int16, freq float64) float64 {
	best := 0.0
	for i := 0; i+8000 <= len(pcm); i += 4000 {
		best = math.Max(best, audiotest.ToneShare(pcm[i:i+8000], 8000, freq))
	}
	return best
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeWAV writes 16-bit mono PCM at wavRate, the format Chromium's fake
// microphone plays.
func writeWAV(t *testing.T, path string, pcm []int16) {
	t.Helper()
	data := make([]byte, 44+2*len(pcm))
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*len(pcm)))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], wavRate)
	binary.LittleEndian.PutUint32(data[28:], wavRate*2)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(pcm)))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(s))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
