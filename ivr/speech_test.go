//go:build cgo

package ivr

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/tts"
)

// The menu with the real embedded engines: pocketsphinx hears the caller,
// flite speaks the answers, and the caller's voice is another flite voice
// sent through G.711 as a phone line would carry it.

func embeddedEngines(t *testing.T) Engines {
	t.Helper()
	rec, err := asr.New(asr.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tts.DefaultConfig()
	cfg.CacheDir = ""
	syn, err := tts.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rec.(io.Closer).Close()
		syn.(io.Closer).Close()
	})
	return Engines{ASR: rec, TTS: syn}
}

// callerVoice is text as the caller says it: flite's rms voice (Hotline
// speaks with slt), μ-law companded.
func callerVoice(t *testing.T, text string) []int16 {
	t.Helper()
	cfg := tts.DefaultConfig()
	cfg.Voice, cfg.CacheDir, cfg.CacheMemoryMB = "rms", "", 0
	syn, err := tts.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer syn.(io.Closer).Close()
	s, err := syn.Synthesize(t.Context(), text, rate)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := tts.ReadAll(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm))
}

// call runs the menu on a pipe and keeps what the caller hears and the
// turns the call records.
type call struct {
	caller media.Leg
	heard  listener
	logs   bytes.Buffer
	mu     sync.Mutex
	turns  []Turn
	served chan error
}

func startCall(t *testing.T, cfg Config, p *Prompts, eng Engines) *call {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	caller, hotline := media.NewPipe(ctx, rate)
	c := &call{caller: caller, served: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &c.logs, mu: &c.mu}, nil))
	m, err := New(cfg, p, eng, log)
	if err != nil {
		t.Fatal(err)
	}
	go c.heard.run(ctx, caller)
	go func() {
		c.served <- m.Serve(ctx, Call{Leg: hotline, Log: log, MessagePath: t.TempDir() + "/msg.wav",
			Emotion: prosody.NewTracker(prosody.DefaultConfig()),
			OnTurn: func(tn Turn) {
				c.mu.Lock()
				c.turns = append(c.turns, tn)
				c.mu.Unlock()
			}})
	}()
	t.Cleanup(func() {
		cancel()
		<-c.served
	})
	return c
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// until polls cond for up to d.
func until(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// turn returns the first recorded turn that match accepts.
func (c *call) turn(match func(Turn) bool) (Turn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tn := range c.turns {
		if match(tn) {
			return tn, true
		}
	}
	return Turn{}, false
}

func (c *call) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

func callerSaid(text string) func(Turn) bool {
	return func(tn Turn) bool { return tn.Speaker == "caller" && tn.Key == "" && tn.Text == text }
}

func TestSpokenChoiceBargesIntoGreeting(t *testing.T) {
	eng := embeddedEngines(t)
	p := tonePrompts()
	p.Greeting = audiotest.Tone(rate, 500, 0.3, seconds(4))
	c := startCall(t, DefaultConfig(), p, eng)
	words := callerVoice(t, "echo test")

	time.Sleep(500 * time.Millisecond)
	speak(t, t.Context(), c.caller, words)
	speak(t, t.Context(), c.caller, make([]int16, seconds(1)))

	if !until(5*time.Second, func() bool { return c.heard.heard(700) > 20 }) {
		t.Fatalf("the echo test did not start after the caller said \"echo test\"\n%s", c.log())
	}
	// 4 s of greeting, cut about 0.1 s after the caller began at 0.5 s.
	if n := c.heard.heard(500); n > 50 {
		t.Errorf("greeting played %d frames (%.1f s): speech did not cut it", n, float64(n)/50)
	}
	tn, ok := c.turn(callerSaid("echo test"))
	if !ok {
		t.Fatalf("no caller turn \"echo test\" recorded\n%s", c.log())
	}
	if tn.Provider != "embedded" || tn.Duration < 300*time.Millisecond {
		t.Errorf("caller turn %+v", tn)
	}
	// The first turn starts the caller's baseline: a cue from the words
	// only, with the voice measured.
	if e := tn.Emotion; e == nil || e.Turn != 1 || e.Baseline || e.Features.Voiced == 0 {
		t.Errorf("caller turn's emotion cue %+v, want turn 1 with the voice measured", e)
	}
	if g, ok := c.turn(func(tn Turn) bool { return tn.Prompt == "greeting" }); !ok || !g.Interrupted {
		t.Errorf("greeting turn %+v, want interrupted", g)
	}
	for _, want := range []string{`msg=barge-in prompt=greeting by=speech`, `msg="menu choice" choice=echo by=speech`} {
		if !strings.Contains(c.log(), want) {
			t.Errorf("log lacks %q:\n%s", want, c.log())
		}
	}
}

func TestSpokenQuestionIsAnswered(t *testing.T) {
	eng := embeddedEngines(t)
	cfg := DefaultConfig()
	c := startCall(t, cfg, tonePrompts(), eng)
	// Greeting and menu are 2 s of tones; the caller asks after them.
	time.Sleep(2300 * time.Millisecond)
	speak(t, t.Context(), c.caller, callerVoice(t, "when are you open"))

	answer := cfg.Answers[0].Say
	// The turn is recorded when the answer (5.5 s) has been spoken.
	if !until(10*time.Second, func() bool {
		tn, ok := c.turn(func(tn Turn) bool { return tn.Speaker == "hotline" && tn.Text == answer })
		return ok && tn.Duration > time.Second
	}) {
		t.Fatalf("the answer was not spoken\n%s", c.log())
	}
	if _, ok := c.turn(callerSaid("when are you open")); !ok {
		t.Errorf("caller turn not recorded\n%s", c.log())
	}
	// The answer is speech, not one of the tone prompts: the caller heard
	// seconds of audio that is none of them.
	c.heard.mu.Lock()
	speech := 0
	for _, f := range c.heard.frames {
		if media.Level(f) > -35 && audiotest.ToneShare(f, rate, 500) < 0.5 && audiotest.ToneShare(f, rate, 600) < 0.5 {
			speech++
		}
	}
	c.heard.mu.Unlock()
	if speech < 75 {
		t.Errorf("caller heard %d frames of speech, want the answer's seconds", speech)
	}
	if !strings.Contains(c.log(), `msg="hotline said"`) {
		t.Errorf("no \"hotline said\" log line:\n%s", c.log())
	}
}

func TestSpeechOutsideTheMenuIsNotUnderstood(t *testing.T) {
	eng := embeddedEngines(t)
	c := startCall(t, DefaultConfig(), tonePrompts(), eng)
	time.Sleep(2300 * time.Millisecond)
	speak(t, t.Context(), c.caller, callerVoice(t, "my washing machine leaks water on the kitchen floor"))

	if !until(5*time.Second, func() bool { return c.heard.heard(1300) > 15 }) {
		t.Fatalf("no not-understood prompt\n%s", c.log())
	}
	if _, ok := c.turn(callerSaid("")); !ok {
		t.Errorf("no caller turn with an empty transcript\n%s", c.log())
	}
	if strings.Contains(c.log(), "menu choice") {
		t.Errorf("out-of-menu speech chose something:\n%s", c.log())
	}
}

// A recognition service that hangs: the caller hears "one moment, please"
// while Hotline waits, and the embedded fallback still understands them.
func TestSlowRecognizerHoldsOnAndFallsBack(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	defer close(release)
	t.Setenv("OPENAI_API_KEY", "sk-test")
	acfg := asr.DefaultConfig()
	acfg.Provider, acfg.Fallback = "openai", "embedded"
	acfg.OpenAI.BaseURL, acfg.OpenAI.Timeout = srv.URL, 2*time.Second
	rec, err := asr.New(acfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := embeddedEngines(t)
	eng.ASR = rec

	cfg := DefaultConfig()
	cfg.HoldOn = 500 * time.Millisecond
	c := startCall(t, cfg, tonePrompts(), eng)
	time.Sleep(2300 * time.Millisecond)
	speak(t, t.Context(), c.caller, callerVoice(t, "echo test"))

	if !until(8*time.Second, func() bool { return c.heard.heard(700) > 20 }) {
		t.Fatalf("the echo test did not start\n%s", c.log())
	}
	if n := c.heard.heard(1500); n < 15 {
		t.Errorf("one-moment prompt: %d frames heard, want it while the service hung", n)
	}
	tn, ok := c.turn(callerSaid("echo test"))
	if !ok || tn.Provider != "embedded" || tn.Latency < 2*time.Second {
		t.Errorf("caller turn %+v (found %v): want the embedded fallback after the 2 s timeout", tn, ok)
	}
}

// A caller who talks on over "not understood" is still on the same try: a
// sentence with pauses, heard as two turns, does not use up the menu.
func TestTalkingOnIsOneTry(t *testing.T) {
	eng := embeddedEngines(t)
	cfg := DefaultConfig()
	cfg.MenuRepeats = 1
	p := tonePrompts()
	p.NotUnderstood = audiotest.Tone(rate, 1300, 0.3, seconds(3))
	c := startCall(t, cfg, p, eng)
	time.Sleep(2300 * time.Millisecond)
	speak(t, t.Context(), c.caller, callerVoice(t, "my washing machine leaks water"))
	speak(t, t.Context(), c.caller, make([]int16, seconds(1.2)))
	speak(t, t.Context(), c.caller, callerVoice(t, "all over the kitchen floor"))

	if !until(10*time.Second, func() bool {
		select {
		case err := <-c.served:
			c.served <- err
			return true
		default:
			return false
		}
	}) {
		t.Fatal("the menu did not end after the caller's one try")
	}
	var said int
	c.mu.Lock()
	for _, tn := range c.turns {
		if tn.Speaker == "caller" {
			said++
		}
	}
	c.mu.Unlock()
	if said < 2 {
		t.Fatalf("%d caller turns: the second part of the sentence was not heard before goodbye\n%s", said, c.log())
	}
	if n := c.heard.heard(1200); n < 20 {
		t.Errorf("goodbye: %d frames", n)
	}
}
