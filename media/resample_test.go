package media

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

// resamplePairs covers every common rate to and from the telephone rate,
// the wideband pairs a WebRTC leg meets, and two pairs so coprime that the
// filter interpolates between phases.
var resamplePairs = [][2]int{
	{8000, 16000}, {16000, 8000}, {48000, 8000}, {8000, 48000},
	{44100, 8000}, {8000, 44100}, {11025, 8000}, {8000, 11025},
	{22050, 8000}, {24000, 8000}, {32000, 8000}, {8000, 32000},
	{16000, 48000}, {48000, 16000}, {44100, 48000}, {48000, 44100},
	{22050, 16000}, {24000, 16000}, {11025, 32000},
	{7999, 8000}, {8000, 44101},
}

func sine(rate int, freq, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)+0.5)))
	}
	return out
}

// toneAmp measures the amplitude of the freq component of pcm, Hann-windowed
// so the other components (and the edges) leak in by less than 0.01 dB.
func toneAmp(pcm []int16, rate int, freq float64) float64 {
	var acc complex128
	var wsum float64
	n := len(pcm)
	rot, ph := cmplx.Exp(complex(0, -2*math.Pi*freq/float64(rate))), complex(1, 0)
	for i, v := range pcm {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		acc += complex(w*float64(v), 0) * ph
		wsum += w
		ph *= rot
	}
	return 2 * cmplx.Abs(acc) / wsum
}

func rms(pcm []int16) float64 {
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

// middle drops 50 ms at either end, where the signal starts and stops.
func middle(pcm []int16, rate int) []int16 {
	e := rate / 20
	return pcm[e : len(pcm)-e]
}

func db(x float64) float64 { return 20 * math.Log10(x) }

func TestResamplePassbandFlat(t *testing.T) {
	type chain struct {
		name  string
		rates []int
	}
	chains := []chain{{"8k→16k→8k", []int{8000, 16000, 8000}}, {"8k→48k→8k", []int{8000, 48000, 8000}}}
	for _, p := range resamplePairs {
		chains = append(chains, chain{fmt.Sprintf("%d→%d", p[0], p[1]), p[:]})
	}
	for _, c := range chains {
		worst := 0.0
		for f := 300.0; f <= 3400; f += 100 {
			in := sine(c.rates[0], f, 16000, c.rates[0]/4)
			out := in
			for i := 1; i < len(c.rates); i++ {
				out = Resample(out, c.rates[i-1], c.rates[i])
			}
			last := c.rates[len(c.rates)-1]
			gain := db(toneAmp(middle(out, last), last, f) / toneAmp(middle(in, c.rates[0]), c.rates[0], f))
			if math.Abs(gain) > math.Abs(worst) {
				worst = gain
			}
			if math.Abs(gain) > 0.5 {
				t.Errorf("%s: %.0f Hz gain %+.2f dB, want within ±0.5 dB", c.name, f, gain)
			}
		}
		t.Logf("%-16s worst passband gain 300..3400 Hz: %+.4f dB", c.name, worst)
	}
}

func TestResampleStopband(t *testing.T) {
	tests := []struct {
		from, to int
		freqs    []float64
	}{
		{48000, 8000, []float64{4100, 4500, 6000, 10000, 20000}},
		{44100, 8000, []float64{4100, 6000, 15000}},
		{16000, 8000, []float64{4100, 6000, 7500}},
		{48000, 16000, []float64{8200, 12000}},
		{11025, 8000, []float64{4100, 5000}},
	}
	for _, tc := range tests {
		for _, f := range tc.freqs {
			in := sine(tc.from, f, 16000, tc.from/2)
			out := Resample(in, tc.from, tc.to)
			att := db(rms(middle(out, tc.to)) / rms(in))
			if att > -40 {
				t.Errorf("%d→%d: %.0f Hz comes out at %.1f dB, want ≤ -40 dB", tc.from, tc.to, f, att)
			}
			t.Logf("%d→%d: %5.0f Hz attenuated to %.1f dB", tc.from, tc.to, f, att)
		}
	}
}

// TestResampleImages checks upsampling: what is left after removing the tone
// (its images above the input's Nyquist frequency, and rounding) is small.
func TestResampleImages(t *testing.T) {
	for _, p := range [][2]int{{8000, 16000}, {8000, 48000}, {8000, 44100}, {16000, 48000}} {
		const f, amp = 3000.0, 16000.0
		in := sine(p[0], f, amp, p[0]/2)
		out := middle(Resample(in, p[0], p[1]), p[1])
		// Least-squares fit of the tone, then the residual's level.
		var ss, sc, cc, xs, xc float64
		for i, v := range out {
			ph := 2 * math.Pi * f * float64(i) / float64(p[1])
			s, c := math.Sin(ph), math.Cos(ph)
			ss, sc, cc = ss+s*s, sc+s*c, cc+c*c
			xs, xc = xs+float64(v)*s, xc+float64(v)*c
		}
		det := ss*cc - sc*sc
		a, b := (xs*cc-xc*sc)/det, (xc*ss-xs*sc)/det
		var res float64
		for i, v := range out {
			ph := 2 * math.Pi * f * float64(i) / float64(p[1])
			d := float64(v) - a*math.Sin(ph) - b*math.Cos(ph)
			res += d * d
		}
		level := db(math.Sqrt(res/float64(len(out))) / (amp / math.Sqrt2))
		if level > -40 {
			t.Errorf("%d→%d: images of %.0f Hz at %.1f dB, want ≤ -40 dB", p[0], p[1], f, level)
		}
		t.Logf("%d→%d: residual besides %.0f Hz at %.1f dB", p[0], p[1], f, level)
	}
}

func TestResampleLength(t *testing.T) {
	for _, p := range resamplePairs {
		for _, n := range []int{0, 1, 2, 7, 160, 441, 1000, 8001} {
			got := len(Resample(make([]int16, n), p[0], p[1]))
			want := (n*p[1] + p[0] - 1) / p[0]
			if got != want {
				t.Errorf("%d→%d of %d samples: %d out, want %d", p[0], p[1], n, got, want)
			}
		}
	}
}

// speechLike is a broadband test signal: tones, a chirp and noise.
func speechLike(rate, n int) []int16 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / float64(rate)
		v := 6000*math.Sin(2*math.Pi*220*t) + 4000*math.Sin(2*math.Pi*1330*t) +
			3000*math.Sin(2*math.Pi*(200+2000*t)*t) + 2000*rng.NormFloat64()
		out[i] = int16(max(-32768, min(32767, v)))
	}
	return out
}

func TestResampleStreamingMatchesOneShot(t *testing.T) {
	for _, p := range resamplePairs {
		in := speechLike(p[0], p[0]) // 1 s
		want := Resample(in, p[0], p[1])
		for _, chunking := range []string{"20ms", "random"} {
			r := NewResampler(p[0], p[1])
			rng := rand.New(rand.NewPCG(3, 4))
			var got, buf []int16
			for pos, frame := 0, 0; pos < len(in); frame++ {
				n := (frame+1)*p[0]/50 - frame*p[0]/50 // 20 ms, even at 11025 Hz
				if chunking == "random" {
					n = rng.IntN(700)
				}
				end := min(pos+n, len(in))
				buf = r.Process(buf, in[pos:end])
				if chunking == "20ms" && p[0]%50 == 0 && p[1]%50 == 0 && end-pos == p[0]/50 && len(buf) != p[1]/50 {
					t.Fatalf("%d→%d: 20 ms in gave %d samples out, want %d", p[0], p[1], len(buf), p[1]/50)
				}
				got = append(got, buf...)
				pos = end
			}
			got = append(got, r.Flush(buf)...)
			if d := r.Delay(); len(got) != d+len(want) || !slices.Equal(got[d:], want) {
				t.Errorf("%d→%d in %s chunks: stream differs from one-shot (len %d, delay %d, want %d)",
					p[0], p[1], chunking, len(got), d, len(want))
			}
		}
		// After Flush the Resampler starts a fresh stream.
		r := NewResampler(p[0], p[1])
		first := append(r.Process(nil, in), r.Flush(nil)...)
		second := append(r.Process(nil, in), r.Flush(nil)...)
		if !slices.Equal(first, second) {
			t.Errorf("%d→%d: a second stream after Flush differs from the first", p[0], p[1])
		}
	}
}

// TestResampleTimeAligned checks that an impulse and a tone onset come out
// at the same time they went in (within 1 ms), and that the stream is late
// by exactly Delay.
func TestResampleTimeAligned(t *testing.T) {
	for _, p := range resamplePairs {
		at := 0.2377 // seconds
		in := make([]int16, p[0]/2)
		in[int(at*float64(p[0]))] = 30000
		out := Resample(in, p[0], p[1])
		peak := 0
		for i := range out {
			if abs16(out[i]) > abs16(out[peak]) {
				peak = i
			}
		}
		want := float64(int(at*float64(p[0]))) * float64(p[1]) / float64(p[0])
		if d := math.Abs(float64(peak)-want) / float64(p[1]); d > 0.001 {
			t.Errorf("%d→%d: impulse at %.2f ms comes out at %.2f ms", p[0], p[1], 1000*want/float64(p[1]), 1000*float64(peak)/float64(p[1]))
		}
		r := NewResampler(p[0], p[1])
		stream := append(r.Process(nil, in), r.Flush(nil)...)
		if !slices.Equal(stream[r.Delay():], out) {
			t.Errorf("%d→%d: stream is not the one-shot output late by Delay", p[0], p[1])
		}

		onset := int(at * float64(p[0]))
		tone := make([]int16, p[0]/2)
		copy(tone[onset:], sine(p[0], 1000, 20000, len(tone)-onset))
		out = Resample(tone, p[0], p[1])
		first := slices.IndexFunc(out, func(v int16) bool { return abs16(v) > 5000 })
		wantT := float64(onset) / float64(p[0])
		if d := math.Abs(float64(first)/float64(p[1]) - wantT); first < 0 || d > 0.001 {
			t.Errorf("%d→%d: tone onset at %.2f ms comes out at %.2f ms", p[0], p[1], 1000*wantT, 1000*float64(first)/float64(p[1]))
		}
	}
}

func TestResamplePassthrough(t *testing.T) {
	in := speechLike(8000, 500)
	r := NewResampler(8000, 8000)
	if got := r.Process(nil, in); !slices.Equal(got, in) || r.Delay() != 0 || len(r.Flush(nil)) != 0 {
		t.Error("equal rates do not pass samples through")
	}
	out := Resample(in, 16000, 16000)
	out[0]++
	if out[0] == in[0] {
		t.Error("Resample at equal rates returned its input, not a copy")
	}
}

func TestResampleDCAndClipping(t *testing.T) {
	for _, p := range resamplePairs {
		for _, level := range []int16{32767, -32768, 1000} {
			in := make([]int16, p[0]/2)
			for i := range in {
				in[i] = level
			}
			out := middle(Resample(in, p[0], p[1]), p[1])
			for i, v := range out {
				if d := int(v) - int(level); d > 1 || d < -1 {
					t.Fatalf("%d→%d: constant %d comes out as %d at %d", p[0], p[1], level, v, i)
				}
			}
		}
	}
}

func TestResamplerNoAllocs(t *testing.T) {
	for _, p := range [][2]int{{8000, 16000}, {16000, 8000}, {48000, 8000}, {8000, 44101}} {
		r := NewResampler(p[0], p[1])
		in := speechLike(p[0], p[0]/50)
		out := make([]int16, 0, p[1]/50+1)
		out = r.Process(out, in)
		if allocs := testing.AllocsPerRun(50, func() { out = r.Process(out, in) }); allocs != 0 {
			t.Errorf("%d→%d: %.0f allocations per frame", p[0], p[1], allocs)
		}
	}
}

func abs16(v int16) int {
	if v < 0 {
		return -int(v)
	}
	return int(v)
}

func benchResample(b *testing.B, from, to int) {
	r := NewResampler(from, to)
	in := speechLike(from, from/50)
	out := make([]int16, 0, to/50)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)) * 2)
	for b.Loop() {
		out = r.Process(out, in)
	}
}

func BenchmarkResample8kTo16k(b *testing.B)  { benchResample(b, 8000, 16000) }
func BenchmarkResample16kTo8k(b *testing.B)  { benchResample(b, 16000, 8000) }
func BenchmarkResample48kTo8k(b *testing.B)  { benchResample(b, 48000, 8000) }
func BenchmarkResample8kTo48k(b *testing.B)  { benchResample(b, 8000, 48000) }
func BenchmarkResample44kTo8k(b *testing.B)  { benchResample(b, 44100, 8000) }
func BenchmarkResample48kTo16k(b *testing.B) { benchResample(b, 48000, 16000) }
