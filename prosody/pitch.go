package prosody

import (
	"fmt"
	"math"

	"github.com/hotline-cc/hotline/media"
)

// Pitch analysis runs at 8 kHz whatever the leg's rate: the voice's
// fundamental and the harmonics that reveal it when a telephone line has
// cut the fundamental away all lie below 4 kHz.
const (
	analysisRate = 8000
	frameLen     = analysisRate / 50 // 160 samples, 20 ms

	// MinF0 and MaxF0 bound the fundamental frequencies reported, in Hz:
	// the speaking range of adult and most child voices, 60–500 Hz, with
	// room for a voice's jitter at either end.
	MinF0 = 55.0
	MaxF0 = 550.0

	minLag = 14  // 8000/550 is 14.5: the interpolation reaches it
	maxLag = 147 // 8000/55 is 145.5, and room for the interpolation
	// yinWindow is the integration window, 30 ms. With the lags it
	// reaches over, each analysis spans yinWindow+maxLag samples (48 ms):
	// the current frame and the two before it in part, more than two
	// periods of the lowest voice. A window of one frame (1.2 periods of
	// a 65 Hz voice) leaves a low voice's frames unvoiced too often.
	yinWindow = 240
	yinSpan   = yinWindow + maxLag

	// yinThreshold is YIN's absolute threshold: the first lag whose
	// cumulative mean normalized difference dips under it is the period,
	// which keeps the strong dips at multiples of the period (octave-low
	// errors) from winning.
	yinThreshold = 0.15
	// wholePeriodRatio: see wholePeriod.
	wholePeriodRatio = 0.4
	// voicingThreshold is the highest normalized difference at the chosen
	// lag that still counts as periodic. Speech through G.711 with line
	// noise reaches 0.2–0.3 on voiced frames; noise stays above 0.5.
	voicingThreshold = 0.35
	// minVoicedDBFS: a frame quieter than this is not analysed at all (a
	// soft talker is around −40 dBFS active level, idle lines below −60).
	minVoicedDBFS = -60.0
)

// Frame is what one 20 ms frame of the caller's audio shows.
type Frame struct {
	// F0 is the fundamental frequency in Hz, between MinF0 and MaxF0, when
	// Voiced; 0 otherwise.
	F0 float64 `json:"f0"`
	// Voiced is set when the frame is periodic enough to have a pitch.
	Voiced bool `json:"voiced"`
	// EnergyDB is the frame's RMS level in dBFS (media.Level).
	EnergyDB float64 `json:"energy_db"`
	// Aperiodicity is YIN's normalized difference at the chosen period:
	// near 0 for a clean periodic sound, 1 and over for noise.
	Aperiodicity float64 `json:"aperiodicity"`
}

// Analyzer turns a stream of 20 ms frames into Frames. It keeps the last
// samples of the stream, because one frame is shorter than two periods of a
// low voice: each frame is analysed over a window spanning it and the frame
// before. The first frame of a stream therefore has no pitch. An Analyzer is
// not safe for concurrent use.
type Analyzer struct {
	rate int
	rs   *media.Resampler // to 8 kHz; nil at 8 kHz
	down []int16
	// hist holds the newest samples at 8 kHz; hist[len-n:] are valid.
	hist  [yinSpan]float32
	valid int
	d     [maxLag + 2]float32  // difference function, then its normalized form
	nd    [maxLag + 2]float32  // difference over energy
	lp    [yinSpan - 3]float32 // low-passed history, for wholePeriod
}

// NewAnalyzer returns an Analyzer for PCM at rate Hz (8000 for telephony,
// 16000 for wideband; other rates are resampled the same way). It panics if
// rate is not positive, like media.NewResampler.
func NewAnalyzer(rate int) *Analyzer {
	if rate <= 0 {
		panic(fmt.Sprintf("prosody: invalid sample rate %d Hz", rate))
	}
	a := &Analyzer{rate: rate}
	if rate != analysisRate {
		a.rs = media.NewResampler(rate, analysisRate)
	}
	return a
}

// Rate is the sample rate the Analyzer takes.
func (a *Analyzer) Rate() int { return a.rate }

// Reset forgets the stream, for a new one at the same rate.
func (a *Analyzer) Reset() {
	a.valid = 0
	if a.rs != nil {
		a.down = a.rs.Flush(a.down)
	}
}

// Frame analyses the next frame of the stream, normally 20 ms (a shorter
// or longer one works; its energy is its own and its pitch that of its last
// 20 ms).
func (a *Analyzer) Frame(pcm []int16) Frame {
	f := Frame{EnergyDB: media.Level(pcm), Aperiodicity: 1}
	x := pcm
	if a.rs != nil {
		a.down = a.rs.Process(a.down, pcm)
		x = a.down
	}
	a.push(x)
	if f.EnergyDB < minVoicedDBFS || a.valid < yinSpan {
		return f
	}
	period, ap := a.yin()
	f.Aperiodicity = ap
	if period > 0 && ap < voicingThreshold {
		if f0 := analysisRate / period; f0 >= MinF0 && f0 <= MaxF0 {
			f.F0, f.Voiced = f0, true
		}
	}
	return f
}

// push appends x to the history.
func (a *Analyzer) push(x []int16) {
	if len(x) >= yinSpan {
		x = x[len(x)-yinSpan:]
	}
	n := len(x)
	copy(a.hist[:], a.hist[n:])
	for i, s := range x {
		a.hist[yinSpan-n+i] = float32(s)
	}
	a.valid = min(a.valid+n, yinSpan)
}

// yin estimates the period, in samples with a fraction, of the history and
// returns it with the normalized difference there (de Cheveigné and
// Kawahara, 2002). The difference function comes from one dot product per
// lag and running energies:
//
//	d(τ) = Σ x[j]² + Σ x[j+τ]² − 2 Σ x[j]x[j+τ],  j < W
func (a *Analyzer) yin() (period, aperiodicity float64) {
	x := a.hist[:]
	w := x[:yinWindow]
	var e0 float32
	for _, v := range w {
		e0 += v * v
	}
	if e0 == 0 {
		return 0, 1
	}
	d := a.d[:]
	d[0] = 0
	et := e0 // Σ x[j+τ]², slid along
	for tau := 1; tau <= maxLag; tau++ {
		et += x[tau+yinWindow-1]*x[tau+yinWindow-1] - x[tau-1]*x[tau-1]
		d[tau] = max(e0+et-2*dot(w, x[tau:]), 0)
		// The difference relative to the energies: 0 for a perfect
		// repetition, 1 for none, free of the cumulative mean's drift.
		if e := e0 + et; e > 0 {
			a.nd[tau] = d[tau] / e
		} else {
			a.nd[tau] = 1
		}
	}
	// Cumulative mean normalization: d'(τ) = d(τ)·τ / Σ_{k≤τ} d(k).
	var sum float32
	for tau := 1; tau <= maxLag; tau++ {
		sum += d[tau]
		if sum > 0 {
			d[tau] *= float32(tau) / sum
		} else {
			d[tau] = 1
		}
	}
	best := -1
	for tau := minLag; tau < maxLag; tau++ {
		if d[tau] < yinThreshold {
			// The first dip under the threshold: follow it to its bottom.
			for tau+1 < maxLag && d[tau+1] < d[tau] {
				tau++
			}
			best = tau
			break
		}
	}
	if best < 0 {
		// None that clear: the deepest dip, which voicing will judge.
		best = minLag
		for tau := minLag + 1; tau < maxLag; tau++ {
			if d[tau] < d[best] {
				best = tau
			}
		}
	}
	best = a.wholePeriod(best)
	// A parabola through the dip and its neighbours places the period
	// between samples: at 400 Hz one sample is 5 % of the period.
	p := float64(best)
	l, c, r := float64(d[best-1]), float64(d[best]), float64(d[best+1])
	if den := l - 2*c + r; den > 0 {
		off := 0.5 * (l - r) / den
		if off > -1 && off < 1 {
			p += off
			c -= 0.25 * (l - r) * off
		}
	}
	return p, max(c, 0)
}

// wholePeriod checks a period found for one that is a fraction of the
// true period: on a telephone line that has lost the fundamental, a strong
// harmonic under the first formant (the 300 Hz of an /i/ spoken at
// 150 Hz) repeats every half, third or three-quarters of a period and
// makes a dip under the threshold. If the signal repeats much better (less
// than wholePeriodRatio of the difference) at a longer lag, that lag is the
// period. A true period is never beaten like that by its multiples, which
// repeat worse as the voice's jitter adds up.
//
// The comparison is made on the signal low-passed (a 4-sample moving sum,
// −3 dB near 900 Hz, where the offending harmonics are): at 8 kHz the dip
// of a full-band signal is too narrow to measure between lags, and a
// period falling between two lags would look worse than a multiple of it
// that falls on one. It is only computed for the dips the full-band signal
// already shows as candidates.
func (a *Analyzer) wholePeriod(tau int) int {
	nd := a.nd[:]
	at := -1.0
	here := min(float64(nd[tau]), dipDepth(nd, tau))
	for k := tau + 2; k < maxLag; k++ {
		if nd[k] > nd[k-1] || nd[k] > nd[k+1] {
			continue // not a dip
		}
		if min(float64(nd[k]), dipDepth(nd, k)) >= wholePeriodRatio*here {
			continue // not even close on the full-band signal
		}
		if at < 0 {
			a.lowpass()
			at = a.lpDip(tau)
		}
		if a.lpDip(k) < wholePeriodRatio*at {
			return k
		}
	}
	return tau
}

// lowpass fills lp with the history's 4-sample moving sums.
func (a *Analyzer) lowpass() {
	x := a.hist[:]
	for i := range a.lp {
		a.lp[i] = x[i] + x[i+1] + x[i+2] + x[i+3]
	}
}

// lpDip is the depth of the low-passed signal's normalized difference
// around lag tau: the bottom of a parabola through tau−1, tau, tau+1.
func (a *Analyzer) lpDip(tau int) float64 {
	var v [3]float32
	w := a.lp[:yinWindow]
	var e0 float32
	for _, s := range w {
		e0 += s * s
	}
	for i := range v {
		k := tau - 1 + i
		if k+yinWindow > len(a.lp) {
			v[i] = 1
			continue
		}
		y := a.lp[k : k+yinWindow]
		var ek float32
		for _, s := range y {
			ek += s * s
		}
		if e0+ek == 0 {
			v[i] = 1
			continue
		}
		v[i] = max(e0+ek-2*dot(w, y), 0) / (e0 + ek)
	}
	return dipDepth(v[:], 1)
}

// dipDepth is the bottom of the parabola through v[i] and its neighbours.
func dipDepth(v []float32, i int) float64 {
	l, c, r := float64(v[i-1]), float64(v[i]), float64(v[i+1])
	if den := l - 2*c + r; den > 0 {
		if off := 0.5 * (l - r) / den; off > -1 && off < 1 {
			return max(c-0.25*(l-r)*off, 0)
		}
	}
	return c
}

// dot is Σ a[i]·b[i] over len(a), in four independent sums so the loop is
// not bound by one addition's latency.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+3 < len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// semitones is the interval from ref to f.
func semitones(f, ref float64) float64 { return 12 * math.Log2(f/ref) }
