package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
)

// wavChunk is one RIFF chunk with its header and pad byte.
func wavChunk(id string, body []byte) []byte {
	b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func wavFile(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func wavFmt(format uint16, channels, rate, bits int) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, format)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*bits/8))
	b = le.AppendUint16(b, uint16(channels*bits/8))
	return le.AppendUint16(b, uint16(bits))
}

// wavFmtExt is a WAVE_FORMAT_EXTENSIBLE fmt chunk body for sub-format sub.
func wavFmtExt(sub uint16, channels, rate, bits, valid int) []byte {
	le := binary.LittleEndian
	b := wavFmt(wavExtensible, channels, rate, bits)
	b = le.AppendUint16(b, 22)
	b = le.AppendUint16(b, uint16(valid))
	b = le.AppendUint32(b, 0x4) // channel mask: front centre
	b = le.AppendUint16(b, sub)
	return append(b, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
}

func pcm16Bytes(pcm []int16) []byte {
	var b []byte
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// smallWAV is a valid 8 kHz 16-bit mono file, 20 samples of a 1 kHz tone.
func smallWAV() []byte {
	return wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)), wavChunk("data", pcm16Bytes(sine(8000, 1000, 12000, 20))))
}

func TestLoadWAVFormats(t *testing.T) {
	ref := sine(8000, 1000, 20000, 400)
	le := binary.LittleEndian
	enc := func(f func(b []byte, s int16) []byte) []byte {
		var b []byte
		for _, s := range ref {
			b = f(b, s)
		}
		return b
	}
	g711 := func(c Codec) []int16 { return c.Decode(nil, c.Encode(nil, ref)) }
	pcm8 := make([]int16, len(ref))
	for i, s := range ref {
		pcm8[i] = s >> 8 << 8
	}
	pcm24 := enc(func(b []byte, s int16) []byte { return append(b, 0x7F, byte(s), byte(s>>8)) })
	tests := []struct {
		name string
		file []byte
		want []int16
	}{
		{"pcm16", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)), wavChunk("data", pcm16Bytes(ref))), ref},
		{"pcm8", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 8)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return append(b, byte(s>>8)+128) }))), pcm8},
		{"pcm24", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 24)), wavChunk("data", pcm24)), ref},
		{"pcm32", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 32)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return le.AppendUint32(b, uint32(int32(s)<<16|0x1234)) }))), ref},
		{"float32", wavFile(wavChunk("fmt ", wavFmt(wavFloat, 1, 8000, 32)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return le.AppendUint32(b, math.Float32bits(float32(s)/32768)) }))), ref},
		{"float64", wavFile(wavChunk("fmt ", wavFmt(wavFloat, 1, 8000, 64)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return le.AppendUint64(b, math.Float64bits(float64(s)/32768)) }))), ref},
		{"mulaw", wavFile(wavChunk("fmt ", append(wavFmt(wavMuLaw, 1, 8000, 8), 0, 0)), wavChunk("data", PCMU.Encode(nil, ref))), g711(PCMU)},
		{"alaw", wavFile(wavChunk("fmt ", append(wavFmt(wavALaw, 1, 8000, 8), 0, 0)), wavChunk("data", PCMA.Encode(nil, ref))), g711(PCMA)},
		{"extensible 24 in 32", wavFile(wavChunk("fmt ", wavFmtExt(wavPCM, 1, 8000, 32, 24)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return le.AppendUint32(b, uint32(int32(s)<<16)) }))), ref},
		{"extensible float", wavFile(wavChunk("fmt ", wavFmtExt(wavFloat, 1, 8000, 32, 32)),
			wavChunk("data", enc(func(b []byte, s int16) []byte { return le.AppendUint32(b, math.Float32bits(float32(s)/32768)) }))), ref},
		{"extensible mulaw", wavFile(wavChunk("fmt ", wavFmtExt(wavMuLaw, 1, 8000, 8, 8)), wavChunk("data", PCMU.Encode(nil, ref))), g711(PCMU)},
		{"chunks around and odd padding", wavFile(
			wavChunk("LIST", []byte("INFOISFT\x05\x00\x00\x00sox!\x00\x00")), wavChunk("junk", []byte{1, 2, 3}),
			wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 24)), wavChunk("fact", []byte{1, 0, 0, 0}),
			wavChunk("data", pcm24), wavChunk("LIST", []byte("INFO"))), ref},
		{"data before fmt", wavFile(wavChunk("data", pcm16Bytes(ref)), wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16))), ref},
		{"data size past the end", func() []byte {
			b := wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)), wavChunk("data", pcm16Bytes(ref)))
			binary.LittleEndian.PutUint32(b[40:], 0xFFFFFFFF)
			return b
		}(), ref},
		{"stereo mixdown", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 2, 8000, 16)),
			wavChunk("data", pcm16Bytes([]int16{1000, 3000, -32768, -32768, 32767, 32767, 100, -100}))),
			[]int16{2000, -32768, 32767, 0}},
		{"empty data", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)), wavChunk("data", nil)), []int16{}},
	}
	for _, tc := range tests {
		got, err := LoadWAV(bytes.NewReader(tc.file), 8000)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			n := min(len(got), len(tc.want), 8)
			t.Errorf("%s: got %d samples %v…, want %d %v…", tc.name, len(got), got[:n], len(tc.want), tc.want[:n])
		}
	}
}

func TestLoadWAVReadsFromCurrentPosition(t *testing.T) {
	r := bytes.NewReader(append([]byte("junk!"), smallWAV()...))
	r.Seek(5, io.SeekStart)
	if got, err := LoadWAV(r, 8000); err != nil || len(got) != 20 {
		t.Errorf("LoadWAV after a prefix: %d samples, %v", len(got), err)
	}
}

// TestLoadWAV44k24bitStereo writes the file with go-audio/wav, so the reader
// is checked against another implementation.
func TestLoadWAV44k24bitStereo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prompt.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const rate, n = 44100, 44100 // 1 s
	data := make([]int, 0, 2*n)
	for i := range n {
		ph := float64(i) / rate
		l := 0.5 * math.Sin(2*math.Pi*1000*ph)
		// 9 kHz would alias onto 1 kHz at 8 kHz and change its amplitude.
		r := 0.5*math.Sin(2*math.Pi*1000*ph) + 0.3*math.Sin(2*math.Pi*9000*ph)
		data = append(data, int(l*(1<<23)), int(r*(1<<23)))
	}
	e := wav.NewEncoder(f, rate, 24, 2, 1)
	if err := e.Write(&audio.IntBuffer{Format: &audio.Format{NumChannels: 2, SampleRate: rate}, Data: data, SourceBitDepth: 24}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	pcm, err := LoadWAVFile(path, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 8000 {
		t.Errorf("1 s at 44.1 kHz loaded as %d samples at 8 kHz, want 8000", len(pcm))
	}
	mid := middle(pcm, 8000)
	if amp := toneAmp(mid, 8000, 1000) / 32768; math.Abs(db(amp/0.5)) > 0.05 {
		t.Errorf("1 kHz tone at amplitude %.4f, want 0.5", amp)
	}
	// Nothing else is left besides the tone.
	if share := toneShare(mid, 8000, 1000); share < 0.999 {
		t.Errorf("1 kHz holds %.4f of the energy, want ≈1", share)
	}
}

// toneShare is the part of pcm's energy at freq.
func toneShare(pcm []int16, rate int, freq float64) float64 {
	a := toneAmp(pcm, rate, freq)
	r := rms(pcm)
	return a * a / 2 / (r * r)
}

func TestLoadWAVRejects(t *testing.T) {
	valid := smallWAV()
	withFmt := func(format uint16, channels, rate, bits int) []byte {
		return wavFile(wavChunk("fmt ", wavFmt(format, channels, rate, bits)), wavChunk("data", make([]byte, 64)))
	}
	huge := func(id string) []byte {
		b := wavFile(wavChunk(id, make([]byte, 4)), wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)))
		binary.LittleEndian.PutUint32(b[16:], 0xFFFFFFF0)
		return b
	}
	tests := []struct {
		name, want string
		file       []byte
	}{
		{"empty", "not a riff/wave", nil},
		{"garbage", "not a riff/wave", []byte("this is not audio at all, just text")},
		{"riff only", "not a riff/wave", []byte("RIFF")},
		{"avi", "not a riff/wave", append([]byte("RIFF\x04\x00\x00\x00AVI "), valid[12:]...)},
		{"big-endian rifx", "not a riff/wave", append([]byte("RIFX"), valid[4:]...)},
		{"no chunks", "no fmt chunk", wavFile()},
		{"no fmt", "no fmt chunk", wavFile(wavChunk("data", make([]byte, 16)))},
		{"no data", "no data chunk", wavFile(wavChunk("fmt ", wavFmt(wavPCM, 1, 8000, 16)))},
		{"short fmt", "bad fmt chunk", wavFile(wavChunk("fmt ", make([]byte, 14)), wavChunk("data", nil))},
		{"huge fmt", "bad fmt chunk", huge("fmt ")},
		{"huge list", "no fmt chunk", huge("LIST")},
		{"fmt past end", "truncated fmt chunk", valid[:30]},
		{"ms adpcm", "0x0002 (Microsoft ADPCM)", withFmt(0x0002, 1, 8000, 4)},
		{"mp3", "0x0055 (MP3)", withFmt(0x0055, 1, 8000, 0)},
		{"ima adpcm", "0x0011 (IMA ADPCM)", withFmt(0x0011, 1, 8000, 4)},
		{"unknown", "0x1234 (unknown)", withFmt(0x1234, 1, 8000, 16)},
		{"extensible adpcm", "0x0002", wavFile(wavChunk("fmt ", wavFmtExt(0x0002, 1, 8000, 4, 4)), wavChunk("data", nil))},
		{"short extensible", "extensible fmt chunk too short", withFmt(wavExtensible, 1, 8000, 16)},
		{"zero channels", "channel count 0", withFmt(wavPCM, 0, 8000, 16)},
		{"zero rate", "sample rate 0", withFmt(wavPCM, 1, 0, 16)},
		{"absurd rate", "sample rate 4000000000", withFmt(wavPCM, 1, 4000000000, 16)},
		{"zero bits", "0-bit pcm", withFmt(wavPCM, 1, 8000, 0)},
		{"48 bits", "48-bit pcm", withFmt(wavPCM, 1, 8000, 48)},
		{"16-bit float", "16-bit float", withFmt(wavFloat, 1, 8000, 16)},
		{"16-bit mulaw", "16-bit g.711", withFmt(wavMuLaw, 1, 8000, 16)},
	}
	for _, tc := range tests {
		_, err := LoadWAV(bytes.NewReader(tc.file), 8000)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadWAV(bytes.NewReader(valid), 0); err == nil {
		t.Error("a target rate of 0 was accepted")
	}
}

// TestLoadWAVTruncated cuts a valid file at every length: short of the
// first sample it is an error; after that, the samples that are there.
func TestLoadWAVTruncated(t *testing.T) {
	full := smallWAV()
	for n := range len(full) {
		pcm, err := LoadWAV(bytes.NewReader(full[:n]), 8000)
		switch {
		case n < 44 && err == nil:
			t.Errorf("%d bytes: no error", n)
		case n >= 44 && (err != nil || len(pcm) != (n-44)/2):
			t.Errorf("%d bytes: %d samples, %v; want %d", n, len(pcm), err, (n-44)/2)
		}
	}
}

func TestLoadWAVFileNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.wav")
	if err := os.WriteFile(bad, []byte("nonsense"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.wav")} {
		if _, err := LoadWAVFile(p, 8000); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("LoadWAVFile(%s): %v, want an error naming the file", p, err)
		}
	}
}

func TestWAVRecorderRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls", "2024", "msg.wav")
	rec, err := NewRecorder(path, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := speechLike(8000, 3*8000+37) // over a flush, ending mid-frame
	for i := 0; i < len(want); i += 160 {
		if err := rec.WriteMono(want[i:min(i+160, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	if rec.Samples() != len(want) || rec.Path() != path {
		t.Errorf("Samples %d, Path %q", rec.Samples(), rec.Path())
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := rec.WriteMono(want[:160]); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
	got, err := LoadWAVFile(path, 8000)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("read back %d samples (%v), want the %d written", len(got), err, len(want))
	}
	// go-audio/wav reads it the same.
	f, _ := os.Open(path)
	defer f.Close()
	d := wav.NewDecoder(f)
	buf, err := d.FullPCMBuffer()
	if err != nil || d.SampleRate != 8000 || d.NumChans != 1 || d.BitDepth != 16 || len(buf.Data) != len(want) {
		t.Fatalf("go-audio/wav: %v, %d Hz %d ch %d bit, %d samples", err, d.SampleRate, d.NumChans, d.BitDepth, len(buf.Data))
	}
	for i, v := range buf.Data {
		if int16(v) != want[i] {
			t.Fatalf("go-audio/wav sample %d = %d, want %d", i, v, want[i])
		}
	}
	for p, want := range map[string]os.FileMode{path: 0o640, filepath.Dir(path): 0o750} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&^want != 0 {
			t.Errorf("%s: mode %v, want at most %v", p, st.Mode().Perm(), want)
		}
	}
}

func TestWAVRecorderStereoLeftFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "call.wav")
	rec, err := NewRecorder(path, 16000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteStereo([]int16{1, 2, 3}, []int16{-1, -2, -3}); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := wavFile(wavChunk("fmt ", wavFmt(wavPCM, 2, 16000, 16)), wavChunk("data", pcm16Bytes([]int16{1, -1, 2, -2, 3, -3})))
	if !bytes.Equal(b, want) {
		t.Errorf("file\n% x\nwant\n% x", b, want)
	}
	if rec.Samples() != 3 {
		t.Errorf("Samples = %d, want 3 per channel", rec.Samples())
	}
}

func TestWAVRecorderMisuse(t *testing.T) {
	dir := t.TempDir()
	mono, err := NewRecorder(filepath.Join(dir, "m.wav"), 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer mono.Close()
	stereo, err := NewRecorder(filepath.Join(dir, "s.wav"), 8000, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer stereo.Close()
	if mono.WriteStereo([]int16{1}, []int16{1}) == nil {
		t.Error("stereo frame accepted by a mono recording")
	}
	if stereo.WriteMono([]int16{1}) == nil {
		t.Error("mono frame accepted by a stereo recording")
	}
	if stereo.WriteStereo([]int16{1, 2}, []int16{1}) == nil {
		t.Error("stereo frame of unequal halves accepted")
	}
	for _, ch := range []int{0, 3} {
		if _, err := NewRecorder(filepath.Join(dir, "x.wav"), 8000, ch); err == nil {
			t.Errorf("%d channels accepted", ch)
		}
	}
	if _, err := NewRecorder(filepath.Join(dir, "m.wav", "under-a-file.wav"), 8000, 1); err == nil {
		t.Error("a recording under a regular file was created")
	}
}

// TestWAVRecorderReadableBeforeClose: the header is kept current, so what a
// crash leaves behind is a valid file.
func TestWAVRecorderReadableBeforeClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wav")
	rec, err := NewRecorder(path, 8000, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	frame := sine(8000, 440, 8000, 160)
	for range 100 { // 2 s
		if err := rec.WriteMono(frame); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadWAVFile(path, 8000)
	if err != nil || len(got) < 8000 {
		t.Errorf("open recording reads as %d samples (%v), want at least the first second", len(got), err)
	}
}

func BenchmarkRecorderWriteStereo(b *testing.B) {
	rec, err := NewRecorder(filepath.Join(b.TempDir(), "bench.wav"), 8000, 2)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	l, r := sine(8000, 440, 8000, 160), sine(8000, 880, 8000, 160)
	b.ReportAllocs()
	for b.Loop() {
		if err := rec.WriteStereo(l, r); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzLoadWAV(f *testing.F) {
	f.Add(smallWAV())
	f.Add(wavFile(wavChunk("LIST", []byte("INFOISFT\x03\x00\x00\x00go\x00\x00")),
		wavChunk("fmt ", wavFmt(wavPCM, 2, 44100, 24)), wavChunk("data", make([]byte, 60))))
	f.Add(wavFile(wavChunk("fmt ", append(wavFmt(wavMuLaw, 1, 8000, 8), 0, 0)), wavChunk("data", []byte{0xFF, 0x80, 0x00, 0x7F, 0x13})))
	f.Add(wavFile(wavChunk("fmt ", wavFmtExt(wavFloat, 1, 16000, 32, 32)), wavChunk("data", make([]byte, 40))))
	f.Fuzz(func(t *testing.T, data []byte) {
		pcm, err := LoadWAV(bytes.NewReader(data), 8000)
		if err != nil {
			return
		}
		// At worst one byte per sample at 4 kHz, doubled to 8 kHz.
		if len(pcm) > 2*len(data)+1 {
			t.Fatalf("%d bytes gave %d samples", len(data), len(pcm))
		}
	})
}
