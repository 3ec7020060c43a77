//go:build cgo

package tts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/logbuf"
	"github.com/hotline-cc/hotline/media"
)

const greeting = "Thank you for calling Hotline, how can I help you today?"

func embeddedVoice(t testing.TB, voice string) Synthesizer {
	t.Helper()
	s, err := newEmbedded(voice, nil)
	if err != nil {
		t.Fatalf("embedded %s: %v", voice, err)
	}
	return s
}

func synthAll(t testing.TB, s Synthesizer, text string, rate int) []int16 {
	t.Helper()
	st, err := s.Synthesize(context.Background(), text, rate)
	if err != nil {
		t.Fatalf("%s: %v", s.Name(), err)
	}
	pcm, err := ReadAll(context.Background(), st)
	if err != nil {
		t.Fatalf("%s: %v", s.Name(), err)
	}
	return pcm
}

// speechFrames is the share of 20 ms frames louder than -40 dBFS.
func speechFrames(pcm []int16, rate int) float64 {
	n, loud := 0, 0
	for f := frameSamples(rate); len(pcm) >= f; pcm = pcm[f:] {
		n++
		if media.Level(pcm[:f]) > -40 {
			loud++
		}
	}
	return float64(loud) / float64(max(n, 1))
}

func TestEmbeddedSpeech(t *testing.T) {
	for _, voice := range EmbeddedVoices {
		t.Run(voice, func(t *testing.T) {
			s := embeddedVoice(t, voice)
			if s.Name() != "embedded/"+voice {
				t.Errorf("Name %q", s.Name())
			}
			pcm := synthAll(t, s, greeting, 8000)
			secs := float64(len(pcm)) / 8000
			perChar := secs * 1000 / float64(len(greeting))
			level := media.Level(pcm)
			share := speechFrames(pcm, 8000)
			t.Logf("%s: %.2f s (%.0f ms a character), %.1f dBFS, %.0f%% of frames speech", voice, secs, perChar, level, share*100)
			if perChar < 40 || perChar > 110 {
				t.Errorf("%.0f ms a character, want 40..110 (about 60-80)", perChar)
			}
			if level < -35 || level > -3 {
				t.Errorf("level %.1f dBFS, want speech between -35 and -3", level)
			}
			if share < 0.5 {
				t.Errorf("only %.0f%% of 20 ms frames above -40 dBFS", share*100)
			}
			// The same speech at 16 kHz is twice as many samples: the rate
			// is the one asked for, whatever the voice's own.
			wide := synthAll(t, s, greeting, 16000)
			if r := float64(len(wide)) / float64(len(pcm)); math.Abs(r-2) > 0.01 {
				t.Errorf("16 kHz has %.3f times the samples of 8 kHz, want 2", r)
			}
		})
	}
}

// TestEmbeddedTelephoneBand checks the 8 kHz output carries no energy the
// resampler should have removed: the last sample values are not clipped and
// the high band (3.4-4 kHz) is well below the speech band.
func TestEmbeddedTelephoneBand(t *testing.T) {
	pcm := synthAll(t, embeddedVoice(t, "slt"), greeting, 8000)
	var clipped int
	for _, v := range pcm {
		if v == math.MaxInt16 || v == math.MinInt16 {
			clipped++
		}
	}
	if clipped > len(pcm)/1000 {
		t.Errorf("%d clipped samples", clipped)
	}
	low, high := bandEnergy(pcm, 8000, 300, 3000), bandEnergy(pcm, 8000, 3700, 4000)
	if db := 10 * math.Log10(high/low); db > -20 {
		t.Errorf("3.7-4 kHz is %.1f dB under 300-3000 Hz, want at least 20", -db)
	}
}

// bandEnergy sums the power between lo and hi Hz with a plain DFT over
// 32 ms windows (slow, but the signal is short).
func bandEnergy(pcm []int16, rate int, lo, hi float64) float64 {
	const n = 256
	var sum float64
	for ; len(pcm) >= n; pcm = pcm[n:] {
		for k := int(lo * n / float64(rate)); k <= int(hi*n/float64(rate)) && k <= n/2; k++ {
			var re, im float64
			for i, v := range pcm[:n] {
				a := 2 * math.Pi * float64(k*i) / n
				re += float64(v) * math.Cos(a)
				im -= float64(v) * math.Sin(a)
			}
			sum += re*re + im*im
		}
	}
	return sum + 1
}

func TestEmbeddedVoicesDiffer(t *testing.T) {
	a := synthAll(t, embeddedVoice(t, "slt"), "Hello.", 8000)
	b := synthAll(t, embeddedVoice(t, "kal"), "Hello.", 8000)
	if len(a) == len(b) {
		t.Errorf("slt and kal gave the same length %d", len(a))
	}
}

func TestEmbeddedBadInput(t *testing.T) {
	s := embeddedVoice(t, "slt")
	ctx := context.Background()
	for _, text := range []string{"", "   ", "您好，欢迎致电。", "!!! ???"} {
		if _, err := s.Synthesize(ctx, text, 8000); !errors.Is(err, ErrUnspeakable) {
			t.Errorf("%q: %v, want ErrUnspeakable", text, err)
		}
	}
	if _, err := s.Synthesize(ctx, "Hello.", 0); err == nil {
		t.Error("rate 0 accepted")
	}
	// Control characters, broken UTF-8 and typographic marks are cleaned,
	// not passed to flite.
	pcm := synthAll(t, s, "It\x00’s \xff\xfe“fine” — really…\x07", 8000)
	if len(pcm) == 0 {
		t.Error("no audio for text with control characters")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Synthesize(cctx, "Hello.", 8000); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestEmbeddedUnknownVoice(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Voice = "hal9000"
	cfg.CacheDir = ""
	_, err := New(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown embedded voice "hal9000"`) || !strings.Contains(err.Error(), "slt") {
		t.Fatalf("New with an unknown voice: %v", err)
	}
}

// TestEmbeddedConcurrent runs flite on several goroutines at once and
// compares with serial runs. kal (diphone) is deterministic and must match
// bit for bit; slt draws random excitation from libc's rand, so it must
// match in length and, frame by frame, in level.
func TestEmbeddedConcurrent(t *testing.T) {
	texts := []string{
		"Thank you for calling Hotline.",
		"Your balance is 42 dollars and 17 cents.",
		"Please hold while I transfer you to an agent.",
	}
	voices := []string{"slt", "kal"}
	want := map[string][]int16{}
	synths := map[string]Synthesizer{}
	for _, v := range voices {
		s := embeddedVoice(t, v)
		synths[v] = s
		for _, text := range texts {
			want[v+text] = synthAll(t, s, text, 8000)
		}
	}
	const workers, rounds = 4, 6
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				v, text := voices[(w+i)%len(voices)], texts[(w*2+i)%len(texts)]
				st, err := synths[v].Synthesize(context.Background(), text, 8000)
				if err != nil {
					errs <- err
					continue
				}
				got, _ := ReadAll(context.Background(), st)
				if err := sameSpeech(v, got, want[v+text]); err != nil {
					errs <- fmt.Errorf("%s %q: %w", v, text, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func sameSpeech(voice string, got, want []int16) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d samples, serially %d", len(got), len(want))
	}
	if voice == "kal" {
		for i := range got {
			if got[i] != want[i] {
				return fmt.Errorf("sample %d differs from the serial run", i)
			}
		}
		return nil
	}
	f := frameSamples(8000)
	bad, n := 0, 0
	for i := 0; i+f <= len(got); i += f {
		n++
		a, b := media.Level(got[i:i+f]), media.Level(want[i:i+f])
		if max(a, b) > -50 && math.Abs(a-b) > 6 {
			bad++
		}
	}
	if bad > n/10 {
		return fmt.Errorf("%d of %d frames differ in level by more than 6 dB", bad, n)
	}
	return nil
}

// TestEmbeddedConcurrentC builds testdata/flite_concurrency.c, which makes
// the clunits voices deterministic, and checks that concurrent synthesis is
// bit-identical to serial synthesis.
func TestEmbeddedConcurrentC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a C program")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc")
	}
	bin := filepath.Join(t.TempDir(), "fc")
	out, err := exec.Command(gcc, "-O2", "testdata/flite_concurrency.c", "-o", bin,
		"-lflite_cmu_us_slt", "-lflite_cmu_us_kal", "-lflite_cmu_us_rms",
		"-lflite_usenglish", "-lflite_cmulex", "-lflite", "-lm", "-lpthread").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "4", "8").CombinedOutput()
	t.Logf("%s", strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("concurrent flite differs from serial: %v", err)
	}
}

// BenchmarkEmbeddedFirstAudio is the time from Speak to the first chunk of
// a typical two-sentence reply, slt voice, 8 kHz out.
func BenchmarkEmbeddedFirstAudio(b *testing.B) {
	s := embeddedVoice(b, "slt")
	text := "Your order shipped this morning and should arrive on Friday. Is there anything else I can help you with?"
	var first time.Duration
	for b.Loop() {
		t0 := time.Now()
		st := Speak(context.Background(), s, text, 8000)
		if _, err := st.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
		first += time.Since(t0)
		st.Close() // waits for the look-ahead sentence: not first audio
	}
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "ms-to-first-audio")
}

// BenchmarkEmbeddedSynthesize reports the real-time factor of each voice
// on a typical sentence, 8 kHz out (resampling included).
func BenchmarkEmbeddedSynthesize(b *testing.B) {
	for _, voice := range EmbeddedVoices {
		b.Run(voice, func(b *testing.B) {
			s := embeddedVoice(b, voice)
			var audio time.Duration
			for b.Loop() {
				pcm := synthAll(b, s, greeting, 8000)
				audio += time.Duration(len(pcm)) * time.Second / 8000
			}
			b.ReportMetric(b.Elapsed().Seconds()/audio.Seconds(), "rtf")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/sentence")
		})
	}
}

func TestNewOpenAIFallsBackToEmbedded(t *testing.T) {
	noLeaks(t)
	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":{"message":"The server had an error","type":"server_error"}}`)
	})
	t.Setenv("OPENAI_API_KEY", testKey)
	cfg := DefaultConfig()
	cfg.Provider, cfg.Fallback = ProviderOpenAI, ProviderEmbedded
	cfg.CacheDir = t.TempDir()
	cfg.OpenAI.BaseURL = srv.srv.URL + "/v1"
	var logs logbuf.Buffer
	s, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	st := Speak(context.Background(), s, threeSentences, 8000)
	pcm, err := ReadAll(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if secs := float64(len(pcm)) / 8000; secs < 4 || media.Level(pcm) < -35 {
		t.Errorf("fallback speech: %.1f s at %.1f dBFS", secs, media.Level(pcm))
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("the failing server was asked %d times, want once (then paused)", n)
	}
	if !strings.Contains(logs.String(), "falling back") || strings.Contains(logs.String(), testKey) {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestNewEmbeddedCached(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheDir = t.TempDir()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	if s.Name() != "embedded/slt" {
		t.Errorf("Name %q", s.Name())
	}
	a := synthAll(t, s, greeting, 8000)
	b := synthAll(t, s, greeting, 8000)
	if !slices.Equal(a, b) {
		t.Error("the cached prompt differs from the first synthesis")
	}
	if st := s.(*cached).Stats(); st.MemoryHits != 1 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkEmbeddedParallel synthesizes on all cores at once: with flite
// running concurrently, sentences per second scale with the cores.
func BenchmarkEmbeddedParallel(b *testing.B) {
	s := embeddedVoice(b, "slt")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st, err := s.Synthesize(context.Background(), greeting, 8000)
			if err != nil {
				b.Error(err)
				return
			}
			st.Close()
		}
	})
}
