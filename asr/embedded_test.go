//go:build cgo

package asr

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/media"
)

var (
	embeddedOnce sync.Once
	embeddedRec  *Embedded
	embeddedErr  error
)

// testEmbedded shares one recognizer (and its decoder pool) among tests.
func testEmbedded(t testing.TB) *Embedded {
	t.Helper()
	embeddedOnce.Do(func() {
		embeddedRec, embeddedErr = NewEmbedded(DefaultEmbeddedConfig(), "en", nil)
	})
	if embeddedErr != nil {
		t.Skipf("embedded recognizer unavailable (scripts/setup.sh installs pocketsphinx-en-us): %v", embeddedErr)
	}
	return embeddedRec
}

// telephone is speech as a SIP leg hears it: 8 kHz through μ-law.
func telephone(t testing.TB, voice, text string) []int16 {
	return withSilence(synth(t, voice, text, 8000, true), 8000, 300, 400)
}

// TestEmbeddedMenuPhrasesG711 is the real-audio check: menu phrases spoken
// by two flite voices, carried at 8 kHz through μ-law, recognized with the
// grammar of all of them.
func TestEmbeddedMenuPhrasesG711(t *testing.T) {
	e := testEmbedded(t)
	opts := Options{SampleRate: 8000, Grammar: menuPhrases}
	var total, right int
	for _, voice := range []string{"slt", "rms"} {
		for _, p := range menuPhrases {
			pcm := telephone(t, voice, p)
			r, err := recognize(t, e, pcm, opts)
			if err != nil {
				t.Fatalf("%s %q: %v", voice, p, err)
			}
			total++
			if r.Text == p {
				right++
			} else {
				t.Logf("%s: said %q, heard %q", voice, p, r.Text)
			}
			length := samplesDuration(int64(len(pcm)), 8000)
			if r.Text != "" && (r.Start < 200*time.Millisecond || r.End <= r.Start || r.End > length-300*time.Millisecond) {
				// 300 ms of silence lead and 400 ms trail the speech.
				t.Errorf("%s %q: words at %v..%v of a %v utterance", voice, p, r.Start, r.End, length)
			}
			if !r.Final || r.Provider != "embedded" || r.Confidence != -1 {
				t.Errorf("%s %q: result %+v", voice, p, r)
			}
		}
	}
	rate := float64(right) / float64(total)
	t.Logf("recognized %d of %d phrases exactly (%.0f %%), 8 kHz G.711 μ-law, flite voices slt and rms", right, total, 100*rate)
	if rate < 0.9 {
		t.Errorf("recognition rate %.0f %%, want at least 90 %%", 100*rate)
	}
}

// TestEmbeddedRejects: silence, noise, clipped speech and sentences outside
// the grammar give no transcript rather than the nearest phrase.
func TestEmbeddedRejects(t *testing.T) {
	e := testEmbedded(t)
	opts := Options{SampleRate: 8000, Grammar: menuPhrases}
	ulaw := func(pcm []int16) []int16 { return media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm)) }
	rng := rand.New(rand.NewPCG(3, 4))
	noise := func(rms float64) []int16 {
		pcm := make([]int16, 2*8000)
		for i := range pcm {
			pcm[i] = int16(max(-32768, min(32767, rng.NormFloat64()*rms)))
		}
		return ulaw(pcm)
	}
	clipped := func(text string) []int16 {
		pcm := synth(t, "rms", text, 8000, false)
		for i, v := range pcm {
			pcm[i] = int16(max(-32768, min(32767, 20*int(v)))) // +26 dB into the rails
		}
		return withSilence(ulaw(pcm), 8000, 300, 300)
	}
	mustBeEmpty := map[string][]int16{
		"silence":                 make([]int16, 8000),
		"digital zero, 1 frame":   make([]int16, 160),
		"noise -40 dBFS":          noise(330),
		"noise -20 dBFS":          noise(3300),
		"noise -10 dBFS":          noise(10000),
		"clipped agent":           clipped("agent"),
		"clipped leave a message": clipped("leave a message"),
		"full-scale square":       ulaw(square(8000, 440, 16000)),
	}
	for name, pcm := range mustBeEmpty {
		r, err := recognize(t, e, pcm, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if r.Text != "" {
			t.Errorf("%s: heard %q, want nothing", name, r.Text)
		}
	}
	// Speech outside the grammar: most of it is rejected; what is not
	// becomes a phrase, which the dialog confirms as it would a mishearing.
	outside := []string{"hello how are you", "what is the weather like today", "I want to pay my bill",
		"purple elephant", "can you hear me", "my name is John Smith", "I lost my credit card",
		"where is my package", "thank you very much", "the quick brown fox"}
	var rejected, n int
	for _, voice := range []string{"slt", "rms"} {
		for _, p := range outside {
			r, err := recognize(t, e, telephone(t, voice, p), opts)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if r.Text == "" {
				rejected++
			} else {
				t.Logf("%s: said %q (not in the grammar), heard %q", voice, p, r.Text)
			}
		}
	}
	t.Logf("rejected %d of %d sentences outside the grammar", rejected, n)
	if rejected*10 < n*7 {
		t.Errorf("rejected %d of %d sentences outside the grammar, want at least 70 %%", rejected, n)
	}
}

func square(rate int, freq float64, samples int) []int16 {
	pcm := make([]int16, samples)
	for i := range pcm {
		if int(float64(i)*2*freq/float64(rate))%2 == 0 {
			pcm[i] = 32767
		} else {
			pcm[i] = -32768
		}
	}
	return pcm
}

// testData is Debian's pocketsphinx-testdata: recordings of people, which
// the flite voices are not.
const testData = "/usr/share/pocketsphinx/test/data"

// TestEmbeddedHumanSpeech recognizes recorded human speech (card names,
// with a card grammar) on a telephone line and on a wideband leg.
func TestEmbeddedHumanSpeech(t *testing.T) {
	e := testEmbedded(t)
	if _, err := os.Stat(filepath.Join(testData, "cards")); err != nil {
		t.Skip("pocketsphinx-testdata not installed (scripts/setup.sh installs it)")
	}
	said := []string{"ten of clubs", "four queen of clubs", "seven of clubs", "five five",
		"eight of spades four of clubs seven of hearts"}
	grammar := append([]string(nil), said...)
	for _, rank := range []string{"ace", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "jack", "queen", "king"} {
		for _, suit := range []string{"clubs", "diamonds", "hearts", "spades"} {
			grammar = append(grammar, rank+" of "+suit)
		}
	}
	for _, rate := range []int{8000, 16000} {
		for i, want := range said {
			pcm, err := media.LoadWAVFile(filepath.Join(testData, fmt.Sprintf("cards/%03d.wav", i+1)), rate)
			if err != nil {
				t.Fatal(err)
			}
			if rate == 8000 {
				pcm = media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm))
			}
			r, err := recognize(t, e, pcm, Options{SampleRate: rate, Grammar: grammar})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != want {
				t.Errorf("%d Hz: said %q, heard %q", rate, want, r.Text)
			}
		}
	}
}

// TestEmbeddedOpenVocabularyWideband uses the n-gram model on 16 kHz
// speech with no grammar.
func TestEmbeddedOpenVocabularyWideband(t *testing.T) {
	e := testEmbedded(t)
	raw, err := os.ReadFile(filepath.Join(testData, "goforward.raw"))
	if err != nil {
		t.Skip("pocketsphinx-testdata not installed (scripts/setup.sh installs it)")
	}
	pcm := make([]int16, len(raw)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	// The same speech as a 48 kHz WebRTC leg would give it.
	r, err := recognize(t, e, media.Resample(pcm, 16000, 48000), Options{SampleRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("open vocabulary, 48 kHz: %q", r.Text)
	if !strings.Contains(r.Text, "forward") || !strings.Contains(r.Text, "meters") {
		t.Errorf("heard %q, want go forward ten meters", r.Text)
	}
}

func TestEmbeddedRefusals(t *testing.T) {
	e := testEmbedded(t)
	ctx := context.Background()
	_, err := e.NewStream(ctx, Options{SampleRate: 8000})
	if !errors.Is(err, ErrNeedGrammar) {
		t.Errorf("8 kHz, no grammar: %v, want ErrNeedGrammar", err)
	}
	if _, err := e.NewStream(ctx, Options{SampleRate: 8000, Language: "zh", Grammar: []string{"yes"}}); !errors.Is(err, ErrLanguage) {
		t.Errorf("zh: %v, want ErrLanguage", err)
	}
	if _, err := e.NewStream(ctx, Options{SampleRate: 0, Grammar: []string{"yes"}}); err == nil {
		t.Error("rate 0 accepted")
	}
	_, err = e.NewStream(ctx, Options{SampleRate: 8000, Grammar: []string{"xyzzyq", "frobnicatee"}})
	if err == nil || !strings.Contains(err.Error(), "xyzzyq") {
		t.Errorf("grammar of unknown words: %v, want an error naming them", err)
	}
	if err := e.CheckGrammar([]string{"agent", "speak to Xyzzyq"}); err == nil || !strings.Contains(err.Error(), "xyzzyq") {
		t.Errorf("CheckGrammar: %v", err)
	}
	if err := e.CheckGrammar(menuPhrases); err != nil {
		t.Errorf("CheckGrammar(menu): %v", err)
	}
	// Apostrophes and digits pass through JSGF.
	s, err := e.NewStream(ctx, Options{SampleRate: 8000, Grammar: []string{"I don't know", "press 1", "o'clock"}})
	if err != nil {
		t.Errorf("grammar with apostrophes: %v", err)
	} else {
		s.Close()
	}
	// A grammar with one unknown phrase still hears the others.
	r, err := recognize(t, e, telephone(t, "slt", "agent"), Options{SampleRate: 8000, Grammar: []string{"agent", "xyzzyq", "billing"}})
	if err != nil || r.Text != "agent" {
		t.Errorf("partly unknown grammar: %q, %v", r.Text, err)
	}
}

func TestEmbeddedStreamLifecycle(t *testing.T) {
	e := testEmbedded(t)
	ctx := context.Background()
	pcm := telephone(t, "rms", "repeat the greeting")
	s, err := e.NewStream(ctx, Options{SampleRate: 8000, Grammar: menuPhrases})
	if err != nil {
		t.Fatal(err)
	}
	var partials []Result
	done := make(chan struct{})
	go func() {
		for p := range s.Partials() {
			partials = append(partials, p)
		}
		close(done)
	}()
	for i := 0; i < len(pcm); i += 160 {
		if err := s.Write(pcm[i:min(i+160, len(pcm))]); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	r, err := s.Finish(ctx)
	took := time.Since(began)
	if err != nil || r.Text != "repeat the greeting" {
		t.Fatalf("Finish: %+v, %v", r, err)
	}
	<-done // Finish closed Partials
	t.Logf("Finish took %v; %d partials: %v", took, len(partials), partials)
	if len(partials) == 0 {
		t.Error("no partial results")
	}
	for _, p := range partials {
		if p.Final || p.Text == "" {
			t.Errorf("partial %+v", p)
		}
	}
	expectFinished(t, ctx, s)

	// Abandoned mid-utterance, from another goroutine: the decoder goes
	// back to the pool clean and the next utterance is unaffected.
	s, err = e.NewStream(ctx, Options{SampleRate: 8000, Grammar: menuPhrases})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(telephone(t, "slt", "billing")[:4000])
	go s.Close()
	for range s.Partials() {
	}
	if _, err := s.Finish(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish after Close: %v", err)
	}
	if r, err := recognize(t, e, telephone(t, "slt", "agent"), Options{SampleRate: 8000, Grammar: menuPhrases}); err != nil || r.Text != "agent" {
		t.Errorf("after an abandoned stream: %q, %v", r.Text, err)
	}

	// A cancelled context ends Finish with its error.
	s, _ = e.NewStream(ctx, Options{SampleRate: 8000, Grammar: menuPhrases})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Finish(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Finish with a cancelled context: %v", err)
	}
	s.Close()
}

// TestEmbeddedConcurrent runs utterances on several decoders at once, with
// different grammars, as calls do.
func TestEmbeddedConcurrent(t *testing.T) {
	e := testEmbedded(t)
	yesNo := []string{"yes", "no", "agent"}
	cases := []struct {
		voice, text string
		grammar     []string
	}{
		{"slt", "yes", yesNo}, {"rms", "no", yesNo}, {"slt", "agent", menuPhrases},
		{"rms", "leave a message", menuPhrases}, {"slt", "echo test", menuPhrases}, {"rms", "agent", yesNo},
	}
	audio := make([][]int16, len(cases))
	for i, c := range cases {
		audio[i] = telephone(t, c.voice, c.text)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(cases))
	for round := range 4 {
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := recognize(t, e, audio[i], Options{SampleRate: 8000, Grammar: c.grammar})
				if err != nil {
					errs <- err
				} else if r.Text != c.text {
					errs <- fmt.Errorf("round %d: said %q, heard %q", round, c.text, r.Text)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.mu.Lock()
	idle := len(e.idle)
	e.mu.Unlock()
	if idle > e.cfg.Idle {
		t.Errorf("%d idle decoders kept, limit %d", idle, e.cfg.Idle)
	}
}

// TestEmbeddedWideband: the same phrases through a 16 kHz and a 48 kHz leg.
func TestEmbeddedWideband(t *testing.T) {
	e := testEmbedded(t)
	for _, rate := range []int{16000, 48000} {
		for _, p := range []string{"agent", "leave a message", "seven"} {
			pcm := withSilence(synth(t, "slt", p, rate, false), rate, 200, 300)
			r, err := recognize(t, e, pcm, Options{SampleRate: rate, Grammar: menuPhrases})
			if err != nil || r.Text != p {
				t.Errorf("%d Hz: said %q, heard %q (%v)", rate, p, r.Text, err)
			}
		}
	}
}

func TestEmbeddedBadModel(t *testing.T) {
	cfg := DefaultEmbeddedConfig()
	cfg.ModelDir = t.TempDir()
	if _, err := NewEmbedded(cfg, "en", nil); err == nil || !strings.Contains(err.Error(), "mdef") {
		t.Errorf("empty model dir: %v", err)
	}
	if _, err := NewEmbedded(DefaultEmbeddedConfig(), "zh", nil); !errors.Is(err, ErrLanguage) {
		t.Errorf("zh: %v", err)
	}
	// A model directory with files the library cannot read: an error,
	// not a crash.
	dir := t.TempDir()
	for _, f := range []string{"mdef", "means", "variances", "transition_matrices", "sendump", "feat.params", "noisedict"} {
		os.WriteFile(filepath.Join(dir, f), []byte("garbage\n"), 0o644)
	}
	cfg.ModelDir = dir
	if _, err := NewEmbedded(cfg, "en", nil); err == nil {
		t.Error("corrupt model accepted")
	} else {
		t.Logf("corrupt model: %v", err)
	}
}

// BenchmarkEmbeddedG711 measures the real-time factor of grammar
// recognition of 8 kHz μ-law speech fed in 20 ms frames: resampling,
// decoding and the final result, one utterance after another on a pooled
// decoder. audio-s/cpu-s is seconds of speech recognized per second of
// CPU the process used (the decoder runs on one core), so the number of
// concurrent live recognizers one core carries.
func BenchmarkEmbeddedG711(b *testing.B) {
	e := testEmbedded(b)
	var audio [][]int16
	var samples int
	for _, p := range []string{"leave a message", "representative", "check my balance", "seven", "repeat the greeting"} {
		pcm := telephone(b, "rms", p)
		audio = append(audio, pcm)
		samples += len(pcm)
	}
	opts := Options{SampleRate: 8000, Grammar: menuPhrases}
	recognize(b, e, audio[0], opts) // warm the pool
	cpu0 := cpuTime()
	for b.Loop() {
		for _, pcm := range audio {
			if _, err := recognize(b, e, pcm, opts); err != nil {
				b.Fatal(err)
			}
		}
	}
	secs := float64(b.N*samples) / 8000
	b.ReportMetric(secs/(cpuTime()-cpu0).Seconds(), "audio-s/cpu-s")
}

// BenchmarkEmbeddedNewDecoder is the cost of a decoder the pool does not
// have: loading the acoustic model and compiling the menu grammar.
func BenchmarkEmbeddedNewDecoder(b *testing.B) {
	e := testEmbedded(b)
	g, err := e.grammarFor(menuPhrases, e.log)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := newSphinxDecoder(e.cfg, false)
		if err == nil {
			err = d.useGrammar(g, e.cfg.Rejection)
		}
		if err != nil {
			b.Fatal(err)
		}
		d.free()
	}
}

// BenchmarkEmbeddedWidebandLM is open-vocabulary recognition (n-gram
// model) of 16 kHz speech, for comparison.
func BenchmarkEmbeddedWidebandLM(b *testing.B) {
	e := testEmbedded(b)
	raw, err := os.ReadFile(filepath.Join(testData, "goforward.raw"))
	if err != nil {
		b.Skip("pocketsphinx-testdata not installed")
	}
	pcm := make([]int16, len(raw)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	opts := Options{SampleRate: 16000}
	recognize(b, e, pcm, opts) // load the model into the pool
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := recognize(b, e, pcm, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(pcm))/16000/(cpuTime()-cpu0).Seconds(), "audio-s/cpu-s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestFallbackToEmbedded: the configured pair, openai failing on a real
// utterance, the embedded engine recognizing it instead.
func TestFallbackToEmbedded(t *testing.T) {
	testEmbedded(t)
	f := newFakeOpenAI(t, answerError(503, "The engine is currently overloaded, please try again later"))
	t.Setenv(EnvAPIKey, testKey)
	cfg := DefaultConfig()
	cfg.Provider, cfg.Fallback = "openai", "embedded"
	cfg.OpenAI.BaseURL = f.srv.URL + "/v1"
	var logs strings.Builder
	rec, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name() != "openai" {
		t.Errorf("name %q", rec.Name())
	}
	ctx := logctx.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)).With("call_id", "abc@pbx"))
	r, err := recognizeCtx(ctx, rec, telephone(t, "rms", "representative"), Options{SampleRate: 8000, Grammar: menuPhrases})
	if err != nil || r.Text != "representative" || r.Provider != "embedded" {
		t.Errorf("result %+v, %v", r, err)
	}
	if f.calls.Load() != 1 || !strings.Contains(logs.String(), "call_id=abc@pbx") || !strings.Contains(logs.String(), "503") {
		t.Errorf("%d requests; log:\n%s", f.calls.Load(), logs.String())
	}
}
