package prosody

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/hotline-cc/hotline/media"
)

// The voice tests speak with espeak-ng and flite at controlled pitch, rate
// and loudness, and hear the result as a caller's turn reaches Hotline:
// 8 kHz, through G.711 μ-law, over faint line noise, with the endpointer's
// lead-in and trailing silence.

// voice is a synthesizer setting.
type voice struct {
	engine string // "espeak-ng" or "flite"
	lang   string // espeak-ng's -v: "" is en-us
	// pitch is espeak-ng's -p (0..99, 50 normal) or flite's
	// int_f0_target_mean in Hz (0: the voice's own).
	pitch int
	// speed is espeak-ng's -s in words a minute, or flite's
	// duration_stretch (1 normal, less is faster).
	speed float64
	// amp is espeak-ng's -a (0..200, 100 normal); for flite, which has no
	// such flag, a gain in dB applied to its output.
	amp float64
}

func espeak(pitch int, wpm, amp float64) voice { return voice{"espeak-ng", "", pitch, wpm, amp} }
func mandarin(pitch int, wpm, amp float64) voice {
	return voice{"espeak-ng", "cmn", pitch, wpm, amp}
}
func flite(f0 int, stretch, gainDB float64) voice {
	return voice{"flite", "", f0, stretch, gainDB}
}

func (v voice) String() string {
	if v.engine == "flite" {
		return fmt.Sprintf("flite f0=%d Hz stretch=%.2f gain=%+.0f dB", v.pitch, v.speed, v.amp)
	}
	return fmt.Sprintf("espeak-ng -v %s -p %d -s %.0f -a %.0f", v.language(), v.pitch, v.speed, v.amp)
}

func (v voice) language() string {
	if v.lang == "" {
		return "en-us"
	}
	return v.lang
}

var synthCache struct {
	sync.Mutex
	pcm map[string][]int16
}

// needSynth skips the test when the synthesizers are not installed.
func needSynth(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"espeak-ng", "flite"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (scripts/setup.sh installs flite and espeak-ng)", bin)
		}
	}
}

// say synthesizes text in voice v and returns it as the caller's turn.
func say(t testing.TB, v voice, text string) []int16 {
	t.Helper()
	key := v.String() + "|" + text
	synthCache.Lock()
	defer synthCache.Unlock()
	if pcm, ok := synthCache.pcm[key]; ok {
		return pcm
	}
	out := filepath.Join(t.TempDir(), "say.wav")
	var cmd *exec.Cmd
	gain := 0.0
	if v.engine == "flite" {
		args := []string{"-voice", "slt"}
		if v.pitch > 0 {
			args = append(args, "--setf", "int_f0_target_mean="+strconv.Itoa(v.pitch))
		}
		if v.speed > 0 {
			args = append(args, "--setf", "duration_stretch="+strconv.FormatFloat(v.speed, 'f', -1, 64))
		}
		cmd = exec.Command("flite", append(args, "-t", text, "-o", out)...)
		gain = v.amp
	} else {
		cmd = exec.Command("espeak-ng", "-v", v.language(), "-p", strconv.Itoa(v.pitch),
			"-s", strconv.Itoa(int(v.speed)), "-a", strconv.Itoa(int(v.amp)), "-w", out, text)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", v, err, b)
	}
	pcm, err := media.LoadWAVFile(out, 8000)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	pcm = asTurn(pcm, gain, h.Sum64())
	if synthCache.pcm == nil {
		synthCache.pcm = map[string][]int16{}
	}
	synthCache.pcm[key] = pcm
	return pcm
}

// asTurn makes speech into a turn as the endpointer delivers it: 100 ms of
// lead-in, the speech with gain dB, 600 ms of trailing quiet, all over line
// noise at −60 dBFS and through μ-law.
func asTurn(speech []int16, gainDB float64, seed uint64) []int16 {
	const rate = 8000
	rng := rand.New(rand.NewPCG(seed, 7))
	g := math.Pow(10, gainDB/20)
	n := rate/10 + len(speech) + 6*rate/10
	out := make([]int16, n)
	noise := 32768 * math.Pow(10, -60.0/20)
	for i := range out {
		v := rng.NormFloat64() * noise
		if j := i - rate/10; j >= 0 && j < len(speech) {
			v += g * float64(speech[j])
		}
		out[i] = clip16(v)
	}
	return media.PCMU.Decode(nil, media.PCMU.Encode(nil, out))
}

func clip16(v float64) int16 {
	return int16(max(min(math.Round(v), math.MaxInt16), math.MinInt16))
}

// Sentences a caller might say, of ordinary length; the baseline turns and
// the judged turns use different ones.
var (
	baselineSentences = []string{
		"Hello, I am calling about the bill I got last week.",
		"My account number should be on the letter you sent me.",
		"I have been a customer with you for about three years now.",
	}
	testSentences = []string{
		"The amount on it is much higher than what I usually pay.",
		"I would like somebody to explain these extra charges to me.",
		"Can you check whether the payment from March went through?",
		"I tried the website but it kept sending me back to the start.",
		"Nobody told me that the price was going to change this month.",
		"Please look at the last three statements and tell me what happened.",
		"I only use the phone for calls, I never use any data at all.",
		"Your colleague said yesterday that it would be sorted out by now.",
		"Is there a reference number I can write down for this call?",
		"The engineer was supposed to come on Tuesday between eight and twelve.",
		"My neighbour has the same plan and she pays a lot less than me.",
		"I would rather not switch to another company if we can fix it.",
		"Could you send me an email confirming what we agreed today?",
		"The letter says the discount ended in January, but I was never told.",
		"I need the router replaced because the lights keep flashing red.",
		"We moved house in the summer and the address was updated then.",
		"Can I pay the difference over two months instead of all at once?",
		"I spoke to someone on Friday and they promised to call me back.",
		"The direct debit was taken twice and my bank charged me a fee.",
		"How long will it take before the refund shows up in my account?",
	}
)

// Chinese sentences for a caller speaking Mandarin.
var (
	baselineChinese = []string{
		"你好，我想问一下上个月的账单。",
		"我的账户号码在你们寄来的信上。",
		"我用你们的服务已经三年了。",
	}
	testChinese = []string{
		"这个月的金额比平时高了很多。",
		"请帮我看一下三月份的付款有没有到账。",
	}
)

// newCaller returns a Tracker that has heard the baseline sentences in v.
func newCaller(t testing.TB, v voice) *Tracker {
	t.Helper()
	return newCallerSaying(t, v, baselineSentences)
}

func newCallerSaying(t testing.TB, v voice, sentences []string) *Tracker {
	t.Helper()
	tr := NewTracker(Config{})
	for _, s := range sentences {
		tr.Observe(Utterance{PCM: say(t, v, s), Text: s})
	}
	if !tr.Ready() {
		t.Fatalf("%v: no baseline after %d turns", v, len(baselineSentences))
	}
	return tr
}
