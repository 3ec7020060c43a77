package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Fixed latencies of the providers the turn-latency harness fakes: what is
// left of a turn's latency after them and the end-of-turn silence is
// Hotline's own.
const (
	asrDelay   = 100 * time.Millisecond
	llmDelay   = 150 * time.Millisecond
	ttsDelay   = 50 * time.Millisecond
	endSilence = 600 * time.Millisecond
)

// TestTurnLatency measures, on the wire, the time from the caller's last
// voiced packet to Hotline's first reply packet, over a call of many
// turns, with speech providers of fixed latency on an OpenAI-compatible
// test server, and reports what Hotline adds beyond the end-of-turn
// silence and the providers. It is a benchmark, not a check: it runs with
// HOTLINE_BENCH=1 (bench/turn-latency.sh) and asserts nothing about time.
func TestTurnLatency(t *testing.T) {
	if os.Getenv("HOTLINE_BENCH") == "" {
		t.Skip("a benchmark: run with HOTLINE_BENCH=1 (bench/turn-latency.sh)")
	}
	needRoot(t)
	need(t, "flite")
	var phrases []string
	for range 4 {
		phrases = append(phrases, "what are your opening hours", "what are the fees for my account",
			"how do i reset my pin", "i lost my card")
	}
	starts := make([]time.Duration, len(phrases))
	for i := range starts {
		starts[i] = 4*time.Second + time.Duration(i)*6*time.Second
	}
	for _, brain := range []string{"rules", "llm"} {
		t.Run(brain, func(t *testing.T) {
			t.Parallel()
			srv := newFixedProviders(t, phrases)
			cfg := fmt.Sprintf(`dialog: {brain: %s}
asr: {provider: openai, openai: {base_url: %q, timeout: 2s}}
tts: {provider: openai, cache_dir: "", cache_memory_mb: 0, openai: {base_url: %q, format: pcm}}
llm: {base_url: %q, model: fixed}
ivr: {end_silence: %s}`, brain, srv.URL, srv.URL, srv.URL, endSilence)
			n := startHotline(t, "", cfg)
			c := startSpokenCall(t, n, "slt", phrases, starts)
			sr := c.sipp.wait(t)
			pkts := c.capt.stop(t)
			sr.expectSuccess(t)
			answered := n.logs.must(t, "call answered", map[string]any{"call_id": sr.CallID}, 5*time.Second)

			hotline := mustAddrPort(t, answered["local_rtp"])
			caller := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sr.Media))
			callerLoud := loudTimes(rtpFrames(pkts, caller, hotline), onsetDBFS)
			hotlineLoud := loudTimes(rtpFrames(pkts, hotline, caller), promptDBFS)
			providers := asrDelay + ttsDelay
			if brain == "llm" {
				providers += llmDelay
			}
			onsets := speechOnsets(callerLoud, 500*time.Millisecond)
			var added []time.Duration
			for _, d := range responseTimes(callerLoud, hotlineLoud, onsets) {
				added = append(added, d-endSilence-providers)
			}
			var afterVoice []time.Duration
			for _, d := range logStages(t, n, sr.CallID, callerLoud, hotlineLoud, onsets) {
				afterVoice = append(afterVoice, d-endSilence-providers)
			}
			if len(added) < len(phrases)*9/10 {
				t.Fatalf("measured %d turns of %d", len(added), len(phrases))
			}
			t.Logf("%s brain, %d turns; providers %v (ASR %v, LLM %v, TTS %v), end-of-turn silence %v",
				brain, len(added), providers, asrDelay, map[bool]time.Duration{true: llmDelay}[brain == "llm"], ttsDelay, endSilence)
			t.Logf("Hotline's added latency from the caller's last loud packet: %s", distribution(added))
			t.Logf("Hotline's added latency from the last voice its detector heard: %s", distribution(afterVoice))
		})
	}
}

// distribution is a sample's min, p50, p95, max and every value.
func distribution(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no turns"
	}
	ds = slices.Clone(ds)
	for i := range ds {
		ds[i] = ds[i].Round(100 * time.Microsecond)
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[int(math.Ceil(p*float64(len(ds))))-1] }
	return fmt.Sprintf("min %v, p50 %v, p95 %v, max %v; all %v", ds[0], q(0.5), q(0.95), ds[len(ds)-1], ds)
}

// logStages splits each turn's latency by Hotline's log: from the
// caller's last loud packet to the last voice Hotline heard (jitter buffer
// and voice detection), from there to the transcript (end-of-turn silence
// and recognition), from the transcript to the first reply audio ready
// (the brain and the synthesizer's first audio), and from there to the
// wire (the send queue and the frame clock). It logs each stage's median
// and returns, per turn, the time from the last voice Hotline heard to its
// first reply packet.
func logStages(t *testing.T, n *node, callID string, callerLoud, hotlineLoud, onsets []time.Time) []time.Duration {
	call := map[string]any{"call_id": callID}
	heard, said := n.logs.find("caller said", call), n.logs.find("hotline said", call)
	if len(said) > 0 {
		said = said[1:] // the greeting
	}
	var inbound, turnEnd, reply, outbound, fromVoice []time.Duration
	for k := range onsets {
		if k >= len(heard) || k >= len(said) {
			break
		}
		next := len(callerLoud)
		if k+1 < len(onsets) {
			next, _ = slices.BinarySearchFunc(callerLoud, onsets[k+1], time.Time.Compare)
		}
		wireEnd := callerLoud[next-1]
		transcript := logTime(t, heard[k])
		lastVoice := transcript.Add(-time.Duration(heard[k]["latency_ms"].(float64)) * time.Millisecond)
		ready := logTime(t, said[k])
		i, _ := slices.BinarySearchFunc(hotlineLoud, ready, time.Time.Compare)
		if i == len(hotlineLoud) {
			break
		}
		inbound = append(inbound, lastVoice.Sub(wireEnd))
		turnEnd = append(turnEnd, transcript.Sub(lastVoice))
		reply = append(reply, ready.Sub(transcript))
		outbound = append(outbound, hotlineLoud[i].Sub(ready))
		fromVoice = append(fromVoice, hotlineLoud[i].Sub(lastVoice))
	}
	median := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2].Round(time.Millisecond)
	}
	t.Logf("%s stages (median of %d turns): last packet → last voice heard %v; → transcript %v (end-of-turn silence and ASR); → reply audio ready %v (brain, TTS first audio); → on the wire %v",
		n.logs.find("dialog", nil)[0]["brain"], len(inbound), median(inbound), median(turnEnd), median(reply), median(outbound))
	return fromVoice
}

// responseTimes is, for each of the caller's phrases (starting at onsets),
// the time from its last loud packet to Hotline's first loud packet after
// it.
func responseTimes(callerLoud, hotlineLoud, onsets []time.Time) []time.Duration {
	var out []time.Duration
	for k := range onsets {
		next := len(callerLoud)
		if k+1 < len(onsets) {
			next, _ = slices.BinarySearchFunc(callerLoud, onsets[k+1], time.Time.Compare)
		}
		end := callerLoud[next-1]
		if i, _ := slices.BinarySearchFunc(hotlineLoud, end, time.Time.Compare); i < len(hotlineLoud) {
			out = append(out, hotlineLoud[i].Sub(end).Round(time.Millisecond))
		}
	}
	return out
}

// newFixedProviders is an OpenAI-compatible server whose transcription,
// chat and speech each answer after a fixed delay: the k-th transcription
// is phrases[k], chat answers with one sentence, speech is a second of a
// voice-like tone at 24 kHz.
func newFixedProviders(t *testing.T, phrases []string) *httptest.Server {
	var heard, replies atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /audio/transcriptions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(asrDelay)
		k := int(heard.Add(1)) - 1
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"text": phrases[k%len(phrases)]})
	})
	mux.HandleFunc("POST /chat/completions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(llmDelay)
		k := replies.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, delta := range []string{
			fmt.Sprintf(`{"role":"assistant","content":"Here is answer number %d."}`, k), `{}`,
		} {
			finish := "null"
			if delta == `{}` {
				finish = `"stop"`
			}
			fmt.Fprintf(w, "data: {\"id\":\"c%d\",\"object\":\"chat.completion.chunk\",\"model\":\"fixed\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n", k, delta, finish)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	mux.HandleFunc("POST /audio/speech", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(ttsDelay)
		pcm := make([]byte, 2*24000)
		for i := range 24000 {
			s := 0.0
			for h := 1; h <= 5; h++ {
				s += math.Sin(2*math.Pi*float64(150*h)*float64(i)/24000) / float64(h)
			}
			binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(6000*s)))
		}
		w.Header().Set("Content-Type", "audio/pcm")
		w.Write(pcm)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
