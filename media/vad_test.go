package media_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

// The VAD is tuned and tested on synthesized speech, the way callers reach
// Hotline: 8 kHz, through G.711, over line noise.

const telRate = 8000

// phrase is an utterance a caller might say, with the synthesizer and voice
// to say it.
type phrase struct {
	engine, voice, text string
}

var phrases = []phrase{
	{"espeak-ng", "en-us", "I would like to check my account balance please"},
	{"espeak-ng", "en-us", "six"},
	{"espeak-ng", "en-gb", "yes"},
	{"espeak-ng", "en-us", "speak to an agent"},
	{"flite", "slt", "hello, I need help with my bill"},
	{"flite", "rms", "four"},
	{"flite", "kal16", "cancel my order"},
	{"flite", "slt", "representative"},
}

var synthCache struct {
	sync.Mutex
	pcm map[phrase][]int16
}

// speech synthesizes p at 8 kHz and scales it to an active speech level of
// −26 dBFS (ITU-T P.56's nominal level). The synthesizer must be installed:
// make test installs both.
func speech(t testing.TB, p phrase) []int16 {
	t.Helper()
	synthCache.Lock()
	defer synthCache.Unlock()
	if pcm, ok := synthCache.pcm[p]; ok {
		return pcm
	}
	bin, err := exec.LookPath(p.engine)
	if err != nil {
		t.Fatalf("%s not found: run scripts/setup.sh (make test does)", p.engine)
	}
	out := filepath.Join(t.TempDir(), "speech.wav")
	var cmd *exec.Cmd
	if p.engine == "flite" {
		cmd = exec.Command(bin, "-voice", p.voice, "-t", p.text, "-o", out)
	} else {
		cmd = exec.Command(bin, "-v", p.voice, "-w", out, p.text)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", p.engine, err, b)
	}
	pcm, err := media.LoadWAVFile(out, telRate)
	if err != nil {
		t.Fatal(err)
	}
	pcm = trimSilence(pcm)
	pcm = scaleToActiveLevel(pcm, -26)
	if synthCache.pcm == nil {
		synthCache.pcm = map[phrase][]int16{}
	}
	synthCache.pcm[p] = pcm
	return pcm
}

func (p phrase) String() string {
	return fmt.Sprintf("%s/%s %q", p.engine, p.voice, p.text)
}

// blockLevels is the level of each 10 ms block.
func blockLevels(pcm []int16) []float64 {
	var out []float64
	for off := 0; off < len(pcm); off += telRate / 100 {
		out = append(out, media.Level(pcm[off:min(off+telRate/100, len(pcm))]))
	}
	return out
}

// trimSilence cuts the synthesizer's leading and trailing near-silence.
func trimSilence(pcm []int16) []int16 {
	lv := blockLevels(pcm)
	first, last := -1, -1
	for i, l := range lv {
		if l > -60 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return pcm
	}
	return pcm[first*telRate/100 : min((last+1)*telRate/100, len(pcm))]
}

// activeLevel is the mean power, in dBFS, of the blocks within 30 dB of the
// loudest one: roughly P.56 active speech level.
func activeLevel(pcm []int16) float64 {
	lv := blockLevels(pcm)
	peak := math.Inf(-1)
	for _, l := range lv {
		peak = max(peak, l)
	}
	var sum float64
	var n int
	for _, l := range lv {
		if l > peak-30 {
			sum += math.Pow(10, l/10)
			n++
		}
	}
	return 10 * math.Log10(sum/float64(n))
}

func scaleToActiveLevel(pcm []int16, dBFS float64) []int16 {
	g := math.Pow(10, (dBFS-activeLevel(pcm))/20)
	out := make([]int16, len(pcm))
	for i, s := range pcm {
		out[i] = clip16(float64(s) * g)
	}
	return out
}

func clip16(v float64) int16 {
	return int16(max(-32768, min(32767, math.Round(v))))
}

// speechSpan returns the first and last 10 ms block of pcm above −56 dBFS
// (30 dB under the active level): the true onset and end of the clean
// speech.
func speechSpan(pcm []int16) (first, last int) {
	first, last = -1, -1
	for i, l := range blockLevels(pcm) {
		if l > -56 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

// whiteNoise returns n samples of Gaussian noise at dBFS.
func whiteNoise(n int, dBFS float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 7))
	sd := 32768 * math.Pow(10, dBFS/20)
	out := make([]int16, n)
	for i := range out {
		out[i] = clip16(r.NormFloat64() * sd)
	}
	return out
}

// mix adds b into a at sample offset at.
func mix(a, b []int16, at int) []int16 {
	out := append([]int16(nil), a...)
	for i, s := range b {
		if j := at + i; j >= 0 && j < len(out) {
			out[j] = clip16(float64(out[j]) + float64(s))
		}
	}
	return out
}

// g711 passes pcm through μ-law, as every telephone caller is heard.
func g711(pcm []int16) []int16 {
	return media.PCMU.Decode(nil, media.PCMU.Encode(nil, pcm))
}

// click is a 10 ms impulse: a handset bump, a relay.
func click() []int16 {
	out := make([]int16, telRate/100)
	for i := range out {
		out[i] = clip16(20000 * math.Exp(-float64(i)/8) * math.Cos(float64(i)))
	}
	return out
}

// cough is a 40 ms noise burst with a sharp attack and a fast decay.
func cough(seed uint64) []int16 {
	n := telRate * 40 / 1000
	noise := whiteNoise(n, -12, seed)
	out := make([]int16, n)
	var lp float64
	for i, s := range noise {
		lp = 0.6*lp + 0.4*float64(s) // a little low-pass: breath, not hiss
		env := math.Min(1, float64(i)/16) * math.Exp(-float64(i)/float64(n)*2)
		out[i] = clip16(lp * env * 1.5)
	}
	return out
}

// vadRun feeds pcm to a fresh VAD in 20 ms frames and returns each event
// with the index of the frame that raised it.
type vadEvent struct {
	frame int
	media.VADEvent
}

func vadRun(v *media.VAD, pcm []int16) []vadEvent {
	frameLen := media.FrameSamples(telRate)
	var evs []vadEvent
	for i := 0; (i+1)*frameLen <= len(pcm); i++ {
		if ev := v.Process(pcm[i*frameLen : (i+1)*frameLen]); ev.Kind != media.VADNone {
			evs = append(evs, vadEvent{i, ev})
		}
	}
	return evs
}

func (e vadEvent) String() string {
	return fmt.Sprintf("%s@%d(%d)", e.Kind, e.frame, e.Frames)
}

func eventsString(evs []vadEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.String())
	}
	return strings.Join(s, " ")
}

// backgrounds are the lines a caller is heard over.
var backgrounds = []struct {
	name  string
	level float64 // dBFS of white noise; below −150 for none
}{
	{"digital silence", -200},
	{"comfort noise −65 dBFS", -65},
	{"white noise 20 dB SNR", -46},
	{"white noise 10 dB SNR", -36},
}

// audibleSpan is the first and last 10 ms block where the clean speech is
// above −56 dBFS (30 dB under its active level) and at least 3 dB over the
// noise: the speech anyone could hear. Softer edges (an /s/ or /f/ under
// 10 dB SNR noise) are not there to be found.
func audibleSpan(clean []int16, noiseDBFS float64) (first, last int) {
	th := max(-56, noiseDBFS+3)
	first, last = -1, -1
	for i, l := range blockLevels(clean) {
		if l > th {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return first, last
}

func TestVADFindsSpeechOnsetAndEndOfTurn(t *testing.T) {
	cfg := media.DefaultVADConfig()
	for _, bg := range backgrounds {
		t.Run(bg.name, func(t *testing.T) {
			var worstOnset, worstDetect int
			for seed, p := range phrases {
				sp := speech(t, p)
				total := telRate + len(sp) + 2*telRate // 1 s before, 2 s after
				clean := mix(make([]int16, total), sp, telRate)
				sig := clean
				if bg.level > -150 {
					sig = mix(sig, whiteNoise(total, bg.level, uint64(seed)), 0)
				}
				sig = g711(sig)
				first, last := audibleSpan(clean, bg.level)
				evs := vadRun(media.NewVAD(telRate, cfg), sig)
				if len(evs) != 2 || evs[0].Kind != media.SpeechStart || evs[1].Kind != media.SpeechEnd {
					t.Errorf("%v: events %s, want one start and one end", p, eventsString(evs))
					continue
				}
				// Times in ms from the true onset and end. The onset is
				// reported at frame resolution, the start of its frame.
				start, end := evs[0], evs[1]
				onset := (start.frame-start.Frames+1)*20 - first*10
				detect := (start.frame+1)*20 - first*10
				lastVoice := (end.frame-end.Frames+1)*20 - (last+1)*10
				endOfTurn := (end.frame+1)*20 - (last+1)*10
				t.Logf("%-55v onset %+4d ms, confirmed %+4d ms; last voice %+4d ms, end of turn %+4d ms",
					p, onset, detect, lastVoice, endOfTurn)
				worstOnset, worstDetect = max(worstOnset, onset), max(worstDetect, detect)
				if onset < -20 || onset > 80 {
					t.Errorf("%v: onset %+d ms from the true one, want −20..+80", p, onset)
				}
				if lastVoice < -250 || lastVoice > 60 {
					t.Errorf("%v: last voice %+d ms from the true end, want −250..+60", p, lastVoice)
				}
				// The turn ends EndSilence after the last voice heard, to
				// the frame.
				if gap := time.Duration(end.Frames-1) * media.FrameDuration; gap < cfg.EndSilence-20*time.Millisecond || gap > cfg.EndSilence {
					t.Errorf("%v: turn ended %v after the last voice, want %v", p, gap, cfg.EndSilence)
				}
			}
			t.Logf("worst onset %+d ms, worst confirmation %+d ms after the true onset", worstOnset, worstDetect)
		})
	}
}

// clicksAndCoughs puts a click every 700 ms and a 40 ms cough every 1.1 s
// over background, never closer than 50 ms to each other: a click right
// after a cough would be 50-60 ms of sound, as long as a short word.
func clicksAndCoughs(background []int16) []int16 {
	out := background
	for at := telRate / 4; at < len(out); at += telRate * 7 / 10 {
		out = mix(out, click(), at)
	}
	for i, at := 0, telRate*6/10+45; at < len(out); i, at = i+1, at+telRate*11/10 { // ≥ 50 ms from a click, straddling blocks
		out = mix(out, cough(uint64(i)), at)
	}
	return out
}

// hum is mains hum: 50 Hz and its odd harmonics at dBFS, as an unbalanced
// line picks it up.
func hum(n int, dBFS float64) []int16 {
	a := 32768 * math.Pow(10, dBFS/20) * math.Sqrt2 / 1.2
	out := make([]int16, n)
	for i := range out {
		x := float64(i) / telRate
		out[i] = clip16(a * (math.Sin(2*math.Pi*50*x) + 0.5*math.Sin(2*math.Pi*150*x) + 0.4*math.Sin(2*math.Pi*250*x)))
	}
	return out
}

func TestVADIgnoresNoiseClicksAndCoughs(t *testing.T) {
	const n = 6 * telRate
	alawIdle := media.PCMA.Decode(nil, media.PCMA.Encode(nil, make([]int16, n)))
	lines := []struct {
		name string
		pcm  []int16
	}{
		{"digital silence", make([]int16, n)},
		{"A-law idle channel", alawIdle},
		{"comfort noise −65 dBFS", g711(whiteNoise(n, -65, 1))},
		{"line noise −46 dBFS", g711(whiteNoise(n, -46, 2))},
		{"line noise −36 dBFS", g711(whiteNoise(n, -36, 3))},
		{"loud hiss −25 dBFS", g711(whiteNoise(n, -25, 4))},
		{"mains hum −35 dBFS", g711(mix(hum(n, -35), whiteNoise(n, -60, 5), 0))},
	}
	for _, l := range lines {
		t.Run(l.name, func(t *testing.T) {
			if evs := vadRun(media.NewVAD(telRate, media.VADConfig{}), l.pcm); len(evs) != 0 {
				t.Errorf("line alone: %s", eventsString(evs))
			}
			noisy := g711(clicksAndCoughs(l.pcm))
			if evs := vadRun(media.NewVAD(telRate, media.VADConfig{}), noisy); len(evs) != 0 {
				t.Errorf("clicks and coughs: %s", eventsString(evs))
			}
		})
	}
}

// toneBurst is a voiced-like burst: a 200 Hz buzz with harmonics at −20 dBFS.
func toneBurst(d time.Duration) []int16 {
	n := int(d * telRate / time.Second)
	out := make([]int16, n)
	for i := range out {
		x := float64(i) / telRate
		out[i] = clip16(3000 * (math.Sin(2*math.Pi*200*x) + 0.6*math.Sin(2*math.Pi*400*x) + 0.4*math.Sin(2*math.Pi*600*x)))
	}
	return out
}

func TestVADMinSpeech(t *testing.T) {
	for _, tc := range []struct {
		burst time.Duration
		at    int // sample offset: on a frame edge or mid-frame
		want  bool
	}{
		{30 * time.Millisecond, telRate, false},
		{40 * time.Millisecond, telRate, false},
		{40 * time.Millisecond, telRate + 85, false}, // straddles three frames
		{50 * time.Millisecond, telRate, false},
		{70 * time.Millisecond, telRate, true},
		{80 * time.Millisecond, telRate + 85, true},
		{200 * time.Millisecond, telRate, true},
	} {
		line := g711(mix(whiteNoise(3*telRate, -60, 9), toneBurst(tc.burst), tc.at))
		evs := vadRun(media.NewVAD(telRate, media.VADConfig{}), line)
		if got := len(evs) > 0; got != tc.want {
			t.Errorf("%v burst at sample %d: events %q, want speech %v", tc.burst, tc.at, eventsString(evs), tc.want)
		}
		if tc.want && len(evs) > 0 {
			// Confirmed after 60 ms of voice, backdated to the burst's frame.
			if onset := evs[0].frame - evs[0].Frames + 1; onset != tc.at/160 {
				t.Errorf("%v burst: onset frame %d, want %d", tc.burst, onset, tc.at/160)
			}
		}
	}
}

// TestVADNoiseStepRecovers: line noise that jumps by 20 dB (a caller walking
// into the street) may be taken for speech at first, but the floor follows
// it and speech over the new noise is found again.
func TestVADNoiseStepRecovers(t *testing.T) {
	p := phrases[0]
	sp := speech(t, p)
	n := 8*telRate + len(sp)
	line := append(whiteNoise(2*telRate, -62, 1), whiteNoise(n-2*telRate, -42, 2)...)
	speechAt := 6 * telRate
	sig := g711(mix(line, sp, speechAt))
	v := media.NewVAD(telRate, media.VADConfig{})
	evs := vadRun(v, sig)
	var starts []vadEvent
	for _, e := range evs {
		if e.Kind == media.SpeechStart {
			starts = append(starts, e)
		}
	}
	t.Logf("events %s, floor %.1f dBFS", eventsString(evs), v.NoiseFloor())
	if len(starts) == 0 {
		t.Fatal("no speech found")
	}
	last := starts[len(starts)-1]
	if onset := last.frame - last.Frames + 1; onset < speechAt/160-1 || onset > speechAt/160+4 {
		t.Errorf("speech at frame %d found at frame %d", speechAt/160, onset)
	}
	// False speech from the step ends within 2.5 s, well before the real
	// speech: the floor has followed the new noise up.
	for i, e := range evs {
		if e.Kind != media.SpeechStart || e.frame >= speechAt/160 {
			continue
		}
		if i+1 == len(evs) || evs[i+1].Kind != media.SpeechEnd || evs[i+1].frame-e.frame > 125 {
			t.Errorf("the noise step was speech from frame %d and did not end within 2.5 s: %s", e.frame, eventsString(evs))
		}
	}
	if f := v.NoiseFloor(); f < -46 || f > -38 {
		t.Errorf("noise floor %.1f dBFS, want near −42", f)
	}
}

// TestVADLineNoiseAfterDigitalSilence: a line that starts digitally silent
// (no RTP yet, a muted phone) and then carries noise must not be taken
// for speech, wherever in a frame the noise starts.
func TestVADLineNoiseAfterDigitalSilence(t *testing.T) {
	kinds := []struct {
		name  string
		noise func(n int, dBFS float64, seed uint64) []int16
	}{
		{"white", whiteNoise},
		{"pink-ish", func(n int, dBFS float64, seed uint64) []int16 { return lowpass(whiteNoise(n, dBFS, seed), 0.7) }},
		{"hum", func(n int, dBFS float64, seed uint64) []int16 {
			return mix(hum(n, dBFS), whiteNoise(n, dBFS-25, seed), 0)
		}},
	}
	for _, k := range kinds {
		for _, level := range []float64{-50, -40, -30} {
			for seed := range uint64(20) {
				line := make([]int16, 5*telRate)
				copy(line[telRate+int(seed*37)%160:], g711(k.noise(4*telRate, level, seed)))
				if evs := vadRun(media.NewVAD(telRate, media.VADConfig{}), line); len(evs) != 0 {
					t.Errorf("%s noise at %v dBFS (seed %d): %s", k.name, level, seed, eventsString(evs))
				}
			}
		}
	}
}

// lowpass is a one-pole low-pass filter with gain to keep the level.
func lowpass(pcm []int16, a float64) []int16 {
	g := math.Sqrt((1 + a) / (1 - a))
	out := make([]int16, len(pcm))
	var y float64
	for i, s := range pcm {
		y = a*y + (1-a)*float64(s)
		out[i] = clip16(y * g)
	}
	return out
}

// TestVADDropoutKeepsFloor: a burst of digital silence (packet loss, a
// muted handset) must not reset the floor so that the returning hiss
// looks like speech.
func TestVADDropoutKeepsFloor(t *testing.T) {
	line := g711(whiteNoise(5*telRate, -40, 3))
	clear(line[2*telRate : 2*telRate+telRate/2])
	if evs := vadRun(media.NewVAD(telRate, media.VADConfig{}), line); len(evs) != 0 {
		t.Errorf("events %s", eventsString(evs))
	}
}

func TestVADWideband(t *testing.T) {
	const wb = 16000
	for _, p := range phrases[:3] {
		sp := media.Resample(speech(t, p), telRate, wb)
		sig := mix(whiteNoise(wb+len(sp)+2*wb, -50, 4), sp, wb)
		v := media.NewVAD(wb, media.VADConfig{})
		frameLen := media.FrameSamples(wb)
		var got []string
		for i := 0; (i+1)*frameLen <= len(sig); i++ {
			if ev := v.Process(sig[i*frameLen : (i+1)*frameLen]); ev.Kind != media.VADNone {
				got = append(got, fmt.Sprintf("%s@%d", ev.Kind, i-ev.Frames+1))
			}
		}
		if len(got) != 2 || !strings.HasPrefix(got[0], "speech-start@5") {
			t.Errorf("%v at 16 kHz: %v, want speech from frame 50", p, got)
		}
	}
}

func TestVADResetKeepsFloor(t *testing.T) {
	v := media.NewVAD(telRate, media.VADConfig{})
	vadRun(v, g711(whiteNoise(telRate, -45, 1)))
	if floor := v.NoiseFloor(); floor < -48 || floor > -42 {
		t.Fatalf("floor %.1f dBFS over −45 dBFS noise", floor)
	}
	vadRun(v, toneBurst(200*time.Millisecond))
	if !v.Speaking() {
		t.Fatal("not speaking after a 200 ms burst")
	}
	floor := v.NoiseFloor()
	v.Reset()
	if v.Speaking() || v.NoiseFloor() != floor {
		t.Errorf("after Reset: speaking %v, floor %.1f (was %.1f)", v.Speaking(), v.NoiseFloor(), floor)
	}
}

func BenchmarkVAD(b *testing.B) {
	for _, r := range []int{8000, 16000} {
		b.Run(fmt.Sprintf("%dHz", r), func(b *testing.B) {
			sig := mix(whiteNoise(10*r, -50, 1), media.Resample(speech(b, phrases[0]), telRate, r), r)
			frameLen := media.FrameSamples(r)
			frames := len(sig) / frameLen
			v := media.NewVAD(r, media.VADConfig{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				j := i % frames
				v.Process(sig[j*frameLen : (j+1)*frameLen])
			}
		})
	}
}
