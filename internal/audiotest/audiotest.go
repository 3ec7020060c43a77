// Package audiotest makes and measures test signals, so tests prove that
// audio arrived, not only that bytes did.
package audiotest

import "math"

// Tone returns a sine of freq Hz at amplitude (0..1 of full scale) lasting
// samples samples at rate.
func Tone(rate int, freq, amplitude float64, samples int) []int16 {
	out := make([]int16, samples)
	for i := range out {
		out[i] = int16(amplitude * 32767 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// ToneShare is the share (0..1) of pcm's energy at freq Hz, measured with
// the Goertzel algorithm: near 1 for a pure tone at freq, near 0 without it.
func ToneShare(pcm []int16, rate int, freq float64) float64 {
	if len(pcm) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2, total float64
	for _, v := range pcm {
		x := float64(v)
		total += x * x
		s1, s2 = x+coeff*s1-s2, s1
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(len(pcm)) * total)
}

// BestCorrelation slides b over a by up to maxLag samples either way and
// returns the highest normalized correlation (−1..1) over their overlap and
// the lag where it is found (positive: b starts later in a).
func BestCorrelation(a, b []int16, maxLag int) (corr float64, lag int) {
	corr = -2
	for l := -maxLag; l <= maxLag; l++ {
		var sab, saa, sbb float64
		for i := range b {
			j := i + l
			if j < 0 || j >= len(a) {
				continue
			}
			x, y := float64(a[j]), float64(b[i])
			sab += x * y
			saa += x * x
			sbb += y * y
		}
		if saa == 0 || sbb == 0 {
			continue
		}
		if c := sab / math.Sqrt(saa*sbb); c > corr {
			corr, lag = c, l
		}
	}
	return corr, lag
}
