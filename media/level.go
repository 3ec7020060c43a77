package media

import "math"

// SilenceDBFS is the level of a frame of digital silence, the floor of Level.
const SilenceDBFS = -96.0

// Level returns the RMS level of pcm in dB relative to full scale.
func Level(pcm []int16) float64 {
	if len(pcm) == 0 {
		return SilenceDBFS
	}
	var sum float64
	for _, s := range pcm {
		sum += float64(s) * float64(s)
	}
	rms := math.Sqrt(sum / float64(len(pcm)))
	if rms < 1 {
		return SilenceDBFS
	}
	return max(20*math.Log10(rms/32768), SilenceDBFS)
}
