package prosody

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFrame is the cost of one 20 ms frame of voiced telephone audio.
func BenchmarkFrame(b *testing.B) {
	benchFrames(b, 8000)
}

// BenchmarkFrame16k is the same for wideband audio, which is first
// resampled to 8 kHz.
func BenchmarkFrame16k(b *testing.B) {
	benchFrames(b, 16000)
}

func benchFrames(b *testing.B, rate int) {
	rng := rand.New(rand.NewPCG(3, 4))
	pcm := ulawAt(rate, addNoise(rng, vowel(rng, rate, 140, 1, 300, vowelA, 2), 20))
	fs := rate / 50
	a := NewAnalyzer(rate)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := (i * fs) % (len(pcm) - fs)
		a.Frame(pcm[off : off+fs])
	}
}

func ulawAt(rate int, pcm []int16) []int16 {
	if rate != 8000 {
		return pcm
	}
	return ulaw(pcm)
}

// BenchmarkUtterance is the cost of a 3 s turn, from PCM to its Cue, for a
// caller whose baseline is known.
func BenchmarkUtterance(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	turn := func(f0 float64) []int16 {
		return ulaw(addNoise(rng, vowel(rng, 8000, f0, 1, 300, vowelA, 3), 20))
	}
	tr := NewTracker(Config{})
	for _, f0 := range []float64{120, 125, 118} {
		tr.Observe(Utterance{PCM: turn(f0)})
	}
	pcm := turn(130)
	u := Utterance{PCM: pcm, Text: "I have been waiting for twenty minutes and nobody has helped me"}
	b.ResetTimer()
	for b.Loop() {
		tr.Observe(u)
		tr.cues, tr.arousal = tr.cues[:3], tr.arousal[:0]
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/3e3, "ns/ms-of-audio")
}
