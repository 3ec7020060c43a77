package media

import (
	"fmt"
	"math"
	"sync"
)

// Filter design. The passband ends at 0.425 of the lower rate (3.4 kHz at
// 8 kHz: the telephone band is kept flat) and the stopband starts at that
// rate's Nyquist frequency, so nothing aliases; the -6 dB cutoff sits
// between, at 0.4625. The Kaiser window gives 80 dB in the stopband, well
// below what G.711 can carry.
const (
	resamplePass  = 0.425
	resampleStop  = 0.5
	resampleAtten = 80.0 // dB
	// maxKernelFloats bounds one coefficient table (1 MiB). Rate pairs whose
	// exact phase count would not fit, such as 8000 to 44101, interpolate
	// linearly between a smaller set of phases instead.
	maxKernelFloats = 1 << 18
	// maxCachedKernels bounds the tables kept for reuse across calls.
	maxCachedKernels = 64
)

// Resampler converts a stream of 16-bit mono PCM from one rate to another
// with a windowed-sinc polyphase filter. It keeps the filter's history
// between calls, so a stream fed in frames is resampled exactly as if fed
// whole: no clicks at frame boundaries. The output lags the input by Delay
// samples; Flush returns the held-back tail. A Resampler is not safe for
// concurrent use.
type Resampler struct {
	k     *kernel   // nil when the rates are equal
	buf   []float32 // input history; buf[0] is input sample start
	start int64
	in    int64 // input samples consumed
	out   int64 // output samples produced
	// The next output falls at input time pos + frac/k.l.
	pos  int64
	frac int64
}

// kernel is the filter for one rate pair, shared read-only by Resamplers.
type kernel struct {
	l, m     int64 // to/g and from/g: output n falls at input time n*m/l
	step     int64 // m / l: whole input samples advanced per output
	stepFrac int64 // m % l
	half     int   // taps either side of the output instant
	taps     int   // 2*half, a multiple of 4
	phases   int64 // coefficient rows less the guard row; l when exact
	delay    int64 // output samples the stream lags the input
	coef     []float32
}

// NewResampler returns a Resampler from one rate in Hz to another; equal
// rates pass samples through. It panics if a rate is not positive, like
// other constructors given an impossible argument.
func NewResampler(from, to int) *Resampler {
	if from <= 0 || to <= 0 {
		panic(fmt.Sprintf("media: cannot resample %d Hz to %d Hz", from, to))
	}
	r := &Resampler{}
	if from != to {
		r.k = kernelFor(from, to)
	}
	r.reset()
	return r
}

// Delay is how many output samples the stream from Process lags its input.
func (r *Resampler) Delay() int {
	if r.k == nil {
		return 0
	}
	return int(r.k.delay)
}

// Process resamples src, a continuation of the stream, and returns the
// output now due in dst[:n], reusing dst's capacity (dst must not overlap
// src). Input of whole 20 ms frames gives whole 20 ms frames out.
func (r *Resampler) Process(dst, src []int16) []int16 {
	dst = dst[:0]
	if r.k == nil {
		return append(dst, src...)
	}
	for _, s := range src {
		r.buf = append(r.buf, float32(s))
	}
	r.in += int64(len(src))
	return r.produce(dst, ceilDiv64(r.in*r.k.l, r.k.m))
}

// Flush returns in dst[:n] the Delay samples still held back, as if the
// input went on in silence, and resets r for a new stream.
func (r *Resampler) Flush(dst []int16) []int16 {
	return r.flush(dst[:0])
}

func (r *Resampler) flush(dst []int16) []int16 {
	k := r.k
	if k == nil || r.in == 0 {
		r.reset()
		return dst
	}
	end := ceilDiv64(r.in*k.l, k.m) + k.delay
	last := floorDiv64((end-1-k.delay)*k.m, k.l) + int64(k.half) // newest tap of the last output
	for i := r.start + int64(len(r.buf)); i <= last; i++ {
		r.buf = append(r.buf, 0)
	}
	dst = r.produce(dst, end)
	r.reset()
	return dst
}

// Resample converts a whole buffer from one rate to another. The output has
// ceil(len(pcm)*to/from) samples and is time-aligned with the input: the
// filter delay is removed.
func Resample(pcm []int16, from, to int) []int16 {
	r := NewResampler(from, to)
	if r.k == nil {
		return append([]int16(nil), pcm...)
	}
	d := r.Delay()
	out := make([]int16, 0, ceilDiv64(int64(len(pcm))*r.k.l, r.k.m)+int64(d))
	out = r.Process(out, pcm)
	out = r.flush(out)
	if len(out) < d {
		return out[:0]
	}
	return out[d:]
}

func (r *Resampler) reset() {
	r.in, r.out = 0, 0
	k := r.k
	if k == nil {
		return
	}
	// Output 0 falls delay outputs before input 0; the history before the
	// first input sample is silence.
	u := -k.delay * k.m
	r.pos = floorDiv64(u, k.l)
	r.frac = u - r.pos*k.l
	r.start = r.pos - int64(k.half) + 1
	r.buf = r.buf[:0]
	for i := r.start; i < 0; i++ {
		r.buf = append(r.buf, 0)
	}
}

// produce appends outputs up to (not including) number end; the history
// must reach the newest tap of each.
func (r *Resampler) produce(dst []int16, end int64) []int16 {
	k := r.k
	exact := k.phases == k.l
	for ; r.out < end; r.out++ {
		off := int(r.pos-r.start) - k.half + 1
		win := r.buf[off : off+k.taps]
		var y float32
		if exact {
			y = dotF32(win, k.coef[int(r.frac)*k.taps:])
		} else {
			x := r.frac * k.phases
			p, rem := int(x/k.l), x%k.l
			y = dotF32(win, k.coef[p*k.taps:])
			if rem != 0 {
				y2 := dotF32(win, k.coef[(p+1)*k.taps:])
				y += (y2 - y) * float32(float64(rem)/float64(k.l))
			}
		}
		dst = append(dst, clipInt16(y))
		r.pos += k.step
		if r.frac += k.stepFrac; r.frac >= k.l {
			r.frac -= k.l
			r.pos++
		}
	}
	// Drop the history no later output reaches.
	if drop := int(r.pos - int64(k.half) + 1 - r.start); drop > 0 {
		drop = min(drop, len(r.buf))
		r.buf = r.buf[:copy(r.buf, r.buf[drop:])]
		r.start += int64(drop)
	}
	return dst
}

var kernelCache struct {
	sync.Mutex
	m map[[2]int]*kernel
}

// kernelFor returns the shared filter for a rate pair: every call leg of a
// kind uses the same one, so it is built once.
func kernelFor(from, to int) *kernel {
	key := [2]int{from, to}
	kernelCache.Lock()
	k := kernelCache.m[key]
	kernelCache.Unlock()
	if k != nil {
		return k
	}
	k = newKernel(from, to)
	kernelCache.Lock()
	defer kernelCache.Unlock()
	if kernelCache.m == nil {
		kernelCache.m = make(map[[2]int]*kernel)
	}
	if len(kernelCache.m) < maxCachedKernels {
		kernelCache.m[key] = k
	}
	return k
}

func newKernel(from, to int) *kernel {
	g := gcdInt(from, to)
	k := &kernel{l: int64(to / g), m: int64(from / g)}
	k.step, k.stepFrac = k.m/k.l, k.m%k.l
	lo := float64(min(from, to))
	// Kaiser's estimate of the length for the attenuation over the
	// transition band, both in cycles per input sample.
	width := (resampleStop - resamplePass) * lo / float64(from)
	cutoff := (resamplePass + resampleStop) / 2 * lo / float64(from)
	n := (resampleAtten - 7.95) / (2.285 * 2 * math.Pi * width)
	k.half = (int(math.Ceil(n/2)) + 1) &^ 1
	k.taps = 2 * k.half
	k.phases = min(k.l, int64(max(maxKernelFloats/k.taps-1, 32)))
	// Delay the output enough that its newest tap has always arrived.
	k.delay = ceilDiv64(int64(k.half)*k.l, k.m)

	beta := 0.1102 * (resampleAtten - 8.7)
	i0beta := besselI0(beta)
	k.coef = make([]float32, (k.phases+1)*int64(k.taps))
	row := make([]float64, k.taps)
	for p := range k.phases + 1 {
		frac := float64(p) / float64(k.phases)
		var sum float64
		for j := range row {
			// Tap j weighs input pos-half+1+j for an output at pos+frac.
			tau := frac + float64(k.half-1-j)
			x := tau / float64(k.half)
			v := 0.0
			if x > -1 && x < 1 {
				v = sinc(2*cutoff*tau) * besselI0(beta*math.Sqrt(1-x*x)) / i0beta
			}
			row[j] = v
			sum += v
		}
		// Unity gain at DC for every phase, so a constant stays constant.
		out := k.coef[p*int64(k.taps):]
		for j, v := range row {
			out[j] = float32(v / sum)
		}
	}
	return k
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series, which converges fast for the Kaiser window's arguments.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1.0; term > sum*1e-16; k++ {
		term *= (x / (2 * k)) * (x / (2 * k))
		sum += term
	}
	return sum
}

// dotF32 is the filter's inner loop, unrolled into four independent sums;
// len(a) is a multiple of 4 and b is at least as long.
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for i := 0; i+3 < len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	return (s0 + s1) + (s2 + s3)
}

func clipInt16(y float32) int16 {
	switch {
	case y >= math.MaxInt16:
		return math.MaxInt16
	case y <= math.MinInt16:
		return math.MinInt16
	case y >= 0:
		return int16(y + 0.5)
	default:
		return int16(y - 0.5)
	}
}

func gcdInt(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv64(a, b int64) int64 { return -floorDiv64(-a, b) }
