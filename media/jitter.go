package media

import (
	"math"
	"slices"
	"time"
)

// JitterBuffer turns RTP packets arriving at irregular times, out of order,
// duplicated or not at all into a steady sequence of frames. It is placed by
// RTP timestamp, not sequence number, so any packet time works and a sender
// that pauses (silence suppression, DTMF, hold) resumes cleanly.
//
// The playout delay adapts: it aims at one frame plus four times the
// RFC 3550 interarrival jitter estimate, between MinDelay and MaxDelay. When
// the buffer holds much more than that (the far end's clock runs fast, or a
// jitter spike has passed) it drops a frame to get the delay back down.
//
// A JitterBuffer is not safe for concurrent use.
type JitterBuffer struct {
	frame    int // samples per Pop
	minDelay int // samples
	maxDelay int // samples
	rate     float64

	pkts    []jbPacket // ordered by ts
	ssrc    uint32
	started bool // a first packet fixed ssrc and the timestamp origin
	maxTS   int64
	playing bool
	playTS  int64 // timestamp of the next sample to play

	// RFC 3550 A.8 interarrival jitter, in samples.
	jitter      float64
	lastTransit float64
	haveTransit bool
	epoch       time.Time

	last    []int16 // the last frame played, for concealment
	conceal int     // frames concealed in a row
	empty   int     // pops in a row that found nothing to play

	stats JitterStats
}

type jbPacket struct {
	ts  int64 // unwrapped
	pcm []int16
}

// JitterStats counts what happened to the packets pushed into a buffer.
type JitterStats struct {
	Pushed     uint64 // packets accepted
	Late       uint64 // arrived after their time was played
	Duplicate  uint64 // same timestamp already buffered
	Overflow   uint64 // dropped because the buffer was full
	Drained    uint64 // frames skipped to bring the delay down
	Concealed  uint64 // frames made up for missing audio
	Resync     uint64 // restarts: SSRC change, timestamp jump, long silence
	DelayFrame int    // current target delay in frames
}

const (
	// concealFrames is how long loss is bridged with a fading copy of the
	// last frame before it turns to silence.
	concealFrames = 3
	// idleFrames of nothing to play means the sender paused: the next
	// packet starts a fresh prefetch instead of being measured against a
	// stale timeline.
	idleFrames = 10
)

// NewJitterBuffer returns a buffer for audio at rate that plays frames of
// frame samples, with a playout delay between minDelay and maxDelay.
func NewJitterBuffer(rate, frame int, minDelay, maxDelay time.Duration) *JitterBuffer {
	toSamples := func(d time.Duration) int { return int(d * time.Duration(rate) / time.Second) }
	jb := &JitterBuffer{
		frame:    frame,
		minDelay: max(toSamples(minDelay), frame),
		maxDelay: max(toSamples(maxDelay), 2*frame),
		rate:     float64(rate),
		last:     make([]int16, frame),
	}
	jb.maxDelay = max(jb.maxDelay, jb.minDelay)
	return jb
}

// Push adds the decoded audio of one packet with RTP timestamp ts from
// stream ssrc, received at arrival.
func (jb *JitterBuffer) Push(ssrc, ts uint32, pcm []int16, arrival time.Time) {
	if len(pcm) == 0 {
		return
	}
	if !jb.started || ssrc != jb.ssrc {
		if jb.started {
			jb.stats.Resync++
		}
		jb.reset()
		jb.started, jb.ssrc, jb.maxTS = true, ssrc, int64(ts)
		jb.epoch = arrival
	}
	ext := jb.maxTS + int64(int32(ts-uint32(jb.maxTS)))
	jb.updateJitter(ext, arrival)
	if jb.playing && (ext > jb.playTS+int64(jb.maxDelay)*4 || ext+int64(len(pcm)) < jb.playTS-int64(jb.maxDelay)*4) {
		// A timestamp far outside the window is a new timeline, not a
		// late or early packet.
		jb.stats.Resync++
		jb.pkts = jb.pkts[:0]
		jb.playing = false
		jb.maxTS = ext
	}
	jb.maxTS = max(jb.maxTS, ext)
	if jb.playing && ext+int64(len(pcm)) <= jb.playTS {
		jb.stats.Late++
		return
	}
	i, found := slices.BinarySearchFunc(jb.pkts, ext, func(p jbPacket, ts int64) int {
		switch {
		case p.ts < ts:
			return -1
		case p.ts > ts:
			return 1
		}
		return 0
	})
	if found {
		jb.stats.Duplicate++
		return
	}
	jb.pkts = slices.Insert(jb.pkts, i, jbPacket{ts: ext, pcm: pcm})
	jb.stats.Pushed++
	// Bound memory and delay: never hold more than twice the maximum delay.
	for len(jb.pkts) > 1 && jb.span() > 2*jb.maxDelay {
		jb.stats.Overflow++
		end := jb.pkts[0].ts + int64(len(jb.pkts[0].pcm))
		jb.pkts = jb.pkts[1:]
		if jb.playing {
			jb.playTS = max(jb.playTS, end)
		}
	}
}

func (jb *JitterBuffer) updateJitter(ext int64, arrival time.Time) {
	transit := arrival.Sub(jb.epoch).Seconds()*jb.rate - float64(ext)
	// A jump far beyond any plausible jitter is a new timeline (a pause,
	// a restarted sender), not network delay: it must not inflate the delay.
	if d := math.Abs(transit - jb.lastTransit); jb.haveTransit && d < float64(4*jb.maxDelay) {
		jb.jitter += (d - jb.jitter) / 16
	}
	jb.lastTransit, jb.haveTransit = transit, true
}

// span is the audio buffered from the playout point (or the first packet
// before playout starts) to the end of the last packet.
func (jb *JitterBuffer) span() int {
	if len(jb.pkts) == 0 {
		return 0
	}
	start := jb.pkts[0].ts
	if jb.playing {
		start = jb.playTS
	}
	lastPkt := jb.pkts[len(jb.pkts)-1]
	return int(lastPkt.ts + int64(len(lastPkt.pcm)) - start)
}

func (jb *JitterBuffer) target() int {
	t := jb.frame + int(4*jb.jitter)
	return min(max(t, jb.minDelay), jb.maxDelay)
}

// Pop fills dst (one frame) with the audio due now. It reports false when
// dst holds concealment or silence rather than received audio.
func (jb *JitterBuffer) Pop(dst []int16) bool {
	clear(dst)
	target := jb.target()
	jb.stats.DelayFrame = (target + jb.frame - 1) / jb.frame
	if !jb.playing {
		if len(jb.pkts) == 0 || jb.span() < target {
			return false
		}
		jb.playing, jb.playTS, jb.empty = true, jb.pkts[0].ts, 0
	}
	if jb.span() > target+2*jb.frame {
		jb.stats.Drained++
		jb.playTS += int64(jb.frame)
		jb.dropPlayed()
	}
	if len(jb.pkts) > 0 && jb.pkts[0].ts > jb.playTS+int64(jb.maxDelay) {
		// The sender skipped ahead (a pause without a marker): follow it
		// rather than playing out the gap.
		jb.stats.Resync++
		jb.playTS = jb.pkts[0].ts
	}
	filled := jb.fill(dst)
	jb.playTS += int64(len(dst))
	jb.dropPlayed()
	if filled {
		copy(jb.last, dst)
		jb.conceal, jb.empty = 0, 0
		return true
	}
	if len(jb.pkts) == 0 {
		jb.empty++
		if jb.empty >= idleFrames {
			jb.playing = false
		}
	}
	jb.concealFrame(dst)
	return false
}

// fill copies every buffered sample that falls in [playTS, playTS+len(dst)).
func (jb *JitterBuffer) fill(dst []int16) bool {
	filled := false
	end := jb.playTS + int64(len(dst))
	for _, p := range jb.pkts {
		if p.ts >= end {
			break
		}
		from := max(p.ts, jb.playTS)
		to := min(p.ts+int64(len(p.pcm)), end)
		if from >= to {
			continue
		}
		copy(dst[from-jb.playTS:to-jb.playTS], p.pcm[from-p.ts:to-p.ts])
		filled = true
	}
	return filled
}

func (jb *JitterBuffer) dropPlayed() {
	n := 0
	for n < len(jb.pkts) && jb.pkts[n].ts+int64(len(jb.pkts[n].pcm)) <= jb.playTS {
		n++
	}
	jb.pkts = slices.Delete(jb.pkts, 0, n)
}

// concealFrame bridges a short loss with the last frame, halved each time,
// and gives silence after that.
func (jb *JitterBuffer) concealFrame(dst []int16) {
	if jb.conceal >= concealFrames {
		return
	}
	jb.conceal++
	jb.stats.Concealed++
	for i := range dst {
		if i < len(jb.last) {
			jb.last[i] /= 2
			dst[i] = jb.last[i]
		}
	}
}

func (jb *JitterBuffer) reset() {
	jb.pkts = jb.pkts[:0]
	jb.playing = false
	jb.haveTransit = false
	jb.jitter = 0
	jb.conceal = concealFrames
	jb.empty = 0
}

// Jitter is the interarrival jitter estimate of RFC 3550, in timestamp units.
func (jb *JitterBuffer) Jitter() uint32 { return uint32(jb.jitter) }

// Stats returns the buffer's counters.
func (jb *JitterBuffer) Stats() JitterStats { return jb.stats }
