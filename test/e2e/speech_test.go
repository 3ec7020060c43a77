package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/pcapfile"
	"github.com/hotline-cc/hotline/media"
)

// Spoken menu choices, end to end: a SIPp caller speaks phrases synthesized
// by flite to the menu, and Hotline must understand them, answer, and stop
// its prompts as soon as the caller talks over them.

// spokenAnswers are the test's ivr.answers, each with a short say, so the
// grammar holds every phrase the callers say.
var spokenAnswers = []struct {
	phrases []string
	say     string
}{
	{[]string{"opening hours", "when are you open"}, "We are open from eight to eight."},
	{[]string{"where are you", "what is your address"}, "We are at ten Main Street."},
	{[]string{"check my balance", "billing", "pay my bill"}, "Your balance is ten dollars."},
	{[]string{"technical support", "my internet is down"}, "Please restart your router."},
	{[]string{"track my order", "delivery times", "return an item"}, "Orders arrive within three days."},
	{[]string{"reset my password", "lost my card"}, "Use the link we sent by email."},
	{[]string{"speak to sales", "gift cards"}, "Sales are open on weekdays."},
}

// spokenPhrases is what each caller says, in order: questions and built-in
// phrases that keep the caller in the menu (greeting and menu replays);
// then the caller's way of saying goodbye ends the call. The first one
// interrupts the greeting; each next one comes while Hotline answers the
// one before, or just after.
var spokenPhrases = []string{
	"opening hours", "main menu", "check my balance", "where are you", "technical support",
	"repeat the greeting", "billing", "when are you open", "track my order", "help",
	"reset my password", "what is your address", "pay my bill", "my internet is down", "repeat",
	"delivery times", "lost my card", "speak to sales", "return an item", "gift cards",
}

// spokenVoices are the two callers, each with the flite voice it speaks in
// and its last phrase.
var spokenVoices = []struct{ voice, bye string }{{"slt", "goodbye"}, {"rms", "that is all"}}

// Timeline of a caller's recording: the first phrase starts firstPhraseAt
// after the answer, well into the 5.1 s greeting; each next one
// phraseEvery after the one before. A phrase lasts 0.6 to 1.9 s (flite's
// own quiet around the words included) and Hotline's audio starts 0.6 to
// 1 s after the words (end of turn, recognition, the start of its answer),
// so Hotline speaks for half a second to a second and a half before the
// next phrase interrupts it.
const (
	firstPhraseAt = 1500 * time.Millisecond
	phraseEvery   = 3 * time.Second
	// afterLastPhrase is how long the caller stays on the line after its
	// recording, for Hotline's reaction to the last phrase.
	afterLastPhrase = 5 * time.Second
)

// bargeInLimit is how soon a prompt must stop once the caller talks over it.
const bargeInLimit = 150 * time.Millisecond

// spokenResult is what one caller's call measured.
type spokenResult struct {
	voice        string
	said, heard  int             // phrases said, and heard right
	greetingStop time.Duration   // first phrase onset to the greeting's last audio
	bargeIns     []time.Duration // the same for every phrase said over Hotline's audio
	responses    []time.Duration // end of each phrase to Hotline's next audio
}

// TestSIPpSpokenPhrases: two callers, one per flite voice, each say 21
// phrases to the menu of one Hotline, at the same time. Checked: at least
// 90 % of the phrases are recognized (aligned in order with what Hotline
// heard), each recognized phrase makes its menu choice and gets its
// answer, the first phrase interrupts the greeting within 150 ms on the
// wire, the call's transcript holds the turns, and the last phrase
// ("goodbye", "that is all") ends the call when it was understood.
func TestSIPpSpokenPhrases(t *testing.T) {
	t.Parallel()
	needRoot(t)
	need(t, "flite")
	// menu_repeats: a phrase not understood counts as a try; the 10 %
	// allowed must not end the call.
	cfg := "ivr:\n  menu_repeats: 10\n  answers:\n"
	for _, a := range spokenAnswers {
		// JSON's lists and strings are YAML's flow style.
		phrases, _ := json.Marshal(a.phrases)
		say, _ := json.Marshal(a.say)
		cfg += fmt.Sprintf("    - {phrases: %s, say: %s}\n", phrases, say)
	}
	n := startHotline(t, "", cfg)

	// Both callers at once, within this one test: the package's tests
	// run two at a time by default (-parallel is GOMAXPROCS), and most of
	// a call's minute is spent waiting.
	calls := make([]*spokenCall, len(spokenVoices))
	for i, v := range spokenVoices {
		phrases := append(slices.Clone(spokenPhrases), v.bye)
		calls[i] = startSpokenCall(t, n, v.voice, phrases, evenly(len(phrases)))
	}
	results := make([]spokenResult, len(calls))
	for i, c := range calls {
		sr, pkts := c.sipp.wait(t), c.capt.stop(t)
		// A call that fails its checks half way counts what it measured.
		results[i] = spokenResult{voice: c.voice, said: len(c.phrases)}
		t.Run(c.voice, func(t *testing.T) { c.check(t, n, sr, pkts, &results[i]) })
	}
	var said, heard int
	for _, r := range results {
		said += r.said
		heard += r.heard
		t.Logf("%s: %d of %d phrases recognized (%.0f %%); the greeting stopped %v after the caller's onset",
			r.voice, r.heard, r.said, percent(r.heard, r.said), r.greetingStop.Round(time.Millisecond))
		t.Logf("%s: prompts and answers stopped after the onset by %v; Hotline responded after the end of speech in %v",
			r.voice, r.bargeIns, r.responses)
	}
	t.Logf("overall: %d of %d phrases recognized (%.0f %%)", heard, said, percent(heard, said))
	if said == 0 || heard*10 < said*9 {
		t.Errorf("recognized %d of %d phrases, want at least 90 %%", heard, said)
	}
}

func percent(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }

// spokenCall is one caller's call under way.
type spokenCall struct {
	voice   string
	phrases []string
	capt    *capture
	sipp    *sippProc
}

// startSpokenCall places a call that says phrases in voice, each at its
// start after the answer, with a capture
// of its RTP both ways.
func startSpokenCall(t *testing.T, n *node, voice string, phrases []string, starts []time.Duration) *spokenCall {
	t.Helper()
	dir := t.TempDir()
	recording := speechTimeline(t, voice, phrases, starts)
	writeRTPPcap(t, filepath.Join(dir, "speech.pcap"), recording)
	scenario, err := os.ReadFile(filepath.Join(repoRoot, "test", "sipp", "uac_speech.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "uac_speech.xml"), scenario, 0o644); err != nil {
		t.Fatal(err)
	}
	length := time.Duration(len(recording)) * time.Second / rate
	mediaPort := freeMediaPort(t, "127.0.0.1")
	c := &spokenCall{voice: voice, phrases: phrases, capt: startCapture(t, fmt.Sprintf("udp port %d", mediaPort))}
	c.sipp = startSIPp(t, n, sippRun{Scenario: filepath.Join(dir, "uac_speech.xml"), Timeout: length + 30*time.Second,
		Media: mediaPort, Args: []string{"-d", fmt.Sprint((length + afterLastPhrase).Milliseconds())}})
	return c
}

// check checks what Hotline made of the call's phrases, and measures it
// into res.
func (c *spokenCall) check(t *testing.T, n *node, sr sippResult, pkts []pcapfile.Packet, res *spokenResult) {
	voice, phrases := c.voice, c.phrases
	sr.expectSuccess(t)

	call := map[string]any{"call_id": sr.CallID}
	answered := n.logs.must(t, "call answered", call, 5*time.Second)
	ended := n.logs.must(t, "call ended", call, 5*time.Second)
	n.logs.none(t, "call flow failed", call)

	// What Hotline heard, aligned in order with what was said.
	var heard []string
	for _, r := range n.logs.find("caller said", call) {
		heard = append(heard, fmt.Sprint(r["text"]))
		t.Logf("caller said %q: speech %v ms, latency %v ms, barge-in %v, confidence %v, %v",
			r["text"], r["speech_ms"], r["latency_ms"], r["barge_in"], r["confidence"], r["provider"])
	}
	pairs := alignPhrases(phrases, heard)
	res.heard = len(pairs)
	matched := map[int]bool{}
	for _, p := range pairs {
		matched[p[0]] = true
	}
	for i, p := range phrases {
		if !matched[i] {
			t.Logf("%s: %q (phrase %d) not recognized", voice, p, i+1)
		}
	}

	// Every phrase heard made its choice, and each answer was said.
	choices := n.logs.find("menu choice", map[string]any{"call_id": sr.CallID, "by": "speech"})
	var chosen []string
	for _, r := range choices {
		text := fmt.Sprint(r["text"])
		chosen = append(chosen, text)
		if want := spokenChoice(text); r["choice"] != want {
			t.Errorf("%q made menu choice %v, want %s", text, r["choice"], want)
		}
	}
	var nonEmpty []string
	for _, h := range heard {
		if h != "" {
			nonEmpty = append(nonEmpty, h)
		}
	}
	if !slices.Equal(chosen, nonEmpty) {
		t.Errorf("menu choices by speech %q, want one for each phrase heard %q", chosen, nonEmpty)
	}
	said := map[string]int{}
	for _, r := range n.logs.find("hotline said", call) {
		said[fmt.Sprint(r["text"])]++
	}
	for _, text := range nonEmpty {
		if a := spokenAnswer(text); a != "" && said[a] == 0 {
			t.Errorf("%q was heard but Hotline never said %q", text, a)
		}
	}

	// The call ends with the caller's last phrase if Hotline understood it.
	wantCause := "sip: far end hung up"
	if len(nonEmpty) > 0 && nonEmpty[len(nonEmpty)-1] == phrases[len(phrases)-1] {
		wantCause = "sip: hung up"
	}
	if ended["cause"] != wantCause {
		t.Errorf("call ended with cause %v, want %s", ended["cause"], wantCause)
	}

	// The first phrase interrupted the greeting.
	barges := n.logs.find("barge-in", call)
	if len(barges) == 0 || barges[0]["prompt"] != "greeting" || barges[0]["by"] != "speech" {
		t.Errorf("first barge-in %v, want the greeting, by speech", barges)
	}

	// On the wire, for each phrase: from the onset of the caller's speech
	// to the last audio of what Hotline was saying then (the barge-in),
	// and from the end of the speech to Hotline's first audio after it
	// (its response time, end of turn detection included).
	hotline := mustAddrPort(t, answered["local_rtp"])
	caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
	callerLoud := loudTimes(rtpFrames(pkts, caller, hotline), onsetDBFS)
	hotlineLoud := loudTimes(rtpFrames(pkts, hotline, caller), promptDBFS)
	onsets := speechOnsets(callerLoud, 500*time.Millisecond)
	if len(onsets) != len(phrases) {
		t.Errorf("found %d speech onsets in the caller's RTP, want one for each of the %d phrases", len(onsets), len(phrases))
	}
	for k, on := range onsets {
		// 300 ms bridges the pauses in Hotline's speech and is less than
		// the shortest phrase takes to be answered.
		stop, playing := promptStop(hotlineLoud, on, 300*time.Millisecond)
		d := stop.Sub(on)
		if k == 0 {
			res.greetingStop = d
			if !playing {
				t.Errorf("Hotline sent no audio when the first phrase began: the greeting was not playing")
			} else if d > bargeInLimit {
				t.Errorf("the greeting went on %v after the caller began to speak, want at most %v", d, bargeInLimit)
			}
		}
		// Stopped before the onset: Hotline was between two words or
		// had just finished; no barge-in to measure.
		if playing && d > 0 {
			res.bargeIns = append(res.bargeIns, d.Round(time.Millisecond))
		}
	}
	res.responses = responseTimes(callerLoud, hotlineLoud, onsets)

	// The transcript has a turn for every utterance the caller made, each
	// with its emotion cue: the call's emotion timeline.
	tr := n.logs.must(t, "transcript", call, time.Second)
	var turns []string
	for i, turn := range readTranscript(t, fmt.Sprint(tr["path"])) {
		if turn["speaker"] == "caller" && turn["key"] == nil {
			turns = append(turns, fmt.Sprint(turn["text"]))
			cue, ok := turn["emotion"].(map[string]any)
			if !ok || cue["label"] == nil || cue["turn"] != float64(len(turns)) {
				t.Errorf("transcript line %d: caller turn %d has emotion %v, want its cue", i+1, len(turns), turn["emotion"])
			}
		}
	}
	if !slices.Equal(turns, heard) {
		t.Errorf("transcript has the caller's turns %q, want what the log says Hotline heard %q", turns, heard)
	}
}

// speechTimeline speaks phrases with a flite voice and places them on one
// timeline at 8 kHz: the first at firstPhraseAt, each next phraseEvery
// later, over faint line noise.
func speechTimeline(t *testing.T, voice string, phrases []string, starts []time.Duration) []int16 {
	t.Helper()
	dir := t.TempDir()
	pcms := make([][]int16, len(phrases))
	var wg sync.WaitGroup
	errs := make([]error, len(phrases))
	for i, p := range phrases {
		wg.Go(func() { pcms[i], errs[i] = fliteSay(filepath.Join(dir, fmt.Sprint(i, ".wav")), voice, p) })
	}
	wg.Wait()
	var out []int16
	for i, pcm := range pcms {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if i+1 < len(starts) && len(pcm) > sec((starts[i+1]-starts[i]-time.Second).Seconds()) {
			t.Fatalf("%s %q lasts %.1f s: too long for the next phrase at %v", voice, phrases[i], seconds(len(pcm)), starts[i+1])
		}
		at := sec(starts[i].Seconds())
		out = append(out, make([]int16, at-len(out))...)
		out = append(out, pcm...)
	}
	out = append(out, make([]int16, sec(0.5))...)
	addLineNoise(out)
	return out
}

// evenly starts n phrases at firstPhraseAt, phraseEvery apart.
func evenly(n int) []time.Duration {
	starts := make([]time.Duration, n)
	for i := range starts {
		starts[i] = firstPhraseAt + time.Duration(i)*phraseEvery
	}
	return starts
}

// addLineNoise adds white noise at about -61 dBFS to pcm, the hiss of a
// quiet telephone line, as phones and trunks send it. On a line heard only
// as digital silence so far, Hotline's voice detector also wants a first
// sound's level to vary before it calls it speech (see media.VAD): that
// held rms' "opening hours" back 60 ms, and its greeting barge-in took
// 147 ms on the wire instead of about 85.
func addLineNoise(pcm []int16) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i, v := range pcm {
		pcm[i] = int16(max(-32768, min(32767, float64(v)+30*rng.NormFloat64())))
	}
}

// fliteSay speaks text with the flite command-line synthesizer's voice into
// the WAV file path and returns it at 8 kHz.
func fliteSay(path, voice, text string) ([]int16, error) {
	if out, err := exec.Command("flite", "-voice", voice, "-t", text, "-o", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("flite -voice %s %q: %v: %s", voice, text, err, out)
	}
	return media.LoadWAVFile(path, rate)
}

// spokenChoice is the menu choice a phrase of the test's grammar makes.
func spokenChoice(text string) string {
	switch text {
	case "repeat", "repeat the greeting", "one":
		return "greeting"
	case "main menu", "help":
		return "menu"
	case "goodbye", "that is all":
		return "goodbye"
	}
	if spokenAnswer(text) != "" {
		return "answer"
	}
	return "(not in the test's grammar)"
}

// spokenAnswer is what Hotline says to one of spokenAnswers' phrases, or "".
func spokenAnswer(text string) string {
	for _, a := range spokenAnswers {
		if slices.Contains(a.phrases, text) {
			return a.say
		}
	}
	return ""
}

// alignPhrases pairs what was said with what was heard, in order, by their
// longest common subsequence: a phrase not heard, or heard as another one,
// or an utterance heard that nobody said leaves the rest in step. It
// returns the index pairs (said, heard) of the phrases heard right.
func alignPhrases(said, heard []string) [][2]int {
	// lcs[i][j] is the alignment's length for said[i:] and heard[j:].
	lcs := make([][]int, len(said)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(heard)+1)
	}
	for i := len(said) - 1; i >= 0; i-- {
		for j := len(heard) - 1; j >= 0; j-- {
			if said[i] == heard[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var pairs [][2]int
	for i, j := 0, 0; i < len(said) && j < len(heard); {
		switch {
		case said[i] == heard[j]:
			pairs = append(pairs, [2]int{i, j})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			i++
		default:
			j++
		}
	}
	return pairs
}

// readTranscript reads a call's transcript, one JSON object a line.
func readTranscript(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("transcript: %v", err)
	}
	var turns []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var turn map[string]any
		if err := json.Unmarshal(sc.Bytes(), &turn); err != nil {
			t.Fatalf("transcript %s: %v in %q", path, err, sc.Text())
		}
		turns = append(turns, turn)
	}
	return turns
}

// TestSpeechHelpers checks the measures TestSIPpSpokenPhrases relies on,
// on made-up audio: the pcap the caller replays, the onsets found in it,
// where a prompt stopped, and the alignment of what was said and heard.
func TestSpeechHelpers(t *testing.T) {
	t.Parallel()
	tone := func(secs float64) []int16 {
		return media.PCMU.Decode(nil, media.PCMU.Encode(nil, audiotest.Tone(rate, 440, 0.3, sec(secs))))
	}
	var timeline []int16
	for _, at := range []float64{0.5, 2, 2.6} {
		timeline = append(timeline, make([]int16, sec(at)-len(timeline))...)
		timeline = append(timeline, tone(0.3)...)
	}
	path := filepath.Join(t.TempDir(), "x.pcap")
	writeRTPPcap(t, path, timeline)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkts, err := pcapfile.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(timeline) + 159) / 160; len(pkts) != want {
		t.Fatalf("%d packets, want %d", len(pkts), want)
	}
	frames := rtpFrames(pkts, pkts[0].Src, pkts[0].Dst)
	audio, _ := rtpAudio(t, pkts, pkts[0].Src, pkts[0].Dst)
	if !slices.Equal(audio, timeline[:len(audio)]) || len(audio) != len(pkts)*160 {
		t.Errorf("the pcap's audio differs from the timeline written")
	}
	t0 := frames[0].Time
	loud := loudTimes(frames, onsetDBFS)
	if len(loud) != 45 { // three tones of 15 frames
		t.Errorf("%d loud frames, want 45", len(loud))
	}
	var at []time.Duration
	for _, on := range speechOnsets(loud, 500*time.Millisecond) {
		at = append(at, on.Sub(t0))
	}
	// The third tone starts 300 ms after the second ends: the same speech.
	if want := []time.Duration{500 * time.Millisecond, 2 * time.Second}; !slices.Equal(at, want) {
		t.Errorf("onsets at %v, want %v", at, want)
	}

	// As a prompt: sound at 0.5-0.8 s, 2-2.3 s and 2.6-2.9 s (the last
	// frames start 20 ms before those ends).
	for _, c := range []struct {
		at      time.Duration
		stop    time.Duration
		playing bool
	}{
		{600 * time.Millisecond, 780 * time.Millisecond, true},
		{2100 * time.Millisecond, 2880 * time.Millisecond, true}, // bridges the 300 ms pause
		{1500 * time.Millisecond, 0, false},
		{3300 * time.Millisecond, 0, false},
		{3200 * time.Millisecond, 2880 * time.Millisecond, true}, // a pause in the prompt
		{400 * time.Millisecond, 0, false},                       // it starts after the onset
	} {
		stop, playing := promptStop(loud, t0.Add(c.at), 350*time.Millisecond)
		if playing != c.playing || playing && stop.Sub(t0) != c.stop {
			t.Errorf("prompt at %v: stop %v playing %v, want %v %v", c.at, stop.Sub(t0), playing, c.stop, c.playing)
		}
	}

	for _, c := range []struct {
		said, heard []string
		want        [][2]int
	}{
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, [][2]int{{0, 0}, {1, 1}, {2, 2}}},
		{[]string{"a", "b", "c"}, []string{"a", "", "c"}, [][2]int{{0, 0}, {2, 2}}},
		{[]string{"a", "b", "c"}, []string{"a", "c"}, [][2]int{{0, 0}, {2, 1}}},
		{[]string{"a", "b", "c"}, []string{"x", "a", "b", "y", "c"}, [][2]int{{0, 1}, {1, 2}, {2, 4}}},
		{[]string{"a", "b", "a"}, []string{"b", "a"}, [][2]int{{1, 0}, {2, 1}}},
		{[]string{"a"}, nil, nil},
	} {
		if got := alignPhrases(c.said, c.heard); !slices.Equal(got, c.want) {
			t.Errorf("alignPhrases(%q, %q) = %v, want %v", c.said, c.heard, got, c.want)
		}
	}
}
