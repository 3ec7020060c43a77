package media

import (
	"math"
	"testing"
)

func TestG711KnownValues(t *testing.T) {
	// Values from the G.711 tables (ITU-T G.711 tables 1a/2a scaled to 16 bits).
	tests := []struct {
		codec Codec
		code  byte
		want  int16
	}{
		{PCMU, 0xFF, 0}, {PCMU, 0x7F, 0}, {PCMU, 0xFE, 8}, {PCMU, 0x7E, -8},
		{PCMU, 0xF0, 120}, {PCMU, 0xEF, 132}, {PCMU, 0xDF, 396},
		{PCMU, 0x80, 32124}, {PCMU, 0x00, -32124}, {PCMU, 0x8F, 16764},
		{PCMA, 0xD5, 8}, {PCMA, 0x55, -8}, {PCMA, 0xD4, 24}, {PCMA, 0xC5, 264},
		{PCMA, 0xAA, 32256}, {PCMA, 0x2A, -32256}, {PCMA, 0xA5, 16896},
	}
	for _, tc := range tests {
		got := tc.codec.Decode(nil, []byte{tc.code})[0]
		if got != tc.want {
			t.Errorf("%s decode 0x%02X = %d, want %d", tc.codec.Name(), tc.code, got, tc.want)
		}
	}
	encodes := []struct {
		codec Codec
		in    int16
		want  byte
	}{
		{PCMU, 0, 0xFF}, {PCMU, -1, 0x7F}, {PCMU, 1, 0xFF}, {PCMU, 32767, 0x80}, {PCMU, -32768, 0x00},
		{PCMU, 32124, 0x80}, {PCMU, 8, 0xFE},
		{PCMA, 0, 0xD5}, {PCMA, -1, 0x55}, {PCMA, 15, 0xD5}, {PCMA, 16, 0xD4}, {PCMA, -17, 0x54},
		{PCMA, 32767, 0xAA}, {PCMA, -32768, 0x2A},
	}
	for _, tc := range encodes {
		got := tc.codec.Encode(nil, []int16{tc.in})[0]
		if got != tc.want {
			t.Errorf("%s encode %d = 0x%02X, want 0x%02X", tc.codec.Name(), tc.in, got, tc.want)
		}
	}
}

func TestG711CodecRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, c := range []Codec{PCMU, PCMA} {
		back := c.Encode(nil, c.Decode(nil, all))
		for i, b := range back {
			want := byte(i)
			if c == PCMU && want == 0x7F { // μ-law's negative zero decodes to 0, which encodes as 0xFF
				want = 0xFF
			}
			if b != want {
				t.Errorf("%s: encode(decode(0x%02X)) = 0x%02X", c.Name(), i, b)
			}
		}
	}
}

// g711Positive lists a codec's 128 positive codes from the smallest
// magnitude up; XOR with 0x80 gives the matching negative codes.
func g711Positive(c Codec, i int) byte {
	if c == PCMU {
		return 0xFF - byte(i)
	}
	return byte(i) ^ 0xD5
}

func TestG711DecodeMonotonic(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		prevPos, prevNeg := int16(-1), int16(1)
		for i := range 128 {
			pos := c.Decode(nil, []byte{g711Positive(c, i)})[0]
			neg := c.Decode(nil, []byte{g711Positive(c, i) ^ 0x80})[0]
			if pos <= prevPos || neg >= prevNeg {
				t.Fatalf("%s: level %d decodes to %d/%d after %d/%d, not monotonic",
					c.Name(), i, pos, neg, prevPos, prevNeg)
			}
			if pos != -neg && !(c == PCMU && i == 0) {
				t.Errorf("%s: level %d decodes to %d and %d, not symmetric", c.Name(), i, pos, neg)
			}
			prevPos, prevNeg = pos, neg
		}
	}
}

// TestG711EncodeQuantizes checks every 16-bit input: the reconstruction never
// goes down as the input goes up, and it lies within one quantizer step of
// the input (outside the clipped top of the range).
func TestG711EncodeQuantizes(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		peak := int32(c.Decode(nil, []byte{g711Positive(c, 127)})[0])
		prev := int32(math.MinInt32)
		for x := int32(math.MinInt16); x <= math.MaxInt16; x++ {
			code := c.Encode(nil, []int16{int16(x)})[0]
			y := int32(c.Decode(nil, []byte{code})[0])
			if y < prev {
				t.Fatalf("%s: %d reconstructs to %d, below %d for a smaller input", c.Name(), x, y, prev)
			}
			prev = y
			if x > peak || x < -peak {
				continue
			}
			step := g711Step(c, code)
			if d := x - y; d > step || d < -step {
				t.Fatalf("%s: %d reconstructs to %d, off by more than the step %d", c.Name(), x, y, step)
			}
		}
	}
}

// g711Step is the distance from code's level to the next larger magnitude.
func g711Step(c Codec, code byte) int32 {
	i := int(0xFF - (code | 0x80))
	if c == PCMA {
		i = int((code | 0x80) ^ 0xD5)
	}
	i = min(i, 126)
	a := int32(c.Decode(nil, []byte{g711Positive(c, i)})[0])
	b := int32(c.Decode(nil, []byte{g711Positive(c, i+1)})[0])
	return b - a
}

func TestG711SignSymmetry(t *testing.T) {
	for x := int32(1); x <= math.MaxInt16; x++ {
		if p, n := ulawEncode(int16(x)), ulawEncode(int16(-x)); p^n != 0x80 {
			t.Fatalf("μ-law: %d → 0x%02X but %d → 0x%02X", x, p, -x, n)
		}
	}
	for x := int32(0); x <= math.MaxInt16; x++ {
		if p, n := alawEncode(int16(x)), alawEncode(^int16(x)); p^n != 0x80 {
			t.Fatalf("A-law: %d → 0x%02X but %d → 0x%02X", x, p, ^x, n)
		}
	}
}

// TestG711SineSNR uses 1020 Hz, the ITU test tone near 1 kHz: an exact
// 1000 Hz repeats every 8 samples, so it would measure only 8 quantizations.
// G.711 keeps about 37 dB over most of its range; at -40 dBFS the bound is
// G.712's looser floor for low levels.
func TestG711SineSNR(t *testing.T) {
	const n = 8000
	for _, c := range []Codec{PCMU, PCMA} {
		for _, tc := range []struct{ dbfs, min float64 }{{-1, 35}, {-10, 35}, {-20, 35}, {-25, 35}, {-40, 28}} {
			amp := 32767 * math.Pow(10, tc.dbfs/20)
			in := make([]int16, n)
			for i := range in {
				in[i] = int16(math.Round(amp * math.Sin(2*math.Pi*1020*float64(i)/8000)))
			}
			out := c.Decode(nil, c.Encode(nil, in))
			var sig, noise float64
			for i := range in {
				d := float64(out[i]) - float64(in[i])
				sig += float64(in[i]) * float64(in[i])
				noise += d * d
			}
			snr := 10 * math.Log10(sig/noise)
			if snr < tc.min {
				t.Errorf("%s: 1020 Hz sine at %.0f dBFS: SNR %.1f dB, want > %.0f", c.Name(), tc.dbfs, snr, tc.min)
			}
			t.Logf("%s %4.0f dBFS: SNR %.1f dB", c.Name(), tc.dbfs, snr)
		}
	}
}

func TestCodecByName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Codec
		pt   uint8
	}{{"PCMU", PCMU, 0}, {"pcmu", PCMU, 0}, {"PCMA", PCMA, 8}, {"pcma", PCMA, 8}} {
		c, ok := CodecByName(tc.name)
		if !ok || c != tc.want || c.PayloadType() != tc.pt || c.ClockRate() != 8000 {
			t.Errorf("CodecByName(%q) = %v, %v", tc.name, c, ok)
		}
	}
	for _, name := range []string{"", "G722", "opus", "PCM"} {
		if c, ok := CodecByName(name); ok {
			t.Errorf("CodecByName(%q) = %s, want none", name, c.Name())
		}
	}
}

func TestG711ReusesDst(t *testing.T) {
	pcm := make([]int16, 160)
	payload := make([]byte, 0, 160)
	out := make([]int16, 0, 160)
	for _, c := range []Codec{PCMU, PCMA} {
		allocs := testing.AllocsPerRun(100, func() {
			p := c.Encode(payload, pcm)
			if &p[0] != &payload[:1][0] {
				t.Fatal("Encode did not reuse dst")
			}
			s := c.Decode(out, p)
			if &s[0] != &out[:1][0] {
				t.Fatal("Decode did not reuse dst")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.0f allocations per frame with room in dst", c.Name(), allocs)
		}
	}
	// Stale contents beyond the new length are not returned.
	if got := PCMU.Encode(make([]byte, 10), pcm[:4]); len(got) != 4 {
		t.Errorf("Encode of 4 samples returned %d bytes", len(got))
	}
}

func benchFrame() []int16 {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(12000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm
}

func benchEncode(b *testing.B, c Codec) {
	pcm, dst := benchFrame(), make([]byte, 160)
	b.ReportAllocs()
	b.SetBytes(int64(len(pcm)) * 2)
	for b.Loop() {
		dst = c.Encode(dst, pcm)
	}
}

func benchDecode(b *testing.B, c Codec) {
	payload, dst := c.Encode(nil, benchFrame()), make([]int16, 160)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = c.Decode(dst, payload)
	}
}

func BenchmarkPCMUEncode(b *testing.B) { benchEncode(b, PCMU) }
func BenchmarkPCMUDecode(b *testing.B) { benchDecode(b, PCMU) }
func BenchmarkPCMAEncode(b *testing.B) { benchEncode(b, PCMA) }
func BenchmarkPCMADecode(b *testing.B) { benchDecode(b, PCMA) }
