package prosody

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hotline-cc/hotline/media"
)

// harmonics returns seconds of a periodic voice-like signal at f0 Hz: a sum
// of harmonics with amplitudes falling as 1/k^tilt (a glottal source's
// spectrum), random fixed phases, up to 3.6 kHz, and from lowCut Hz up
// (300 for a telephone line's band, which removes a low voice's
// fundamental). A little vibrato-free jitter of 0.5 % per period makes it
// less than perfectly periodic, as a voice is. The peak is about −6 dBFS.
func harmonics(rng *rand.Rand, rate int, f0, tilt, lowCut float64, seconds float64) []int16 {
	return vowel(rng, rate, f0, tilt, lowCut, nil, seconds)
}

// formant is a vocal tract resonance: centre and bandwidth in Hz.
type formant struct{ f, bw float64 }

var (
	vowelA = []formant{{730, 90}, {1090, 110}, {2440, 170}}
	// vowelI's first formant sits on the second harmonic of a 150 Hz
	// voice, the classic trap for an octave-high error.
	vowelI = []formant{{300, 60}, {2300, 100}, {3000, 150}}
)

// vowel is harmonics shaped by formants, each a second-order resonance.
func vowel(rng *rand.Rand, rate int, f0, tilt, lowCut float64, formants []formant, seconds float64) []int16 {
	n := int(seconds * float64(rate))
	var ks []int
	for k := 1; float64(k)*f0 < 3600 && float64(k)*f0 < float64(rate)/2; k++ {
		if float64(k)*f0 >= lowCut {
			ks = append(ks, k)
		}
	}
	phases := make([]float64, len(ks))
	amps := make([]float64, len(ks))
	for i, k := range ks {
		phases[i] = 2 * math.Pi * rng.Float64()
		amps[i] = math.Pow(float64(k), -tilt)
		for _, fm := range formants {
			r := float64(k) * f0 / fm.f
			amps[i] /= math.Sqrt((1-r*r)*(1-r*r) + (r*fm.bw/fm.f)*(r*fm.bw/fm.f))
		}
	}
	x := make([]float64, n)
	phase, peak := 0.0, 0.0
	period := 0
	f := f0
	for i := range x {
		if period <= 0 { // a new glottal period: a little jitter
			f = f0 * (1 + 0.005*rng.NormFloat64())
			period = int(float64(rate) / f)
		}
		period--
		phase += 2 * math.Pi * f / float64(rate)
		var v float64
		for j, k := range ks {
			v += amps[j] * math.Sin(float64(k)*phase+phases[j])
		}
		x[i] = v
		peak = max(peak, math.Abs(v))
	}
	out := make([]int16, n)
	for i, v := range x {
		out[i] = clip16(v / peak * 16000)
	}
	return out
}

// addNoise adds white noise snr dB below the signal's power.
func addNoise(rng *rand.Rand, pcm []int16, snr float64) []int16 {
	var p float64
	for _, s := range pcm {
		p += float64(s) * float64(s)
	}
	sigma := math.Sqrt(p/float64(len(pcm))) * math.Pow(10, -snr/20)
	out := make([]int16, len(pcm))
	for i, s := range pcm {
		out[i] = clip16(float64(s) + sigma*rng.NormFloat64())
	}
	return out
}

func ulaw(pcm []int16) []int16 { return media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm)) }

// framesOf runs an Analyzer over pcm in 20 ms frames.
func framesOf(pcm []int16, rate int) []Frame {
	a := NewAnalyzer(rate)
	fs := media.FrameSamples(rate)
	var out []Frame
	for off := 0; off+fs <= len(pcm); off += fs {
		out = append(out, a.Frame(pcm[off:off+fs]))
	}
	return out
}

// pitchScore measures frames against the true f0: the share voiced, the
// share of voiced frames off by more than 20 % (octave and other gross
// errors), and the mean relative error of the rest.
func pitchScore(frames []Frame, f0 float64) (voiced, gross, meanErr float64) {
	var nv, ng, ne int
	var sum float64
	for _, f := range frames[2:] { // the first frames fill the window
		if !f.Voiced {
			continue
		}
		nv++
		e := math.Abs(f.F0-f0) / f0
		if e > 0.2 {
			ng++
			continue
		}
		sum += e
		ne++
	}
	voiced = float64(nv) / float64(len(frames)-2)
	if nv > 0 {
		gross = float64(ng) / float64(nv)
	}
	if ne > 0 {
		meanErr = sum / float64(ne)
	}
	return
}

var testF0s = []float64{80, 90, 100, 110, 120, 135, 150, 165, 180, 200, 220, 245, 270, 300, 330, 365, 400}

// TestPitchAccuracy: YIN over 8 kHz μ-law audio with white noise at 20 dB
// SNR finds F0 from 80 to 400 Hz within 2 %, for a full-band voice and for
// one through the telephone band (fundamental removed below 300 Hz).
func TestPitchAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []struct {
		name         string
		tilt, lowCut float64
		formants     []formant
	}{
		{"full band, 1/k", 1, 0, nil},
		{"full band, 1/k²", 2, 0, nil},
		{"telephone band 300–3400 Hz, 1/k", 1, 300, nil},
		{"vowel /a/, telephone band, 1/k", 1, 300, vowelA},
		{"vowel /i/, telephone band, 1/k", 1, 300, vowelI},
	} {
		t.Run(kind.name, func(t *testing.T) {
			var frames, voicedFrames, grossFrames float64
			var worst float64
			table := "  F0 Hz  voiced  gross   error\n"
			for _, f0 := range testF0s {
				pcm := ulaw(addNoise(rng, vowel(rng, 8000, f0, kind.tilt, kind.lowCut, kind.formants, 1), 20))
				fr := framesOf(pcm, 8000)
				v, g, e := pitchScore(fr, f0)
				table += fmt.Sprintf("  %5.0f  %5.1f%%  %4.1f%%  %5.2f%%\n", f0, 100*v, 100*g, 100*e)
				n := float64(len(fr) - 2)
				frames += n
				voicedFrames += v * n
				grossFrames += g * v * n
				worst = max(worst, e)
				if e > 0.02 {
					t.Errorf("F0 %.0f Hz: mean error %.2f %%, want under 2 %%", f0, 100*e)
				}
				if v < 0.9 {
					t.Errorf("F0 %.0f Hz: only %.0f %% of frames voiced", f0, 100*v)
				}
			}
			octave := grossFrames / voicedFrames
			t.Logf("%s, μ-law, 20 dB SNR: voiced %.1f %% of frames, gross (octave) errors %.2f %% of voiced frames, worst mean error %.2f %%\n%s",
				kind.name, 100*voicedFrames/frames, 100*octave, 100*worst, table)
			if octave > 0.02 {
				t.Errorf("octave errors in %.1f %% of voiced frames, want under 2 %%", 100*octave)
			}
		})
	}
}
