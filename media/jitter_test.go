package media

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

const jbFrame = 160

// jbRun feeds a buffer and plays it out on a 20 ms clock.
type jbRun struct {
	t   *testing.T
	jb  *JitterBuffer
	now time.Time
}

func newJBRun(t *testing.T) *jbRun {
	return &jbRun{t: t, jb: NewJitterBuffer(8000, jbFrame, 40*time.Millisecond, 200*time.Millisecond), now: time.Unix(1000, 0)}
}

// frameOf is packet n's audio: every sample holds n+1, so playout order is
// visible in the output.
func frameOf(n int) []int16 {
	f := make([]int16, jbFrame)
	for i := range f {
		f[i] = int16(n + 1)
	}
	return f
}

func (r *jbRun) push(ssrc uint32, ts uint32, n int) {
	r.jb.Push(ssrc, ts, frameOf(n), r.now)
}

// pop plays one frame and returns its marker value, 0 for anything but
// received audio.
func (r *jbRun) pop() int16 {
	dst := make([]int16, jbFrame)
	ok := r.jb.Pop(dst)
	r.now = r.now.Add(20 * time.Millisecond)
	if !ok {
		return 0
	}
	return dst[0]
}

// tick delivers the packets numbered in ns (timestamps by number) and plays
// one frame.
func (r *jbRun) tick(ns ...int) int16 {
	for _, n := range ns {
		r.push(1, uint32(n*jbFrame), n)
	}
	return r.pop()
}

// played drops the silence around a run of frames.
func played(vals []int16) []int16 {
	var out []int16
	for _, v := range vals {
		if v != 0 {
			out = append(out, v)
		}
	}
	return out
}

func seq(from, to int16) []int16 {
	var out []int16
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

func (r *jbRun) popAll(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = r.pop()
	}
	return out
}

func TestJitterBufferInOrder(t *testing.T) {
	r := newJBRun(t)
	var got []int16
	for n := range 20 {
		got = append(got, r.tick(n))
	}
	got = append(got, r.popAll(4)...)
	// Prefetch of 40 ms delays the start by one frame, then every frame
	// plays once, in order.
	if got[0] != 0 || !slices.Equal(played(got), seq(1, 20)) {
		t.Fatalf("played %v, want a frame of prefetch then 1..20", got)
	}
}

func TestJitterBufferReorders(t *testing.T) {
	r := newJBRun(t)
	got := []int16{r.tick(0), r.tick(2), r.tick(1, 3), r.tick(5), r.tick(4, 6), r.tick(7)}
	got = append(got, r.popAll(4)...)
	if !slices.Equal(played(got), seq(1, 8)) {
		t.Fatalf("played %v, want 1..8", got)
	}
}

func TestJitterBufferDropsLateAndDuplicate(t *testing.T) {
	r := newJBRun(t)
	r.tick(0)
	r.tick(1)
	r.tick(2, 3)
	r.push(1, 0, 0)         // long played
	r.push(1, 3*jbFrame, 3) // still buffered
	st := r.jb.Stats()
	if st.Late != 1 || st.Duplicate != 1 {
		t.Fatalf("stats %+v, want 1 late and 1 duplicate", st)
	}
	if v := r.pop(); v != 3 {
		t.Fatalf("next frame %d, want 3", v)
	}
}

func TestJitterBufferConcealsLoss(t *testing.T) {
	r := newJBRun(t)
	dst := make([]int16, jbFrame)
	var vals []int16
	var real []bool
	for _, n := range []int{0, 1, -1, 3, 4, -1} { // frame 2 lost
		if n >= 0 {
			r.push(1, uint32(n*jbFrame), n)
		}
		ok := r.jb.Pop(dst)
		vals, real = append(vals, dst[0]), append(real, ok)
	}
	vals, real = vals[1:], real[1:] // prefetch
	if vals[0] != 1 || vals[1] != 2 || vals[3] != 4 || vals[4] != 5 {
		t.Fatalf("played %v", vals)
	}
	// The gap is the last frame at half level, and marked as not received.
	if real[2] || vals[2] != 1 {
		t.Fatalf("lost frame played as %d (received %v), want concealment at half of 2", vals[2], real[2])
	}
	if r.jb.Stats().Concealed != 1 {
		t.Fatalf("concealed %d, want 1", r.jb.Stats().Concealed)
	}
}

func TestJitterBufferConcealmentFadesToSilence(t *testing.T) {
	r := newJBRun(t)
	r.push(1, 0, 999)
	r.push(1, jbFrame, 999)
	dst := make([]int16, jbFrame)
	var got []int16
	for range 8 {
		r.jb.Pop(dst)
		got = append(got, dst[0])
	}
	if got[0] != 1000 || got[1] != 1000 {
		t.Fatalf("played %v", got)
	}
	if got[2] != 500 || got[3] != 250 || got[4] != 125 || got[5] != 0 {
		t.Fatalf("concealment %v, want halving for 3 frames then silence", got[2:])
	}
}

func TestJitterBufferWrapsSequenceAndTimestamp(t *testing.T) {
	r := newJBRun(t)
	start := uint32(1<<32 - 3*jbFrame)
	var got []int16
	for n := range 10 {
		r.push(1, start+uint32(n*jbFrame), n)
		got = append(got, r.pop())
	}
	got = append(got, r.popAll(3)...)
	if !slices.Equal(played(got), seq(1, 10)) {
		t.Fatalf("across the timestamp wrap played %v", got)
	}
}

func TestJitterBufferSSRCChangeRestarts(t *testing.T) {
	r := newJBRun(t)
	r.tick(0)
	r.tick(1)
	r.tick(2)
	// A new source with an unrelated timestamp: its audio plays after a
	// fresh prefetch, the old stream's leftovers are gone.
	var got []int16
	for n := 50; n < 54; n++ {
		r.push(2, 9_000_000+uint32(n*jbFrame), n)
		got = append(got, r.pop())
	}
	got = played(got)
	if len(got) < 2 || got[0] != 51 || got[1] != 52 {
		t.Fatalf("after SSRC change played %v, want 51, 52, ...", got)
	}
	if r.jb.Stats().Resync != 1 {
		t.Fatalf("resync %d, want 1", r.jb.Stats().Resync)
	}
}

func TestJitterBufferFollowsPauseWithoutMarker(t *testing.T) {
	r := newJBRun(t)
	for n := range 3 {
		r.tick(n)
	}
	r.popAll(30) // the sender pauses for over half a second
	base := uint32(200 * jbFrame)
	var got []int16
	for n := range 4 {
		r.push(1, base+uint32(n*jbFrame), 10+n)
		got = append(got, r.pop())
	}
	if !slices.Equal(got, []int16{0, 11, 12, 13}) {
		t.Fatalf("after a pause played %v, want prefetch then 11, 12, 13", got)
	}
}

func TestJitterBufferBoundsDelay(t *testing.T) {
	r := newJBRun(t)
	// A burst of two seconds of audio at once (a stalled network path).
	for n := range 100 {
		r.push(1, uint32(n*jbFrame), n)
	}
	st := r.jb.Stats()
	if st.Overflow == 0 {
		t.Fatal("a 2 s burst was all buffered")
	}
	if span := r.jb.span(); span > 2*r.jb.maxDelay {
		t.Fatalf("buffered %d samples, bound is %d", span, 2*r.jb.maxDelay)
	}
	// And the delay drains back to the target instead of staying high.
	for n := 100; n < 200; n++ {
		r.tick(n)
	}
	if span := r.jb.span(); span > r.jb.target()+2*jbFrame {
		t.Fatalf("delay stayed at %d samples, target %d", span, r.jb.target())
	}
}

func TestJitterBufferAdaptsToJitter(t *testing.T) {
	steady := newJBRun(t)
	jittery := newJBRun(t)
	for n := range 200 {
		steady.jb.Push(1, uint32(n*jbFrame), frameOf(n), steady.now.Add(time.Duration(n)*20*time.Millisecond))
		// Arrivals off by up to 60 ms either way.
		off := time.Duration((n*37)%7-3) * 20 * time.Millisecond
		jittery.jb.Push(1, uint32(n*jbFrame), frameOf(n), jittery.now.Add(time.Duration(n)*20*time.Millisecond+off))
	}
	if s, j := steady.jb.target(), jittery.jb.target(); !(j > s) || s != steady.jb.minDelay {
		t.Fatalf("target delay steady %d, jittery %d samples: want min for steady and more for jittery", s, j)
	}
}

func FuzzJitterBuffer(f *testing.F) {
	// Each 7-byte record is one operation: ssrc selector, timestamp delta,
	// length selector, pop count.
	f.Add([]byte{0, 0, 0, 160, 1, 1, 0, 0, 0, 0, 160, 1, 1, 1})
	f.Add([]byte{1, 255, 255, 255, 0, 3, 2, 0, 0, 0, 0, 160, 0, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		jb := NewJitterBuffer(8000, jbFrame, 40*time.Millisecond, 200*time.Millisecond)
		now := time.Unix(0, 0)
		var ts uint32
		dst := make([]int16, jbFrame)
		for len(ops) >= 7 {
			op := ops[:7]
			ops = ops[7:]
			ts += binary.BigEndian.Uint32(op[1:5])
			n := int(op[5]) * 4
			jb.Push(uint32(op[0]%3), ts, make([]int16, n), now)
			for range op[6] % 8 {
				for i := range dst {
					dst[i] = 1
				}
				jb.Pop(dst)
				now = now.Add(20 * time.Millisecond)
			}
			if span := jb.span(); span > 2*jb.maxDelay+4*255 {
				t.Fatalf("buffer holds %d samples", span)
			}
		}
	})
}

func BenchmarkJitterBuffer(b *testing.B) {
	jb := NewJitterBuffer(8000, jbFrame, 40*time.Millisecond, 200*time.Millisecond)
	frame := make([]int16, jbFrame)
	dst := make([]int16, jbFrame)
	now := time.Unix(0, 0)
	b.ReportAllocs()
	var ts uint32
	for b.Loop() {
		jb.Push(1, ts, frame, now)
		jb.Pop(dst)
		ts += jbFrame
		now = now.Add(20 * time.Millisecond)
	}
}
