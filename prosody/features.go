package prosody

import (
	"math"
	"slices"
	"time"

	"github.com/hotline-cc/hotline/media"
)

const (
	// minRate and maxRate bound the sample rates Analyze takes.
	minRate = 4000
	maxRate = 192000

	frameDur = 20 * time.Millisecond
	frameSec = 0.02

	// activeRangeDB: frames this far below the utterance's loudest voiced
	// frame are not speech whatever the line noise.
	activeRangeDB = 35.0
	// activeOverFloorDB: a frame must be this far above the utterance's
	// quietest frames (the line noise in the lead-in and trailing
	// silence) to count as speech when it is not voiced.
	activeOverFloorDB = 6.0
	// pauseFrames: a silent gap inside the speech this long (200 ms) is a
	// pause; shorter ones are stop closures and the gaps between words.
	pauseFrames = 10
	// nucleusDipDB: two energy peaks are separate syllables only if the
	// envelope dips this far between them (de Jong and Wempe, 2009).
	nucleusDipDB = 2.0
	// nucleusRangeDB: a syllable nucleus is within this of the loudest.
	nucleusRangeDB = 25.0
	// minPitchRun: voiced runs shorter than this many frames give no
	// pitch to the statistics: a lone periodic frame is too often a
	// burst of noise or a creaky onset.
	minPitchRun = 2
)

// Features describe one utterance of the caller's: one turn, as the voice
// activity detector cut it, lead-in and trailing silence included.
type Features struct {
	// Frames is the number of 20 ms frames analysed.
	Frames int `json:"frames"`
	// Speech is the span from the first to the last frame of speech;
	// Phonation is Speech without the pauses; Voiced is the time with a
	// pitch.
	Speech    time.Duration `json:"speech"`
	Phonation time.Duration `json:"phonation"`
	Voiced    time.Duration `json:"voiced"`
	// F0Mean is the mean fundamental frequency over voiced frames, in Hz
	// (the mean of log F0: a geometric mean), 0 with no voiced frames.
	// Frames an octave off the utterance's median are folded back first.
	F0Mean float64 `json:"f0_mean"`
	// F0Range is the spread of the pitch, from its 10th to its 90th
	// percentile, in semitones.
	F0Range float64 `json:"f0_range"`
	// F0Slope is the pitch's trend over the utterance, a least-squares
	// line through the voiced frames, in semitones a second.
	F0Slope float64 `json:"f0_slope"`
	// EnergyMean is the active speech level in dBFS (power mean of the
	// speech frames), EnergySpread the standard deviation of their levels
	// in dB.
	EnergyMean   float64 `json:"energy_mean"`
	EnergySpread float64 `json:"energy_spread"`
	// Nuclei is the number of syllable nuclei found: peaks of the voiced
	// energy envelope with a dip of 2 dB between them.
	Nuclei int `json:"nuclei"`
	// Rate is the speaking rate, Nuclei per second of Phonation.
	Rate float64 `json:"rate"`
	// TextRate is the rate from the transcript, syllables per second of
	// Phonation, when the Tracker was given one; Analyze leaves it 0.
	TextRate float64 `json:"text_rate,omitempty"`
	// PauseRatio is the share of Speech spent in pauses (silences of
	// 200 ms or more).
	PauseRatio float64 `json:"pause_ratio"`
}

// Analyze measures one utterance of PCM at rate Hz (8000 or 16000; any
// rate from 4 to 192 kHz is resampled to 8 kHz). A rate outside that range
// gives zero Features.
func Analyze(pcm []int16, rate int) Features {
	if rate < minRate || rate > maxRate {
		return Features{}
	}
	a := NewAnalyzer(rate)
	fs := media.FrameSamples(rate)
	frames := make([]Frame, 0, len(pcm)/fs+1)
	for off := 0; off < len(pcm); off += fs {
		frames = append(frames, a.Frame(pcm[off:min(off+fs, len(pcm))]))
	}
	return Summarize(frames)
}

// Summarize measures an utterance from its 20 ms Frames, as an Analyzer
// produced them while the caller spoke.
func Summarize(frames []Frame) Features {
	f := Features{Frames: len(frames)}
	if len(frames) == 0 {
		return f
	}
	active := activeFrames(frames)
	first := slices.Index(active, true)
	if first < 0 {
		return f
	}
	last := len(active) - 1 - slices.Index(reversed(active), true)
	span := last - first + 1

	// Pauses: long runs of silence inside the speech.
	pause, run := 0, 0
	for i := first; i <= last+1; i++ {
		if i <= last && !active[i] {
			run++
			continue
		}
		if run >= pauseFrames {
			pause += run
		}
		run = 0
	}
	f.Speech = time.Duration(span) * frameDur
	f.Phonation = time.Duration(span-pause) * frameDur
	f.PauseRatio = float64(pause) / float64(span)

	// Energy over the voiced frames, the vowels, which carry the voice's
	// effort; the consonants' share grows with the pace and would make
	// fast speech read quieter. Without voiced frames, the speech frames.
	voicedOnly := slices.ContainsFunc(frames[first:last+1], func(fr Frame) bool { return fr.Voiced })
	var pw, sum, sum2 float64
	n := 0
	for i := first; i <= last; i++ {
		if !active[i] || voicedOnly && !frames[i].Voiced {
			continue
		}
		e := frames[i].EnergyDB
		pw += math.Pow(10, e/10)
		sum += e
		sum2 += e * e
		n++
	}
	f.EnergyMean = 10 * math.Log10(pw/float64(n))
	mean := sum / float64(n)
	f.EnergySpread = math.Sqrt(max(sum2/float64(n)-mean*mean, 0))

	pitch(frames, &f)
	f.Nuclei = nuclei(frames, active)
	if ph := f.Phonation.Seconds(); ph > 0 {
		f.Rate = float64(f.Nuclei) / ph
	}
	return f
}

// activeFrames marks the frames of speech: voiced ones, and unvoiced ones
// loud enough over the line's noise (fricatives, bursts).
func activeFrames(frames []Frame) []bool {
	levels := make([]float64, len(frames))
	peak := math.Inf(-1)
	for i, fr := range frames {
		levels[i] = fr.EnergyDB
		if fr.Voiced {
			peak = max(peak, fr.EnergyDB)
		}
	}
	slices.Sort(levels)
	if math.IsInf(peak, -1) {
		peak = levels[len(levels)-1]
	}
	floor := levels[len(levels)/20]
	thr := max(floor+activeOverFloorDB, peak-activeRangeDB, minVoicedDBFS)
	active := make([]bool, len(frames))
	for i, fr := range frames {
		active[i] = fr.Voiced || fr.EnergyDB >= thr
	}
	return active
}

func reversed(b []bool) []bool {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// pitch fills the F0 statistics from the voiced frames.
func pitch(frames []Frame, f *Features) {
	type point struct{ t, st float64 }
	var f0s []float64
	var idx []int
	for i := 0; i < len(frames); {
		if !frames[i].Voiced {
			i++
			continue
		}
		j := i
		for j < len(frames) && frames[j].Voiced {
			j++
		}
		if j-i >= minPitchRun {
			for k := i; k < j; k++ {
				f0s = append(f0s, frames[k].F0)
				idx = append(idx, k)
			}
		}
		i = j
	}
	f.Voiced = time.Duration(len(f0s)) * frameDur
	if len(f0s) == 0 {
		return
	}
	sorted := slices.Clone(f0s)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	// Fold octave errors back towards the median.
	pts := make([]point, len(f0s))
	var logSum float64
	for i, v := range f0s {
		switch {
		case v > 1.8*med:
			v /= 2
		case v < 0.55*med:
			v *= 2
		}
		st := semitones(v, 100)
		pts[i] = point{float64(idx[i]) * frameSec, st}
		logSum += st
	}
	f.F0Mean = 100 * math.Pow(2, logSum/float64(len(pts))/12)
	sts := make([]float64, len(pts))
	for i, p := range pts {
		sts[i] = p.st
	}
	slices.Sort(sts)
	f.F0Range = percentile(sts, 0.9) - percentile(sts, 0.1)
	if len(pts) >= 5 {
		var mt, ms float64
		for _, p := range pts {
			mt += p.t
			ms += p.st
		}
		mt /= float64(len(pts))
		ms /= float64(len(pts))
		var num, den float64
		for _, p := range pts {
			num += (p.t - mt) * (p.st - ms)
			den += (p.t - mt) * (p.t - mt)
		}
		if den > 0.2*0.2/12 { // at least about 200 ms of spread
			f.F0Slope = num / den
		}
	}
}

// percentile of sorted values, interpolated; q in 0..1.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (x-float64(i))*(sorted[i+1]-sorted[i])
}

// nuclei counts syllable nuclei: peaks of the smoothed energy envelope of
// the voiced frames, within nucleusRangeDB of the loudest, separated by a
// dip of nucleusDipDB.
func nuclei(frames []Frame, active []bool) int {
	n := len(frames)
	floor := math.Inf(1)
	top := math.Inf(-1)
	for _, fr := range frames {
		floor = min(floor, fr.EnergyDB)
		if fr.Voiced {
			top = max(top, fr.EnergyDB)
		}
	}
	if math.IsInf(top, -1) {
		return 0
	}
	raw := make([]float64, n)
	for i, fr := range frames {
		raw[i] = floor
		if fr.Voiced && active[i] {
			raw[i] = fr.EnergyDB
		}
	}
	env := make([]float64, n)
	for i := range raw {
		l, r := raw[max(i-1, 0)], raw[min(i+1, n-1)]
		env[i] = (l + 6*raw[i] + r) / 8 // a light touch: syllables are 6 frames apart at 8/s
	}
	count := 0
	prev := -1 // index of the last nucleus kept
	for i := range n {
		if !frames[i].Voiced || !active[i] || raw[i] < top-nucleusRangeDB {
			continue
		}
		if (i > 0 && env[i] <= env[i-1]) || (i < n-1 && env[i] < env[i+1]) {
			continue
		}
		if prev >= 0 {
			dip := slices.Min(env[prev : i+1])
			if dip > min(env[prev], env[i])-nucleusDipDB {
				// No clear dip: the same syllable; keep the higher peak.
				if env[i] > env[prev] {
					prev = i
				}
				continue
			}
		}
		count++
		prev = i
	}
	return count
}
