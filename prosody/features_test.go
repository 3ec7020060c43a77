package prosody

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// phrase describes a speech-like test signal: a voice whose pitch glides
// from f0 to f0End, in syllables (raised-cosine bursts, each one beat of
// sylRate Hz), at a peak level in dBFS, with pauses of silence.
type phrase struct {
	f0, f0End float64
	sylRate   float64
	syllables int
	levelDB   float64
}

// speechLike renders phrases one after another with pause seconds of
// silence between them, 100 ms of lead-in and 600 ms of trailing silence
// (an endpointed turn), over line noise at −60 dBFS, through μ-law at 8 kHz
// (or linear at other rates).
func speechLike(rng *rand.Rand, rate int, pause float64, phrases ...phrase) []int16 {
	var x []float64
	sil := func(s float64) { x = append(x, make([]float64, int(s*float64(rate)))...) }
	sil(0.1)
	for i, p := range phrases {
		if i > 0 {
			sil(pause)
		}
		n := int(float64(p.syllables) / p.sylRate * float64(rate))
		amp := 32768 * math.Pow(10, p.levelDB/20)
		phase := 0.0
		var buf []float64
		peak := 0.0
		for j := range n {
			t := float64(j) / float64(rate)
			f := p.f0 + (p.f0End-p.f0)*t*float64(rate)/float64(n)
			f = p.f0 * math.Pow(p.f0End/p.f0, float64(j)/float64(n)) // an even glide in semitones
			phase += 2 * math.Pi * f / float64(rate)
			var v float64
			for k := 1; float64(k)*f < 3600 && float64(k)*f < float64(rate)/2; k++ {
				v += math.Sin(float64(k)*phase) / float64(k)
			}
			env := math.Pow(math.Sin(math.Pi*p.sylRate*t), 2)
			buf = append(buf, v*env)
			peak = max(peak, math.Abs(v))
		}
		for _, v := range buf {
			x = append(x, v/peak*amp)
		}
	}
	sil(0.6)
	noise := 32768 * math.Pow(10, -60.0/20)
	out := make([]int16, len(x))
	for i, v := range x {
		out[i] = clip16(v + noise*rng.NormFloat64())
	}
	if rate == 8000 {
		return ulaw(out)
	}
	return out
}

func TestSummarizeMeasuresTheVoice(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, rate := range []int{8000, 16000} {
		// 12 syllables at 4/s gliding from 100 to 150 Hz, a 500 ms pause,
		// 8 more at 4/s from 150 Hz back to 120.
		pcm := speechLike(rng, rate, 0.5,
			phrase{100, 150, 4, 12, -12}, phrase{150, 120, 4, 8, -12})
		f := Analyze(pcm, rate)
		t.Logf("%d Hz: %+v", rate, f)
		if f.Nuclei != 20 {
			t.Errorf("%d Hz: %d syllable nuclei, want 20", rate, f.Nuclei)
		}
		// Phonation is 5 s, give or take the soft edges of the first and
		// last syllables.
		if math.Abs(f.Rate-4) > 0.4 {
			t.Errorf("%d Hz: rate %.2f/s, want 4", rate, f.Rate)
		}
		wantPause := 0.5 / 5.5
		if math.Abs(f.PauseRatio-wantPause) > 0.04 {
			t.Errorf("%d Hz: pause ratio %.3f, want %.3f", rate, f.PauseRatio, wantPause)
		}
		// The mean of log F0 over the glides, weighted by voiced time.
		if f.F0Mean < 115 || f.F0Mean > 135 {
			t.Errorf("%d Hz: F0 mean %.1f Hz, want about 125", rate, f.F0Mean)
		}
		if f.F0Range < 4 || f.F0Range > 7 {
			t.Errorf("%d Hz: F0 range %.1f st, want about 5.6 (10th to 90th percentile of 100–150 Hz)", rate, f.F0Range)
		}
		if f.F0Slope < 0.5 {
			t.Errorf("%d Hz: F0 slope %.2f st/s, want rising", rate, f.F0Slope)
		}
	}
}

func TestSummarizeSlopeAndLoudness(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// A glide of a fifth up over 2 s: 7.02 semitones, 3.5 st/s.
	up := Analyze(speechLike(rng, 8000, 0, phrase{120, 180, 5, 10, -20}), 8000)
	if math.Abs(up.F0Slope-3.51) > 0.35 {
		t.Errorf("slope %.2f st/s, want 3.51", up.F0Slope)
	}
	down := Analyze(speechLike(rng, 8000, 0, phrase{180, 120, 5, 10, -20}), 8000)
	if math.Abs(down.F0Slope+3.51) > 0.35 {
		t.Errorf("slope %.2f st/s, want −3.51", down.F0Slope)
	}
	loud := Analyze(speechLike(rng, 8000, 0, phrase{120, 180, 5, 10, -14}), 8000)
	if d := loud.EnergyMean - up.EnergyMean; math.Abs(d-6) > 0.5 {
		t.Errorf("6 dB louder measured %+.2f dB", d)
	}
	if d := loud.EnergySpread - up.EnergySpread; math.Abs(d) > 0.5 {
		t.Errorf("energy spread changed by %.2f dB with level alone", d)
	}
	if math.Abs(loud.F0Mean-up.F0Mean) > 1 || loud.Nuclei != up.Nuclei {
		t.Errorf("level changed pitch or syllables: %+v vs %+v", loud, up)
	}
}

func TestSilenceAndNoiseHaveNoPitch(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	noise := make([]int16, 16000)
	for i := range noise {
		noise[i] = clip16(3000 * rng.NormFloat64())
	}
	for name, pcm := range map[string][]int16{
		"digital silence": make([]int16, 16000),
		"white noise":     ulaw(noise),
	} {
		fr := framesOf(pcm, 8000)
		voiced := 0
		for _, f := range fr {
			if f.Voiced {
				voiced++
			}
		}
		if voiced > len(fr)/50 {
			t.Errorf("%s: %d of %d frames voiced", name, voiced, len(fr))
		}
		f := Summarize(fr)
		if f.F0Mean != 0 || f.Nuclei != 0 {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if f := Analyze(nil, 8000); f != (Features{}) {
		t.Errorf("no audio: %+v", f)
	}
	if f := Analyze(make([]int16, 800), 0); f != (Features{}) {
		t.Errorf("rate 0: %+v", f)
	}
}

// TestPitchAtOtherRates: wideband audio is resampled to 8 kHz and gives the
// same pitch; the range's ends, 60 and 500 Hz, are found too.
func TestPitchAtOtherRates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range []struct {
		rate int
		f0   float64
	}{{16000, 80}, {16000, 150}, {16000, 400}, {8000, 60}, {8000, 500}, {16000, 60}, {44100, 220}} {
		pcm := addNoise(rng, harmonics(rng, c.rate, c.f0, 1, 0, 1), 20)
		if c.rate == 8000 {
			pcm = ulaw(pcm)
		}
		v, g, e := pitchScore(framesOf(pcm, c.rate), c.f0)
		if v < 0.9 || g > 0.02 || e > 0.02 {
			t.Errorf("%d Hz audio, F0 %.0f Hz: voiced %.0f %%, gross %.1f %%, error %.2f %%", c.rate, c.f0, 100*v, 100*g, 100*e)
		}
	}
}

// TestAnalyzerStreamsLikeAnalyze: frames fed one at a time, as a leg
// delivers them, give what Analyze gives on the whole turn.
func TestAnalyzerStreamsLikeAnalyze(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	pcm := speechLike(rng, 8000, 0.3, phrase{110, 140, 4, 6, -18}, phrase{140, 100, 5, 5, -20})
	a := NewAnalyzer(8000)
	var frames []Frame
	for off := 0; off < len(pcm); off += media.FrameSamples(8000) {
		frames = append(frames, a.Frame(pcm[off:min(off+160, len(pcm))]))
	}
	if got, want := Summarize(frames), Analyze(pcm, 8000); got != want {
		t.Errorf("streamed %+v\nwhole    %+v", got, want)
	}
	a.Reset()
	if f := a.Frame(pcm[800:960]); f.Voiced {
		t.Error("a reset Analyzer found a pitch in its first frame, with no history")
	}
	if a.Rate() != 8000 {
		t.Error(a.Rate())
	}
	_ = time.Second
}
