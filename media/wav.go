package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// WAVE format tags (the fmt chunk's first field) that LoadWAV decodes.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE // the real tag is in the sub-format GUID
)

// wavFormatNames names the tags a prompt is most likely to arrive in that
// LoadWAV does not decode, so the error says what the file is.
var wavFormatNames = map[uint16]string{
	0x0002: "Microsoft ADPCM", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10",
	0x0040: "G.721 ADPCM", 0x0050: "MPEG", 0x0055: "MP3", 0x0064: "G.726 ADPCM",
}

const (
	minWAVRate = 4000
	maxWAVRate = 192000
	// maxFmtChunk is far more than any real fmt chunk (40 bytes for
	// WAVE_FORMAT_EXTENSIBLE); a larger one is corruption.
	maxFmtChunk = 1024
	// wavReadBlock is how much sample data is read at a time.
	wavReadBlock = 32 << 10
)

// LoadWAV reads a WAV prompt of any common rate (8..48 kHz and beyond), 8-,
// 16-, 24- or 32-bit integer PCM, 32- or 64-bit float, or G.711 μ-law or
// A-law, with any channel count (mixed down to mono), and returns mono PCM
// at rate, resampled with Resample if need be. r is read from its current
// position.
func LoadWAV(r io.ReadSeeker, rate int) ([]int16, error) {
	pcm, err := loadWAV(r, rate)
	if err != nil {
		return nil, fmt.Errorf("media: load wav: %w", err)
	}
	return pcm, nil
}

// LoadWAVFile is LoadWAV on the file at path.
func LoadWAVFile(path string, rate int) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: load wav: %w", err) // names the file
	}
	defer f.Close()
	pcm, err := loadWAV(f, rate)
	if err != nil {
		return nil, fmt.Errorf("media: load wav %s: %w", path, err)
	}
	return pcm, nil
}

func loadWAV(r io.ReadSeeker, rate int) ([]int16, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("invalid target rate %d Hz", rate)
	}
	w, err := parseWAV(r)
	if err != nil {
		return nil, err
	}
	pcm, err := w.decode(r)
	if err != nil {
		return nil, err
	}
	if w.rate != rate {
		pcm = Resample(pcm, w.rate, rate)
	}
	return pcm, nil
}

// wavInfo is what parseWAV learns from the headers.
type wavInfo struct {
	format   uint16 // after resolving WAVE_FORMAT_EXTENSIBLE
	channels int
	rate     int
	bytes    int   // bytes per sample of one channel
	data     int64 // offset of the sample data
	size     int64 // bytes of sample data actually present
}

// parseWAV walks the RIFF chunks for fmt and data. Every size read from the
// file is checked against the bytes really there before it is used, so a
// corrupt header can neither make it allocate much nor loop.
func parseWAV(r io.ReadSeeker) (wavInfo, error) {
	var w wavInfo
	base, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return w, err
	}
	end, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return w, err
	}
	total := end - base
	var hdr [12]byte
	if _, err := r.Seek(base, io.SeekStart); err != nil {
		return w, err
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != "RIFF" || string(hdr[8:]) != "WAVE" {
		return w, errors.New("not a riff/wave file")
	}
	var fmtChunk []byte
	w.data = -1
	// The RIFF size is ignored: streaming writers often leave it wrong.
	for pos := int64(len(hdr)); pos+8 <= total && (fmtChunk == nil || w.data < 0); {
		var ch [8]byte
		if _, err := r.Seek(base+pos, io.SeekStart); err != nil {
			return w, err
		}
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return w, fmt.Errorf("read chunk header: %w", err)
		}
		id, n, body := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:])), pos+8
		switch id {
		case "fmt ":
			if n < 16 || n > maxFmtChunk {
				return w, fmt.Errorf("bad fmt chunk of %d bytes", n)
			}
			if body+n > total {
				return w, errors.New("truncated fmt chunk")
			}
			fmtChunk = make([]byte, n)
			if _, err := io.ReadFull(r, fmtChunk); err != nil {
				return w, fmt.Errorf("read fmt chunk: %w", err)
			}
		case "data":
			// A truncated file, or one whose writer never came back to fix
			// the size, declares more than it holds: keep what is there.
			w.data, w.size = base+body, min(n, total-body)
		}
		pos = body + n + n&1 // chunks are word aligned
	}
	if fmtChunk == nil {
		return w, errors.New("no fmt chunk")
	}
	if w.data < 0 {
		return w, errors.New("no data chunk")
	}
	return w, w.parseFmt(fmtChunk)
}

func (w *wavInfo) parseFmt(b []byte) error {
	le := binary.LittleEndian
	w.format = le.Uint16(b)
	w.channels = int(le.Uint16(b[2:]))
	w.rate = int(le.Uint32(b[4:]))
	bits := int(le.Uint16(b[14:])) // the container size; block align is often wrong and ignored
	if w.format == wavExtensible {
		if len(b) < 26 {
			return errors.New("extensible fmt chunk too short")
		}
		w.format = le.Uint16(b[24:]) // the GUID's first field is the tag
	}
	switch w.format {
	case wavPCM:
		if bits < 1 || bits > 32 {
			return fmt.Errorf("unsupported %d-bit pcm", bits)
		}
	case wavFloat:
		if bits != 32 && bits != 64 {
			return fmt.Errorf("unsupported %d-bit float", bits)
		}
	case wavMuLaw, wavALaw:
		if bits != 8 {
			return fmt.Errorf("unsupported %d-bit g.711", bits)
		}
	default:
		name := wavFormatNames[w.format]
		if name == "" {
			name = "unknown"
		}
		return fmt.Errorf("unsupported wav format 0x%04X (%s); convert to pcm", w.format, name)
	}
	w.bytes = (bits + 7) / 8
	if w.channels < 1 || w.channels > 64 {
		return fmt.Errorf("unsupported channel count %d", w.channels)
	}
	if w.rate < minWAVRate || w.rate > maxWAVRate {
		return fmt.Errorf("unsupported sample rate %d Hz", w.rate)
	}
	return nil
}

// decode reads the sample data, mixing the channels down to mono.
func (w *wavInfo) decode(r io.ReadSeeker) ([]int16, error) {
	frame := w.channels * w.bytes
	frames := int(w.size / int64(frame)) // a trailing partial frame is dropped
	if _, err := r.Seek(w.data, io.SeekStart); err != nil {
		return nil, err
	}
	sample := w.sampleFunc()
	out := make([]int16, 0, frames)
	block := make([]byte, max(wavReadBlock/frame, 1)*frame)
	for len(out) < frames {
		b := block[:min(len(block), (frames-len(out))*frame)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("read samples: %w", err)
		}
		for ; len(b) > 0; b = b[frame:] {
			var sum float64
			for c := range w.channels {
				sum += sample(b[c*w.bytes:])
			}
			out = append(out, clipSample(sum/float64(w.channels)))
		}
	}
	return out, nil
}

// sampleFunc returns the decoder of one sample to the 16-bit scale, keeping
// the fraction so a mixdown or a deeper source rounds only once.
func (w *wavInfo) sampleFunc() func([]byte) float64 {
	switch w.format {
	case wavMuLaw:
		return func(b []byte) float64 { return float64(ulawTable[b[0]]) }
	case wavALaw:
		return func(b []byte) float64 { return float64(alawTable[b[0]]) }
	case wavFloat:
		if w.bytes == 8 {
			return func(b []byte) float64 { return 32768 * math.Float64frombits(binary.LittleEndian.Uint64(b)) }
		}
		return func(b []byte) float64 { return 32768 * float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
	}
	// Integer PCM is left-justified in its container: gather the bytes into
	// the top of a 32-bit word. 8-bit WAV alone is unsigned.
	n, flip := w.bytes, uint32(0)
	if n == 1 {
		flip = 0x80
	}
	return func(b []byte) float64 {
		var u uint32
		for i := range n {
			u |= uint32(b[i]) << (8 * i)
		}
		u = (u ^ flip) << (32 - 8*n)
		return float64(int32(u)) / 65536
	}
}

func clipSample(v float64) int16 {
	switch {
	case v != v: // NaN from a float file
		return 0
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}

// Recorder writes a 16-bit PCM WAV recording incrementally, so a long call
// does not sit in memory. Samples are buffered and written about once a
// second; each write also updates the header, so a crash leaves a valid file
// missing at most that last second. A Recorder is safe for concurrent use.
type Recorder struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	channels int
	buf      []byte // samples not yet written
	flushAt  int    // len(buf) that triggers a write: about a second
	data     int64  // bytes of samples, written or buffered
	frames   int
	err      error // the first write error; later writes return it too
	closed   bool
}

const (
	wavHeaderSize = 44
	// maxWAVData keeps the RIFF size, a 32-bit field, from overflowing: 4 GiB
	// is over six hours of 48 kHz stereo.
	maxWAVData = math.MaxUint32 - (wavHeaderSize - 8)
)

// ErrRecordingFull is returned once a recording reaches the WAV size limit.
var ErrRecordingFull = errors.New("media: recording reached the 4 GiB wav limit")

// NewRecorder creates (or truncates) the WAV file at path for rate Hz and 1
// or 2 channels, creating missing parent directories.
func NewRecorder(path string, rate, channels int) (*Recorder, error) {
	if rate <= 0 || channels < 1 || channels > 2 {
		return nil, fmt.Errorf("media: record %s: unsupported %d Hz, %d channels", path, rate, channels)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("media: record: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("media: record: %w", err)
	}
	var h [wavHeaderSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], wavHeaderSize-8) // sizes are fixed up as data arrives
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], wavPCM)
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*2))
	le.PutUint16(h[32:], uint16(channels*2))
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("media: record: %w", err)
	}
	flushAt := min(rate*channels*2, 1<<20)
	return &Recorder{
		f: f, path: path, channels: channels,
		buf: make([]byte, 0, flushAt+8<<10), flushAt: flushAt,
	}, nil
}

// WriteMono appends frame to a mono recording.
func (r *Recorder) WriteMono(frame []int16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.channels != 1 {
		return fmt.Errorf("media: record %s: mono frame for a %d-channel recording", r.path, r.channels)
	}
	if err := r.reserve(len(frame)); err != nil {
		return err
	}
	for _, s := range frame {
		r.buf = binary.LittleEndian.AppendUint16(r.buf, uint16(s))
	}
	return r.wrote(len(frame))
}

// WriteStereo appends left and right, interleaved left first, to a stereo
// recording.
func (r *Recorder) WriteStereo(left, right []int16) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.channels != 2 {
		return fmt.Errorf("media: record %s: stereo frame for a mono recording", r.path)
	}
	if len(left) != len(right) {
		return fmt.Errorf("media: record %s: stereo frame of %d left and %d right samples", r.path, len(left), len(right))
	}
	if err := r.reserve(len(left)); err != nil {
		return err
	}
	for i, s := range left {
		r.buf = binary.LittleEndian.AppendUint16(r.buf, uint16(s))
		r.buf = binary.LittleEndian.AppendUint16(r.buf, uint16(right[i]))
	}
	return r.wrote(len(left))
}

// reserve checks that n more frames may be written.
func (r *Recorder) reserve(n int) error {
	switch {
	case r.closed:
		return fmt.Errorf("media: record %s: %w", r.path, os.ErrClosed)
	case r.err != nil:
		return r.err
	case r.data+int64(n*r.channels*2) > maxWAVData:
		return ErrRecordingFull
	}
	return nil
}

func (r *Recorder) wrote(n int) error {
	r.frames += n
	r.data += int64(n * r.channels * 2)
	if len(r.buf) >= r.flushAt {
		return r.flush()
	}
	return nil
}

// flush writes the buffered samples and then the sizes that cover them.
func (r *Recorder) flush() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) > 0 {
		if _, err := r.f.Write(r.buf); err != nil {
			r.err = fmt.Errorf("media: record %s: %w", r.path, err)
			return r.err
		}
		r.buf = r.buf[:0]
	}
	var sz [4]byte
	binary.LittleEndian.PutUint32(sz[:], uint32(wavHeaderSize-8+r.data))
	if _, err := r.f.WriteAt(sz[:], 4); err != nil {
		r.err = fmt.Errorf("media: record %s: %w", r.path, err)
		return r.err
	}
	binary.LittleEndian.PutUint32(sz[:], uint32(r.data))
	if _, err := r.f.WriteAt(sz[:], 40); err != nil {
		r.err = fmt.Errorf("media: record %s: %w", r.path, err)
	}
	return r.err
}

// Samples is how many samples per channel have been written.
func (r *Recorder) Samples() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}

// Path is the file being written.
func (r *Recorder) Path() string { return r.path }

// Close writes what is buffered, finalizes the header and closes the file.
// Calling it again does nothing.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.flush()
	if err == nil {
		if serr := r.f.Sync(); serr != nil {
			err = fmt.Errorf("media: record %s: %w", r.path, serr)
		}
	}
	if cerr := r.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("media: record %s: %w", r.path, cerr)
	}
	return err
}
