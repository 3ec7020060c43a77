// Package metrics is Hotline's Prometheus instrumentation: calls, SIP
// responses, RTP quality, speech and language model latency, the turn
// latency the caller feels, queues and agents.
//
// Every Metrics has a registry of its own rather than the process-wide
// default, so that tests (and several servers in one process) each get
// clean counters. The methods take plain Go values (a time.Duration, a SIP
// code) and keep the label values bounded: an unknown disposition or an
// impossible SIP code is counted as "other" instead of growing a new series,
// since a time series per stray value would swell every scrape.
//
// A nil *Metrics records nothing, so a package can take one as an optional
// dependency and its tests can pass nil.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "hotline"

// Buckets. Voice latencies matter from tens of milliseconds (a caller
// notices 300 ms of extra silence) up to seconds (a caller who waits 3 s
// thinks the line is dead).
var (
	// LatencyBuckets (seconds): speech recognition, synthesis, the language
	// model and the turn latency.
	LatencyBuckets = []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10}
	// JitterBuckets (milliseconds): RFC 3550 interarrival jitter; past 50 ms
	// a 60 ms jitter buffer starts to conceal.
	JitterBuckets = []float64{1, 2, 5, 10, 20, 30, 50, 80, 120, 200}
	// WaitBuckets (seconds): time in a queue before an agent answers.
	WaitBuckets = []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800}
)

// Dispositions are the label values of hotline_calls_total, the ways a call
// can end (the store's dispositions). Any other value is counted as
// "other".
var Dispositions = []string{
	"completed", "abandoned", "transferred", "message", "callback",
	"failed", "rejected", "interrupted",
}

// otherLabel stands for a label value outside the known set.
const otherLabel = "other"

// maxLabel caps free label values (provider, queue, agent state): they come
// from configuration, but a misconfiguration must not turn into huge series
// names.
const maxLabel = 64

// Metrics holds Hotline's collectors on a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	callsActive   prometheus.Gauge
	callsAnswered prometheus.Counter
	calls         *prometheus.CounterVec // disposition
	sipResponses  *prometheus.CounterVec // code
	rtpLost       prometheus.Counter
	rtpJitter     prometheus.Histogram
	lateFrames    prometheus.Counter
	asrLatency    *prometheus.HistogramVec // provider
	ttsLatency    *prometheus.HistogramVec // provider
	llmLatency    *prometheus.HistogramVec // provider
	turnLatency   prometheus.Histogram
	bargeIns      prometheus.Counter
	queueLength   *prometheus.GaugeVec     // queue
	queueWait     *prometheus.HistogramVec // queue
	agents        *prometheus.GaugeVec     // state
	crisis        prometheus.Counter
	transfers     *prometheus.CounterVec // queue
	campaignCalls *prometheus.CounterVec // outcome
	clusterNodes  prometheus.Gauge
	nodesReaped   prometheus.Counter
}

// New returns a Metrics on a new registry, with the Go runtime and process
// collectors beside Hotline's own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}

	m.callsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "calls_active",
		Help: "Calls in progress on this node.",
	})
	// Answered is its own counter, not a disposition: every answered call
	// also ends with one, and sum(hotline_calls_total) must count each call
	// once.
	m.callsAnswered = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "calls_answered_total",
		Help: "Calls answered.",
	})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "calls_total",
		Help: "Calls ended, by disposition.",
	}, []string{"disposition"})
	m.sipResponses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sip_responses_total",
		Help: "SIP responses sent, by status code.",
	}, []string{"code"})
	m.rtpLost = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rtp_packets_lost_total",
		Help: "RTP packets expected but never received.",
	})
	m.rtpJitter = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "rtp_jitter_milliseconds",
		Help:    "RTP interarrival jitter (RFC 3550) as measured on received streams.",
		Buckets: JitterBuckets,
	})
	m.lateFrames = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "rtp_late_frames_total",
		Help: "Audio frames that arrived after their playout time and were concealed.",
	})
	latency := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: name, Help: help, Buckets: LatencyBuckets,
		}, []string{"provider"})
	}
	m.asrLatency = latency("asr_latency_seconds", "From the end of the caller's speech to the final transcript.")
	m.ttsLatency = latency("tts_latency_seconds", "From a synthesis request to its first audio.")
	m.llmLatency = latency("llm_latency_seconds", "From a language model request to the first sentence of its reply.")
	m.turnLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "turn_latency_seconds",
		Help:    "From the end of the caller's speech to the first audio of Hotline's reply: the silence the caller hears.",
		Buckets: LatencyBuckets,
	})
	m.bargeIns = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "barge_ins_total",
		Help: "Prompts the caller interrupted by speaking or pressing a key.",
	})
	m.queueLength = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "queue_length",
		Help: "Callers waiting in a queue.",
	}, []string{"queue"})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "queue_wait_seconds",
		Help:    "Time callers waited in a queue before an agent answered or they left.",
		Buckets: WaitBuckets,
	}, []string{"queue"})
	m.agents = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "agents",
		Help: "Agents by state.",
	}, []string{"state"})
	m.crisis = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "crisis_escalations_total",
		Help: "Calls escalated by a crisis guardrail.",
	})
	m.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "transfers_total",
		Help: "Calls handed to a queue, by queue.",
	}, []string{"queue"})

	m.campaignCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "campaign_attempts_total",
		Help: "Outbound campaign calls placed, by outcome (answered, busy, no_answer, failed, opted_out, booked, transferred, machine).",
	}, []string{"outcome"})
	m.clusterNodes = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "cluster_nodes",
		Help: "Nodes of the cluster with a current heartbeat, this one included, as this node last read them.",
	})
	m.nodesReaped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "cluster_nodes_reaped_total",
		Help: "Dead nodes (stale heartbeat) whose open calls this node closed.",
	})
	for _, c := range []prometheus.Collector{
		m.callsActive, m.callsAnswered, m.calls, m.sipResponses, m.rtpLost, m.rtpJitter, m.lateFrames,
		m.asrLatency, m.ttsLatency, m.llmLatency, m.turnLatency, m.bargeIns, m.queueLength, m.queueWait,
		m.agents, m.crisis, m.transfers, m.campaignCalls, m.clusterNodes, m.nodesReaped,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		m.reg.MustRegister(c)
	}
	// Every disposition is exported from the start at 0, so that rate()
	// and alerts see a series before its first call.
	for _, d := range Dispositions {
		m.calls.WithLabelValues(d)
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition formats, at
// whatever path it is mounted (conventionally /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// CallStarted counts a call in progress.
func (m *Metrics) CallStarted() {
	if m == nil {
		return
	}
	m.callsActive.Inc()
}

// CallAnswered counts an answered call.
func (m *Metrics) CallAnswered() {
	if m == nil {
		return
	}
	m.callsAnswered.Inc()
}

// CallEnded counts a call that CallStarted counted as ended with the
// disposition (one of Dispositions).
func (m *Metrics) CallEnded(disposition string) {
	if m == nil {
		return
	}
	m.callsActive.Dec()
	m.calls.WithLabelValues(known(disposition, Dispositions)).Inc()
}

// SIPResponse counts a SIP response sent with the status code.
func (m *Metrics) SIPResponse(code int) {
	if m == nil {
		return
	}
	l := otherLabel
	if code >= 100 && code <= 699 {
		l = strconv.Itoa(code)
	}
	m.sipResponses.WithLabelValues(l).Inc()
}

// RTPPacketsLost adds n packets lost on a received stream.
func (m *Metrics) RTPPacketsLost(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.rtpLost.Add(float64(n))
}

// RTPJitter observes a stream's interarrival jitter.
func (m *Metrics) RTPJitter(d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.rtpJitter.Observe(float64(d) / float64(time.Millisecond))
}

// LateFrame counts a frame concealed because it came too late.
func (m *Metrics) LateFrame() {
	if m == nil {
		return
	}
	m.lateFrames.Inc()
}

// ASRLatency observes a recognizer's latency.
func (m *Metrics) ASRLatency(provider string, d time.Duration) {
	if m == nil {
		return
	}
	observe(m.asrLatency.WithLabelValues(label(provider)), d)
}

// TTSLatency observes a synthesizer's time to first audio.
func (m *Metrics) TTSLatency(provider string, d time.Duration) {
	if m == nil {
		return
	}
	observe(m.ttsLatency.WithLabelValues(label(provider)), d)
}

// LLMLatency observes a language model's time to the first sentence.
func (m *Metrics) LLMLatency(provider string, d time.Duration) {
	if m == nil {
		return
	}
	observe(m.llmLatency.WithLabelValues(label(provider)), d)
}

// TurnLatency observes the silence between the end of the caller's speech
// and the first audio of Hotline's reply.
func (m *Metrics) TurnLatency(d time.Duration) {
	if m == nil {
		return
	}
	observe(m.turnLatency, d)
}

// BargeIn counts a prompt the caller interrupted.
func (m *Metrics) BargeIn() {
	if m == nil {
		return
	}
	m.bargeIns.Inc()
}

// QueueLength sets how many callers wait in the queue.
func (m *Metrics) QueueLength(queue string, n int) {
	if m == nil {
		return
	}
	m.queueLength.WithLabelValues(label(queue)).Set(float64(n))
}

// QueueWait observes how long a caller waited in the queue.
func (m *Metrics) QueueWait(queue string, d time.Duration) {
	if m == nil {
		return
	}
	observe(m.queueWait.WithLabelValues(label(queue)), d)
}

// Agents sets how many agents are in the state (available, busy, ...).
func (m *Metrics) Agents(state string, n int) {
	if m == nil {
		return
	}
	m.agents.WithLabelValues(label(state)).Set(float64(n))
}

// CrisisEscalation counts a call a crisis guardrail escalated.
func (m *Metrics) CrisisEscalation() {
	if m == nil {
		return
	}
	m.crisis.Inc()
}

// Transfer counts a call handed to the queue.
func (m *Metrics) Transfer(queue string) {
	if m == nil {
		return
	}
	m.transfers.WithLabelValues(label(queue)).Inc()
}

// CampaignAttempt counts an outbound campaign call by its outcome.
func (m *Metrics) CampaignAttempt(outcome string) {
	if m == nil {
		return
	}
	m.campaignCalls.WithLabelValues(label(outcome)).Inc()
}

// ClusterNodes sets how many nodes of the cluster are alive.
func (m *Metrics) ClusterNodes(n int) {
	if m == nil {
		return
	}
	m.clusterNodes.Set(float64(n))
}

// NodeReaped counts a dead node whose calls this node closed.
func (m *Metrics) NodeReaped() {
	if m == nil {
		return
	}
	m.nodesReaped.Inc()
}

func observe(o prometheus.Observer, d time.Duration) {
	if d < 0 {
		return
	}
	o.Observe(d.Seconds())
}

// known returns v when it is one of set, else "other".
func known(v string, set []string) string {
	for _, s := range set {
		if v == s {
			return v
		}
	}
	return otherLabel
}

// label makes a configured name a label value: empty is "unknown", invalid
// UTF-8 (on which client_golang panics) is repaired, and a name too long
// for a label is cut on a rune boundary.
func label(v string) string {
	if v == "" {
		return "unknown"
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	if len(v) <= maxLabel {
		return v
	}
	n := maxLabel
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}
