package asr

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hotline-cc/hotline/media"
)

// menuPhrases are what a caller says to a contact-center menu.
var menuPhrases = []string{
	"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero",
	"yes", "no", "agent", "representative", "operator",
	"leave a message", "echo test", "repeat the greeting", "main menu",
	"talk to a person", "billing", "technical support", "check my balance",
	"cancel my order", "goodbye",
}

// synth speaks text with a flite voice and returns it at rate, optionally
// through G.711 μ-law as a telephone line carries it.
func synth(t testing.TB, voice, text string, rate int, ulaw bool) []int16 {
	t.Helper()
	flite, err := exec.LookPath("flite")
	if err != nil {
		t.Skip("flite not installed (scripts/setup.sh installs it)")
	}
	path := filepath.Join(t.TempDir(), "x.wav")
	if out, err := exec.Command(flite, "-voice", voice, "-t", text, "-o", path).CombinedOutput(); err != nil {
		t.Fatalf("flite %s %q: %v: %s", voice, text, err, out)
	}
	pcm, err := media.LoadWAVFile(path, rate)
	if err != nil {
		t.Fatal(err)
	}
	if ulaw {
		pcm = media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm))
	}
	return pcm
}

// withSilence pads pcm with lead and tail milliseconds of silence, as an
// endpointed utterance has.
func withSilence(pcm []int16, rate, lead, tail int) []int16 {
	out := make([]int16, lead*rate/1000, lead*rate/1000+len(pcm)+tail*rate/1000)
	out = append(out, pcm...)
	return append(out, make([]int16, tail*rate/1000)...)
}

// recognize feeds pcm in 20 ms frames, as a leg delivers it, and finishes.
func recognize(t testing.TB, r Recognizer, pcm []int16, opts Options) (Result, error) {
	t.Helper()
	s, err := r.NewStream(context.Background(), opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	step := opts.SampleRate / 50
	for i := 0; i < len(pcm); i += step {
		if err := s.Write(pcm[i:min(i+step, len(pcm))]); err != nil {
			return Result{}, fmt.Errorf("write: %w", err)
		}
	}
	return s.Finish(context.Background())
}

// expectFinished checks that a finished stream refuses more audio and a
// second Finish, and that closing it twice is harmless.
func expectFinished(t *testing.T, ctx context.Context, s Stream) {
	t.Helper()
	if err := s.Write(make([]int16, 160)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Finish: %v", err)
	}
	if _, err := s.Finish(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish twice: %v", err)
	}
	s.Close()
	s.Close()
}
