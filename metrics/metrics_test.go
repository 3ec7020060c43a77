package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape fetches the handler's text exposition over a real loopback HTTP
// server and parses it.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// find returns the family's metric whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v: no such series", name, want)
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(t, fams, name, labels)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is not a counter or gauge", name)
	return 0
}

func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	h := find(t, fams, name, labels).Histogram
	if h == nil {
		t.Fatalf("%s is not a histogram", name)
	}
	return h
}

// bucket is the cumulative count at the upper bound le.
func bucket(t *testing.T, h *dto.Histogram, le float64) uint64 {
	t.Helper()
	for _, b := range h.Bucket {
		if b.GetUpperBound() == le {
			return b.GetCumulativeCount()
		}
	}
	t.Fatalf("no bucket le=%v", le)
	return 0
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScrape(t *testing.T) {
	m := New()
	for range 3 {
		m.CallStarted()
	}
	m.CallAnswered()
	m.CallAnswered()
	m.CallEnded("completed")
	m.CallEnded("no such disposition")
	for _, code := range []int{100, 180, 200, 200, 486, 42} {
		m.SIPResponse(code)
	}
	m.RTPPacketsLost(7)
	m.RTPPacketsLost(-3) // ignored
	m.RTPJitter(4 * time.Millisecond)
	m.RTPJitter(150 * time.Millisecond)
	m.LateFrame()
	m.ASRLatency("pocketsphinx", 120*time.Millisecond)
	m.ASRLatency("openai", 800*time.Millisecond)
	m.TTSLatency("flite", 40*time.Millisecond)
	m.LLMLatency("openai", 1200*time.Millisecond)
	m.TurnLatency(900 * time.Millisecond)
	m.TurnLatency(-time.Second) // ignored
	m.BargeIn()
	m.BargeIn()
	m.QueueLength("billing", 4)
	m.QueueLength("billing", 2)
	m.QueueWait("billing", 45*time.Second)
	m.Agents("available", 3)
	m.Agents("busy", 5)
	m.CrisisEscalation()
	m.Transfer("billing")
	m.Transfer("")
	m.ClusterNodes(3)
	m.NodeReaped()

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hotline_calls_active", nil, 1},
		{"hotline_calls_answered_total", nil, 2},
		{"hotline_calls_total", map[string]string{"disposition": "completed"}, 1},
		{"hotline_calls_total", map[string]string{"disposition": "other"}, 1},
		{"hotline_calls_total", map[string]string{"disposition": "abandoned"}, 0}, // exported before its first call
		{"hotline_sip_responses_total", map[string]string{"code": "200"}, 2},
		{"hotline_sip_responses_total", map[string]string{"code": "486"}, 1},
		{"hotline_sip_responses_total", map[string]string{"code": "other"}, 1},
		{"hotline_rtp_packets_lost_total", nil, 7},
		{"hotline_rtp_late_frames_total", nil, 1},
		{"hotline_barge_ins_total", nil, 2},
		{"hotline_queue_length", map[string]string{"queue": "billing"}, 2},
		{"hotline_agents", map[string]string{"state": "available"}, 3},
		{"hotline_agents", map[string]string{"state": "busy"}, 5},
		{"hotline_crisis_escalations_total", nil, 1},
		{"hotline_transfers_total", map[string]string{"queue": "billing"}, 1},
		{"hotline_transfers_total", map[string]string{"queue": "unknown"}, 1},
		{"hotline_cluster_nodes", nil, 3},
		{"hotline_cluster_nodes_reaped_total", nil, 1},
	} {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	j := histogram(t, fams, "hotline_rtp_jitter_milliseconds", nil)
	if j.GetSampleCount() != 2 || !near(j.GetSampleSum(), 154) {
		t.Errorf("jitter: count %d sum %v, want 2 and 154 ms", j.GetSampleCount(), j.GetSampleSum())
	}
	if bucket(t, j, 5) != 1 || bucket(t, j, 200) != 2 {
		t.Errorf("jitter buckets: le=5 %d le=200 %d, want 1 and 2", bucket(t, j, 5), bucket(t, j, 200))
	}
	asr := histogram(t, fams, "hotline_asr_latency_seconds", map[string]string{"provider": "openai"})
	if asr.GetSampleCount() != 1 || !near(asr.GetSampleSum(), 0.8) || bucket(t, asr, 0.5) != 0 || bucket(t, asr, 1) != 1 {
		t.Errorf("asr openai: count %d sum %v", asr.GetSampleCount(), asr.GetSampleSum())
	}
	if h := histogram(t, fams, "hotline_asr_latency_seconds", map[string]string{"provider": "pocketsphinx"}); !near(h.GetSampleSum(), 0.12) {
		t.Errorf("asr pocketsphinx sum %v, want 0.12", h.GetSampleSum())
	}
	if h := histogram(t, fams, "hotline_tts_latency_seconds", map[string]string{"provider": "flite"}); bucket(t, h, 0.05) != 1 {
		t.Errorf("tts flite: 40 ms not in the 50 ms bucket")
	}
	if h := histogram(t, fams, "hotline_llm_latency_seconds", map[string]string{"provider": "openai"}); !near(h.GetSampleSum(), 1.2) {
		t.Errorf("llm sum %v, want 1.2", h.GetSampleSum())
	}
	turn := histogram(t, fams, "hotline_turn_latency_seconds", nil)
	if turn.GetSampleCount() != 1 || bucket(t, turn, 0.75) != 0 || bucket(t, turn, 1) != 1 || bucket(t, turn, 10) != 1 {
		t.Errorf("turn latency: count %d", turn.GetSampleCount())
	}
	if h := histogram(t, fams, "hotline_queue_wait_seconds", map[string]string{"queue": "billing"}); bucket(t, h, 30) != 0 || bucket(t, h, 60) != 1 {
		t.Errorf("queue wait: 45 s in the wrong bucket")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// Registries are independent: one Metrics' counts never show in another's.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	a.BargeIn()
	if got := value(t, scrape(t, b), "hotline_barge_ins_total", nil); got != 0 {
		t.Errorf("second registry counts %v barge-ins, want 0", got)
	}
}

// Label values stay bounded and valid whatever the caller passes.
func TestLabels(t *testing.T) {
	m := New()
	long := strings.Repeat("é", 100)
	m.ASRLatency(long, time.Second)
	m.QueueLength("bad\xffname", 1)
	fams := scrape(t, m)
	h := fams["hotline_asr_latency_seconds"].Metric[0]
	if v := h.Label[0].GetValue(); len(v) > maxLabel || !strings.HasPrefix(long, v) {
		t.Errorf("provider label %q: want a prefix of at most %d bytes", v, maxLabel)
	}
	if got := value(t, fams, "hotline_queue_length", map[string]string{"queue": "bad\uFFFDname"}); got != 1 {
		t.Errorf("repaired queue label = %v", got)
	}
}

// A nil *Metrics is a no-op, so callers need no checks.
func TestNil(t *testing.T) {
	var m *Metrics
	m.CallStarted()
	m.CallAnswered()
	m.CallEnded("completed")
	m.SIPResponse(200)
	m.RTPPacketsLost(1)
	m.RTPJitter(time.Millisecond)
	m.LateFrame()
	m.ASRLatency("x", time.Second)
	m.TTSLatency("x", time.Second)
	m.LLMLatency("x", time.Second)
	m.TurnLatency(time.Second)
	m.BargeIn()
	m.QueueLength("q", 1)
	m.QueueWait("q", time.Second)
	m.Agents("busy", 1)
	m.CrisisEscalation()
	m.Transfer("q")
	m.ClusterNodes(1)
	m.NodeReaped()
}

func BenchmarkObserve(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ASRLatency("pocketsphinx", 300*time.Millisecond)
	}
}
