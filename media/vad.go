package media

import (
	"math"
	"time"
)

// VADConfig tunes a voice activity detector. Zero fields take the defaults of
// DefaultVADConfig.
type VADConfig struct {
	// MinSpeech is how much voice it takes, counted in 10 ms blocks, before
	// speech is declared: shorter sounds (a click, a cough, a bump of the
	// handset) are not speech. The onset reported is the start of that
	// voice, not the moment it was confirmed.
	MinSpeech time.Duration
	// EndSilence is how long the caller must be quiet after speech before
	// the turn ends.
	EndSilence time.Duration
	// ThresholdDB is how far above the noise floor a block must be to count
	// as voice. Once speech has started, blocks down to 3 dB less keep it
	// going, so a soft word ending is not cut off.
	ThresholdDB float64
}

// DefaultVADConfig suits telephone callers: 60 ms of voice starts speech (so
// barge-in can stop a prompt within 150 ms of the caller's first sound),
// 600 ms of quiet ends the turn, and voice is 6 dB above the noise floor.
func DefaultVADConfig() VADConfig {
	return VADConfig{MinSpeech: 60 * time.Millisecond, EndSilence: 600 * time.Millisecond, ThresholdDB: 6}
}

func (c VADConfig) withDefaults() VADConfig {
	d := DefaultVADConfig()
	if c.MinSpeech <= 0 {
		c.MinSpeech = d.MinSpeech
	}
	if c.EndSilence <= 0 {
		c.EndSilence = d.EndSilence
	}
	if c.ThresholdDB <= 0 {
		c.ThresholdDB = d.ThresholdDB
	}
	return c
}

// VADKind says what a VADEvent is.
type VADKind uint8

const (
	// VADNone: nothing changed with this frame.
	VADNone VADKind = iota
	// SpeechStart: speech has been confirmed (MinSpeech of voice).
	SpeechStart
	// SpeechEnd: EndSilence has passed since the last voice: end of turn.
	SpeechEnd
)

func (k VADKind) String() string {
	switch k {
	case SpeechStart:
		return "speech-start"
	case SpeechEnd:
		return "speech-end"
	}
	return "none"
}

// VADEvent is what one frame changed.
type VADEvent struct {
	Kind VADKind
	// Frames reaches back from the frame just processed, which counts as 1.
	// For SpeechStart it is how many frames ago speech began: the last
	// Frames frames hold the whole onset, so a caller that kept them loses
	// nothing of the first syllable. For SpeechEnd it is how many frames
	// ago the last voice was heard: the speech ended Frames-1 frames before
	// the current one, and those frames are the trailing silence.
	Frames int
}

const (
	vadBlock = 10 * time.Millisecond
	// vadMinVoiceDBFS is the quietest block that can count as voice
	// whatever the noise floor: a soft telephone talker is around −40 dBFS,
	// idle G.711 and comfort noise below −60.
	vadMinVoiceDBFS = -55.0
	// vadHysteresisDB: once speaking, voice may be this much softer.
	vadHysteresisDB = 3.0
	// vadNoInfoDBFS: a frame this quiet is digital silence (a muted or
	// not yet connected line, concealed loss) and says nothing about the
	// line noise, so the noise floor ignores it.
	vadNoInfoDBFS = -90.0
	// vadSmooth is the weight of the past in the power the floor tracks,
	// so one odd frame does not drag the floor down.
	vadSmooth = 0.7
	// vadRiseDB is how fast (dB a frame) the floor creeps up under
	// changing sound: 2.5 dB/s, far slower than speech comes and goes.
	vadRiseDB = 0.05
	// vadFastRise is the share of the gap to the current level the floor
	// closes each frame under steady sound (new line noise, a fan).
	vadFastRise = 0.3
	// vadSteadyFrames and vadSteadyDB define steady sound: the frame levels
	// of the last vadSteadyFrames frames lie within vadSteadyDB. Speech
	// never does; hum, hiss and comfort noise do.
	vadSteadyFrames = 10
	vadSteadyDB     = 3.0
	// vadSteadySpeechFrames: steady sound taken for speech this long (1 s)
	// is noise that rose while the detector was in speech; the floor then
	// follows it up so the turn can end.
	vadSteadySpeechFrames = 50
	// vadVaryDB: before the line's noise has been measured, a sound is
	// only speech if its 10 ms block levels span more than this; steady
	// noise spans about 2 dB.
	vadVaryDB = 8.0
	// vadProbeFrames: sound that follows digital silence and has not
	// proved to be speech within this many frames is taken as the line's
	// noise.
	vadProbeFrames = 10
	// vadMaxGapBlocks is the longest quiet gap, in blocks, inside the
	// voice that confirms speech; a longer one starts the count again.
	vadMaxGapBlocks = 2
)

type vadState uint8

const (
	vadIdle vadState = iota
	vadOnset
	vadSpeech
)

// VAD is a voice activity detector for 20 ms frames of telephone (8 kHz) or
// wideband (16 kHz) PCM. It decides on 10 ms blocks by their level over an
// adaptive noise floor:
//
//   - The floor follows the smoothed frame level: down at once, up slowly
//     (2.5 dB/s) while the sound keeps changing, as speech does, and quickly
//     while it is steady, as line hiss, hum and comfort noise are. Frames of
//     digital silence (a muted line, concealed loss) leave it alone, so the
//     hiss that returns after them is not mistaken for a voice.
//   - A block is voice when it is ThresholdDB over the floor and louder
//     than −55 dBFS; once speech has begun, 3 dB less keeps it going.
//   - Speech starts after MinSpeech of voice with no gap over 20 ms, and is
//     reported backdated to the frame of its first block; it ends after
//     EndSilence with no voice. Every block a sound touches counts, so it
//     may count up to 20 ms longer than it is: a 40 ms cough is never
//     speech, a 50 ms burst across block edges can be.
//   - A line heard only as digital silence so far (no RTP yet, a muted
//     phone) has no floor to judge by: the first sound on it is speech
//     only if its level also varies (blocks spanning over 8 dB), and
//     sound that has not proved to be speech after 200 ms sets the floor.
//     So noise switching on is not taken for a voice, at the cost of up
//     to 40 ms more to confirm speech on such a line.
//
// A VAD is not safe for concurrent use. It may be kept for a whole call, so
// its noise floor carries from one turn to the next.
type VAD struct {
	cfg         VADConfig
	block       int // samples per 10 ms block
	minBlocks   int
	endBlocks   int
	frameBlocks int

	floor     float64 // dBFS
	smoothed  float64 // linear power, mean square over full scale²
	haveFloor bool
	// unmeasured: only digital silence had been heard when the floor was
	// set, so the floor says nothing yet about the line's noise.
	unmeasured bool
	probe      int     // frames of sound heard while unmeasured
	probeMin   float64 // their lowest level, the first one's aside
	levels     [vadSteadyFrames]float64
	nLevels    int
	steadyRun  int

	state     vadState
	blocks    int64 // blocks processed so far
	onset     int64 // first block of the voice being confirmed or of the speech
	voiced    int   // voiced blocks in the onset being confirmed
	gap       int   // quiet blocks since the last voiced one, while confirming
	lastVoice int64 // last voiced block of the speech
	// onsetLo and onsetHi bound the levels of the blocks of the onset
	// being confirmed, after its first.
	onsetLo, onsetHi float64
}

// NewVAD returns a detector for frames at rate Hz (8000 or 16000; any rate
// with whole 10 ms blocks works) with cfg, whose zero fields take defaults.
func NewVAD(rate int, cfg VADConfig) *VAD {
	cfg = cfg.withDefaults()
	block := max(rate/100, 1)
	return &VAD{
		cfg:         cfg,
		block:       block,
		minBlocks:   max(int(cfg.MinSpeech.Round(vadBlock)/vadBlock), 1),
		endBlocks:   max(int(cfg.EndSilence.Round(vadBlock)/vadBlock), 1),
		frameBlocks: max(FrameSamples(rate)/block, 1),
	}
}

// Config returns the detector's configuration, defaults filled in.
func (v *VAD) Config() VADConfig { return v.cfg }

// Speaking reports whether the detector is inside speech (after SpeechStart,
// before SpeechEnd).
func (v *VAD) Speaking() bool { return v.state == vadSpeech }

// SinceVoice is, while Speaking, how long ago the last voice was heard: 0
// while the caller is talking, growing through a pause or the trailing
// silence. It is 0 when not speaking.
func (v *VAD) SinceVoice() time.Duration {
	if v.state != vadSpeech {
		return 0
	}
	return time.Duration(v.blocks-1-v.lastVoice) * vadBlock
}

// NoiseFloor is the current noise floor estimate in dBFS, SilenceDBFS before
// any sound has been heard.
func (v *VAD) NoiseFloor() float64 {
	if !v.haveFloor {
		return SilenceDBFS
	}
	return v.floor
}

// Reset forgets any speech in progress or being confirmed but keeps the
// noise floor, so a detector kept across turns starts the next one knowing
// the line.
func (v *VAD) Reset() {
	v.state = vadIdle
	v.voiced, v.gap = 0, 0
}

// assumeSpeech puts the detector in speech, the last voice heard just now:
// for a turn whose onset another detector found.
func (v *VAD) assumeSpeech() {
	v.state, v.lastVoice = vadSpeech, v.blocks-1
	v.voiced, v.gap = 0, 0
}

// Process takes the next 20 ms frame (a shorter last one is fine: each
// whole or partial 10 ms block is judged) and says whether speech started
// or ended with it.
func (v *VAD) Process(frame []int16) VADEvent {
	if len(frame) == 0 {
		return VADEvent{}
	}
	var ev VADEvent
	frameStart := v.blocks
	var total float64
	for off := 0; off < len(frame); off += v.block {
		b := frame[off:min(off+v.block, len(frame))]
		p := meanSquare(b)
		total += p * float64(len(b))
		if e := v.block1(powerDB(p), frameStart); e.Kind != VADNone {
			ev = e
		}
	}
	v.track(total / float64(len(frame)))
	return ev
}

// block1 advances the state machine by one 10 ms block at level dBFS.
func (v *VAD) block1(level float64, frameStart int64) VADEvent {
	n := v.blocks
	v.blocks++
	threshold := v.floor + v.cfg.ThresholdDB
	minVoice := vadMinVoiceDBFS
	if v.state == vadSpeech {
		threshold -= vadHysteresisDB
		minVoice -= vadHysteresisDB
	}
	voice := v.haveFloor && level > threshold && level > minVoice
	switch v.state {
	case vadIdle:
		if voice {
			v.state, v.onset, v.voiced, v.gap = vadOnset, n, 1, 0
			v.onsetLo, v.onsetHi = math.Inf(1), math.Inf(-1)
		}
	case vadOnset:
		// The onset's first block may be partly quiet; the later ones
		// show whether the sound varies.
		v.onsetLo, v.onsetHi = min(v.onsetLo, level), max(v.onsetHi, level)
		if voice {
			v.voiced++
			v.gap = 0
		} else if v.gap++; v.gap > vadMaxGapBlocks {
			v.state = vadIdle
			return VADEvent{}
		}
	case vadSpeech:
		if voice {
			v.lastVoice = n
		} else if int(n-v.lastVoice) >= v.endBlocks {
			v.state = vadIdle
			return VADEvent{Kind: SpeechEnd, Frames: v.framesSince(v.lastVoice, frameStart)}
		}
		return VADEvent{}
	}
	// On a line not yet measured, steady sound is the line's noise
	// arriving, not a voice: speech must also vary, the levels of its
	// blocks after the first spanning more than vadVaryDB.
	if v.state == vadOnset && v.voiced >= v.minBlocks && (!v.unmeasured || v.onsetHi-v.onsetLo > vadVaryDB) {
		v.state, v.lastVoice = vadSpeech, n
		return VADEvent{Kind: SpeechStart, Frames: v.framesSince(v.onset, frameStart)}
	}
	return VADEvent{}
}

// framesSince counts the frames from the one holding block b to the current
// one, inclusive.
func (v *VAD) framesSince(b, frameStart int64) int {
	back := frameStart - b // blocks from b to the start of the current frame
	if back <= 0 {
		return 1
	}
	return 1 + int((back+int64(v.frameBlocks)-1)/int64(v.frameBlocks))
}

// track updates the noise floor with one frame's mean power.
func (v *VAD) track(p float64) {
	level := powerDB(p)
	if level < vadNoInfoDBFS {
		if !v.haveFloor {
			// The line starts out digitally silent. Its floor is that
			// silence until a steady sound shows the line's noise.
			v.floor, v.haveFloor, v.unmeasured = vadNoInfoDBFS, true, true
		}
		return
	}
	v.levels[v.nLevels%vadSteadyFrames] = level
	v.nLevels++
	if !v.haveFloor {
		v.smoothed, v.floor, v.haveFloor = p, level, true
		return
	}
	v.smoothed = vadSmooth*v.smoothed + (1-vadSmooth)*p
	s := powerDB(v.smoothed)
	if v.unmeasured {
		// The first frame of sound may be partly silent; the
		// smoothed level still lags the silence.
		if v.probe++; v.probe == 2 {
			v.probeMin = level
		}
		v.probeMin = min(v.probeMin, level)
	}
	steady := v.steady()
	if steady {
		v.steadyRun++
	} else {
		v.steadyRun = 0
	}
	switch {
	case v.unmeasured && v.state != vadSpeech && (steady || v.probe >= vadProbeFrames):
		// Sound that went on this long without proving to be speech is
		// the line's noise: measure it, and drop the onset it started.
		v.floor, v.smoothed, v.unmeasured = v.probeMin, math.Pow(10, v.probeMin/10), false
		if v.state == vadOnset {
			v.state = vadIdle
		}
	case s < v.floor:
		v.floor = s
	case steady && (v.state != vadSpeech || v.steadyRun >= vadSteadySpeechFrames):
		v.floor += vadFastRise * (s - v.floor)
	default:
		v.floor = min(v.floor+vadRiseDB, s)
	}
}

// steady reports whether the last vadSteadyFrames frame levels lie within
// vadSteadyDB of each other.
func (v *VAD) steady() bool {
	if v.nLevels < vadSteadyFrames {
		return false
	}
	lo, hi := v.levels[0], v.levels[0]
	for _, l := range v.levels[1:] {
		lo, hi = min(lo, l), max(hi, l)
	}
	return hi-lo < vadSteadyDB
}

// meanSquare is the mean power of pcm relative to full scale squared.
func meanSquare(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum int64
	for _, s := range pcm {
		sum += int64(s) * int64(s)
	}
	return float64(sum) / (float64(len(pcm)) * 32768 * 32768)
}

// powerDB converts a mean power relative to full scale squared to dBFS,
// floored at SilenceDBFS like Level.
func powerDB(p float64) float64 {
	if p <= 1e-10 { // −100 dBFS
		return SilenceDBFS
	}
	return max(10*math.Log10(p), SilenceDBFS)
}
