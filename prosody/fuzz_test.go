package prosody

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// pcmOf reads little-endian 16-bit samples from arbitrary bytes.
func pcmOf(data []byte) []int16 {
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm
}

func bytesOf(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

var fuzzRates = []int{8000, 16000, 11025, 0, -8000, 3999, 48000}

func fuzzSeeds(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	f.Add([]byte{}, uint8(0), "")
	f.Add(bytesOf(make([]int16, 800)), uint8(0), "I am furious")
	f.Add(bytesOf(turnAt(rng, 120, -20)), uint8(0), "谢谢")
	f.Add(bytesOf(harmonics(rng, 16000, 200, 1, 0, 0.3)), uint8(1), "我不生气")
	full := make([]int16, 1600)
	for i := range full {
		full[i] = math.MaxInt16
		if i%2 == 1 {
			full[i] = math.MinInt16
		}
	}
	f.Add(bytesOf(full), uint8(2), "not not angry \xff\xfe")
	f.Add(bytesOf(ulaw(addNoise(rng, make([]int16, 1000), 0))), uint8(6), "thank you for nothing")
}

func finite(t *testing.T, what string, vs ...float64) {
	t.Helper()
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("%s: %v not finite", what, vs)
		}
	}
}

func checkFeatures(t *testing.T, f Features) {
	t.Helper()
	finite(t, "features", f.F0Mean, f.F0Range, f.F0Slope, f.EnergyMean, f.EnergySpread, f.Rate, f.TextRate, f.PauseRatio)
	switch {
	case f.F0Mean != 0 && (f.F0Mean < MinF0 || f.F0Mean > MaxF0):
		t.Fatalf("F0 mean %.1f out of range", f.F0Mean)
	case f.F0Range < 0 || f.EnergySpread < 0 || f.Rate < 0 || f.Nuclei < 0:
		t.Fatalf("negative measure: %+v", f)
	case f.PauseRatio < 0 || f.PauseRatio > 1:
		t.Fatalf("pause ratio %v", f.PauseRatio)
	case f.EnergyMean > 0.01 || f.EnergyMean != 0 && f.EnergyMean < -100:
		t.Fatalf("energy %v dBFS", f.EnergyMean)
	case f.Voiced > f.Speech || f.Phonation > f.Speech || f.Speech > time.Duration(f.Frames)*frameDur:
		t.Fatalf("durations: %+v", f)
	}
}

// FuzzAnalyze: any PCM at any rate gives finite, in-range features, frame
// by frame and whole.
func FuzzAnalyze(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, r uint8, _ string) {
		rate := fuzzRates[int(r)%len(fuzzRates)]
		pcm := pcmOf(data)
		checkFeatures(t, Analyze(pcm, rate))
		if rate <= 0 {
			return
		}
		a := NewAnalyzer(rate)
		for off := 0; off < len(pcm); off += max(rate/50, 1) {
			fr := a.Frame(pcm[off:min(off+max(rate/50, 1), len(pcm))])
			finite(t, "frame", fr.F0, fr.EnergyDB, fr.Aperiodicity)
			if fr.Voiced != (fr.F0 > 0) || fr.Voiced && (fr.F0 < MinF0 || fr.F0 > MaxF0) || fr.EnergyDB > 0.01 || fr.EnergyDB < -96 {
				t.Fatalf("frame %+v", fr)
			}
		}
	})
}

// FuzzObserve: any PCM and transcript, over a call, give cues in range and
// a timeline that encodes.
func FuzzObserve(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, r uint8, text string) {
		rate := fuzzRates[int(r)%len(fuzzRates)]
		pcm := pcmOf(data)
		tr := NewTracker(Config{BaselineTurns: 1})
		third := len(pcm) / 3
		for i, part := range [][]int16{pcm[:third], pcm[third : 2*third], pcm[2*third:], pcm} {
			c := tr.Observe(Utterance{PCM: part, Rate: rate, Text: text, Words: len(text) % 7, WordSpan: time.Duration(i) * 700 * time.Millisecond})
			finite(t, "cue", c.Arousal, c.Valence, c.Confidence, c.Deviation.Pitch, c.Deviation.Energy, c.Deviation.Rate,
				c.Deviation.Range, c.Deviation.Pause, c.Deviation.PitchZ, c.Deviation.EnergyZ, c.Deviation.RateZ,
				c.Deviation.RangeZ, c.Deviation.PauseZ, c.Text.Anger, c.Text.Anxiety, c.Text.Distress, c.Text.Thanks)
			checkFeatures(t, c.Features)
			switch {
			case c.Arousal < 0 || c.Arousal > 1 || c.Confidence < 0 || c.Confidence > 1 || c.Valence < -1 || c.Valence > 1:
				t.Fatalf("cue out of range: %+v", c)
			case c.Label == "" || c.Trend == "" || c.Turn != i+1:
				t.Fatalf("cue incomplete: %+v", c)
			}
			for _, s := range []float64{c.Text.Anger, c.Text.Anxiety, c.Text.Distress, c.Text.Thanks} {
				if s < 0 || s > 1 {
					t.Fatalf("text score %v", s)
				}
			}
		}
		if _, err := json.Marshal(tr.Timeline()); err != nil {
			t.Fatal(err)
		}
	})
}
