package ivr

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/tts"
)

// Test tones: what the caller hears while waiting, an announcement, the
// agent's voice and the caller's.
const (
	holdHz     = 350
	announceHz = 450
	agentHz    = 650
	callerHz   = 1700
)

// toneTTS speaks every text as a second of announceHz.
type toneTTS struct{}

func (toneTTS) Name() string { return "tone" }

func (toneTTS) Synthesize(_ context.Context, _ string, rate int) (tts.Stream, error) {
	return &toneStream{pcm: audiotest.Tone(rate, announceHz, 0.3, rate)}, nil
}

type toneStream struct{ pcm []int16 }

func (s *toneStream) Read(context.Context) ([]int16, error) {
	if len(s.pcm) == 0 {
		return nil, io.EOF
	}
	n := min(160, len(s.pcm))
	out := s.pcm[:n]
	s.pcm = s.pcm[n:]
	return out, nil
}

func (s *toneStream) Close() error { return nil }

// desk is the distributor and phones of the tests: a real ACD, and agents'
// phones that are pipes. An agent in declines rings and declines; the
// others answer at once and say agentHz.
type desk struct {
	*routing.ACD
	cfg      routing.Config
	declines map[string]bool

	mu     sync.Mutex
	rung   []string
	phones []*listener // what each answered agent heard
	wg     sync.WaitGroup
}

func newDesk(t *testing.T, cfg routing.Config, available ...string) *desk {
	t.Helper()
	acd, err := routing.New(cfg, routing.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(acd.Close)
	for _, a := range available {
		if err := acd.SetState(a, routing.Available, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the first is the longest idle
	}
	return &desk{ACD: acd, cfg: cfg, declines: map[string]bool{}}
}

func (d *desk) Queue(name string) (routing.QueueConfig, bool) {
	if q, ok := d.cfg.Queue(name); ok {
		return q, true
	}
	q, _ := d.cfg.Queue(d.cfg.Queues[0].Name)
	return q, false
}

func (d *desk) Ring(ctx context.Context, callID string, offer routing.Outcome, _ TransferTurn) (media.Leg, error) {
	d.mu.Lock()
	d.rung = append(d.rung, offer.Agent)
	d.mu.Unlock()
	if d.declines[offer.Agent] {
		time.Sleep(500 * time.Millisecond)
		if err := d.Reject(callID, offer.Agent); err != nil {
			return nil, err
		}
		return nil, errors.New("declined")
	}
	hotline, phone := media.NewPipe(context.WithoutCancel(ctx), rate)
	if err := d.Answer(callID, offer.Agent); err != nil {
		phone.Hangup(ctx)
		return nil, err
	}
	var l listener
	d.mu.Lock()
	d.phones = append(d.phones, &l)
	d.mu.Unlock()
	d.wg.Go(func() { l.run(context.Background(), phone) })
	d.wg.Go(func() {
		voice := audiotest.Tone(rate, agentHz, 0.3, seconds(30))
		n := media.FrameSamples(rate)
		for off := 0; off+n <= len(voice); off += n {
			if phone.WriteFrame(context.Background(), voice[off:off+n]) != nil {
				return
			}
		}
	})
	return hotline, nil
}

// queueCall is a caller's call transferred to the desk's queue.
type queueCall struct {
	caller *media.PipeLeg
	heard  *listener
	turns  chan Turn
	done   chan error
	msg    string
	// transfer is the agent's desktop transferring the call on.
	transfer chan string
}

func startQueueCall(t *testing.T, ctx context.Context, agents Agents, caller dialog.Profile, reason string) *queueCall {
	t.Helper()
	callerLeg, hotline := media.NewPipe(ctx, rate)
	p := tonePrompts()
	p.HoldMusic = audiotest.Tone(rate, holdHz, 0.1, seconds(2))
	cfg := DefaultConfig()
	cfg.MessageSilence = 500 * time.Millisecond
	m, err := New(cfg, p, Engines{TTS: toneTTS{}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	qc := &queueCall{caller: callerLeg, heard: &listener{}, turns: make(chan Turn, 100), done: make(chan error, 1),
		msg: filepath.Join(t.TempDir(), "msg.wav"), transfer: make(chan string, 1)}
	s := newSession(m, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler), MessagePath: qc.msg,
		OnTurn: func(t Turn) { qc.turns <- t }, Caller: caller, Agents: agents, Transfers: qc.transfer})
	go qc.heard.run(ctx, callerLeg)
	go func() {
		qc.done <- s.toQueue(ctx, TransferTurn{Queue: "general", Reason: reason, Summary: "wants a person"})
	}()
	return qc
}

func (qc *queueCall) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-qc.done:
		return err
	case <-time.After(5 * time.Minute):
		t.Fatal("the call did not leave the queue")
		return nil
	}
}

// transfers are the call's transfer turns so far.
func (qc *queueCall) transfers() []TransferTurn {
	var out []TransferTurn
	for {
		select {
		case t := <-qc.turns:
			if t.Transfer != nil {
				out = append(out, *t.Transfer)
			}
		default:
			return out
		}
	}
}

func every(d time.Duration) *time.Duration { return &d }

// The caller waits with music while the first agent's phone declines, then
// talks with the next agent who answers: each hears the other, and when
// the caller hangs up the agent's leg ends too and the agent wraps up.
func TestQueueConnectsTheCallerWithAnAgent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cfg := routing.DefaultConfig()
		cfg.Agents = []routing.AgentConfig{{ID: "bob"}, {ID: "alice"}}
		d := newDesk(t, cfg, "bob", "alice")
		d.declines["bob"] = true
		qc := startQueueCall(t, ctx, d, dialog.Profile{Number: "+15550100"}, "asked for a person")

		time.Sleep(400 * time.Millisecond) // bob's phone rings
		if n := qc.heard.heard(holdHz); n < 10 {
			t.Errorf("%d frames of hold music while bob's phone rang", n)
		}
		time.Sleep(2 * time.Second)
		if n := qc.heard.heard(agentHz); n < 50 {
			t.Fatalf("the caller heard %d frames of the agent", n)
		}
		speak(t, ctx, qc.caller, audiotest.Tone(rate, callerHz, 0.3, seconds(1)))
		time.Sleep(200 * time.Millisecond)
		d.mu.Lock()
		rung, phones := d.rung, d.phones
		d.mu.Unlock()
		if len(rung) != 2 || rung[0] != "bob" || rung[1] != "alice" || len(phones) != 1 {
			t.Fatalf("rang %v with %d answered, want bob then alice answering", rung, len(phones))
		}
		if n := phones[0].heard(callerHz); n < 40 {
			t.Errorf("the agent heard %d frames of the caller's second, want ≈50", n)
		}

		qc.caller.Hangup(ctx)
		if err := qc.wait(t); err != nil {
			t.Fatalf("toQueue: %v", err)
		}
		d.wg.Wait() // the agent's phone saw its leg end
		synctest.Wait()
		if st := d.Snapshot().Agents[1]; st.ID != "alice" || st.State != routing.WrapUp {
			t.Errorf("after the call alice is %v, want wrap_up", st.State)
		}
		tr := qc.transfers()
		if len(tr) != 2 || tr[0].Queue != "general" || tr[0].Agent != "" || tr[0].Class != "normal" ||
			tr[1].Agent != "alice" || tr[1].Queue != "general" {
			t.Errorf("transfer turns %+v, want the queue joined, then alice", tr)
		}
	})
}

// The agent who answered transfers the call on to another queue: their
// leg ends and they wrap up, and the caller is put through to an agent of
// that queue.
func TestAgentTransfersTheCallOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cfg := routing.DefaultConfig()
		cfg.Agents = []routing.AgentConfig{{ID: "alice"}, {ID: "bob"}}
		d := newDesk(t, cfg, "alice", "bob")
		qc := startQueueCall(t, ctx, d, dialog.Profile{Number: "+15550100"}, "asked for a person")

		time.Sleep(2 * time.Second)
		if n := qc.heard.heard(agentHz); n < 50 {
			t.Fatalf("the caller heard %d frames of alice", n)
		}
		qc.transfer <- "cards"
		time.Sleep(3 * time.Second)
		select {
		case err := <-qc.done:
			t.Fatalf("the call left the queue after the transfer: %v", err)
		default:
		}
		d.mu.Lock()
		rung := d.rung
		d.mu.Unlock()
		if len(rung) != 2 || rung[0] != "alice" || rung[1] != "bob" {
			t.Fatalf("rang %v, want alice, then bob for the cards queue", rung)
		}
		if st := d.Snapshot().Agents[0]; st.ID != "alice" || st.State != routing.WrapUp {
			t.Errorf("after her transfer alice is %v, want wrap_up", st.State)
		}
		qc.caller.Hangup(ctx)
		if err := qc.wait(t); err != nil {
			t.Fatalf("toQueue: %v", err)
		}
		d.wg.Wait()
		synctest.Wait()
		var got []string
		for _, tr := range qc.transfers() {
			got = append(got, tr.Queue+"/"+tr.Agent+"/"+tr.Reason)
		}
		want := []string{"general//asked for a person", "general/alice/asked for a person",
			"cards//transferred on by alice", "cards/bob/transferred on by alice"}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("transfer turns\n%q\nwant\n%q", got, want)
		}
	})
}

// Nobody answers: the caller hears the music and their place, and when the
// queue's max wait overflows to voicemail they leave a message.
func TestQueueOverflowsToVoicemail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cfg := routing.DefaultConfig()
		cfg.Agents = []routing.AgentConfig{{ID: "alice"}}
		cfg.Queues = []routing.QueueConfig{{Name: "general", MaxWait: 10 * time.Second, AnnounceEvery: every(4 * time.Second)}}
		d := newDesk(t, cfg) // alice is offline
		qc := startQueueCall(t, ctx, d, dialog.Profile{Number: "+15550100"}, "asked for a person")

		time.Sleep(9 * time.Second)
		if n := qc.heard.heard(holdHz); n < 200 {
			t.Errorf("%d frames of hold music in the wait", n)
		}
		if n := qc.heard.heard(announceHz); n < 80 {
			t.Errorf("%d frames of announcements, want two of a second each", n)
		}
		time.Sleep(9 * time.Second) // no-agent prompt and beep
		if n := qc.heard.heard(1400); n < 20 {
			t.Fatalf("the no-agent prompt: %d frames", n)
		}
		speak(t, ctx, qc.caller, audiotest.Tone(rate, callerHz, 0.3, seconds(1)))
		if err := qc.wait(t); err != nil {
			t.Fatalf("toQueue: %v", err)
		}
		if _, err := os.Stat(qc.msg); err != nil {
			t.Errorf("no message: %v", err)
		}
		var said []string
		for _, tr := range drain(qc.turns) {
			if tr.Speaker == "hotline" && tr.Text != "" {
				said = append(said, tr.Text)
			}
		}
		if len(said) != 2 || said[0] != "You are number 1 in the queue." {
			t.Errorf("announcements %q, want two, with no wait to expect while nobody is at work", said)
		}
	})
}

// A waiting caller presses 0 and leaves a message instead: the call leaves
// the queue.
func TestQueueKeyZeroLeavesAMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cfg := routing.DefaultConfig()
		cfg.Agents = []routing.AgentConfig{{ID: "alice"}}
		d := newDesk(t, cfg)
		qc := startQueueCall(t, ctx, d, dialog.Profile{}, "asked for a person")
		time.Sleep(time.Second)
		qc.caller.SendDigit('5') // not a choice: the music goes on
		time.Sleep(time.Second)
		qc.caller.SendDigit('0')
		time.Sleep(time.Second)
		synctest.Wait()
		if q := d.Snapshot().Queues[0]; q.Waiting+q.Ringing != 0 {
			t.Errorf("queue %+v after key 0, want the call gone", q)
		}
		if n := qc.heard.heard(800); n < 20 {
			t.Errorf("the record prompt: %d frames", n)
		}
		time.Sleep(time.Second)
		speak(t, ctx, qc.caller, audiotest.Tone(rate, callerHz, 0.3, seconds(1)))
		if err := qc.wait(t); err != nil {
			t.Fatalf("toQueue: %v", err)
		}
		if _, err := os.Stat(qc.msg); err != nil {
			t.Errorf("no message: %v", err)
		}
	})
}

// The overflow to callback takes the caller's own number with key 1.
func TestQueueOverflowsToCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		cfg := routing.DefaultConfig()
		cfg.Agents = []routing.AgentConfig{{ID: "alice"}}
		cfg.Queues = []routing.QueueConfig{{Name: "general", MaxWait: 5 * time.Second,
			Overflow: routing.OverflowConfig{Action: routing.OverflowCallback}}}
		d := newDesk(t, cfg)
		callerLeg, hotline := media.NewPipe(ctx, rate)
		m, err := New(DefaultConfig(), tonePrompts(), Engines{TTS: toneTTS{}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var number string
		s := newSession(m, Call{Leg: hotline, Log: slog.New(slog.DiscardHandler), Agents: d,
			Caller: dialog.Profile{Number: "+1 555 0100"}, OnCallback: func(n string) { number = n }})
		var l listener
		go l.run(ctx, callerLeg)
		done := make(chan error, 1)
		go func() { done <- s.toQueue(ctx, TransferTurn{Queue: "general"}) }()
		time.Sleep(5500 * time.Millisecond) // the offer is being spoken
		callerLeg.SendDigit('1')
		if err := <-done; err != nil {
			t.Fatalf("toQueue: %v", err)
		}
		if number != "15550100" {
			t.Errorf("callback number %q, want the caller's own", number)
		}
	})
}

func drain(ch chan Turn) []Turn {
	var out []Turn
	for {
		select {
		case t := <-ch:
			out = append(out, t)
		default:
			return out
		}
	}
}

func TestQueueClass(t *testing.T) {
	tracker := func(words ...string) *prosody.Tracker {
		tr := prosody.NewTracker(prosody.DefaultConfig())
		for _, w := range words {
			tr.Observe(prosody.Utterance{Rate: rate, PCM: make([]int16, seconds(1)), Text: w})
		}
		return tr
	}
	for _, tc := range []struct {
		name   string
		reason string
		caller dialog.Profile
		emo    *prosody.Tracker
		want   routing.Class
	}{
		{"ordinary", "asked for a person", dialog.Profile{}, nil, routing.Normal},
		{"crisis", "crisis: the caller may be at risk of harming themselves", dialog.Profile{Tier: "gold"}, nil, routing.Crisis},
		{"vip", "asked for a person", dialog.Profile{Tier: "gold"}, nil, routing.VIP},
		{"angry", "asked for a person", dialog.Profile{}, tracker("this is outrageous, I am furious and fed up"), routing.Escalated},
		{"calm again", "asked for a person", dialog.Profile{}, tracker("this is outrageous, I am furious and fed up", "thank you, that is fine"), routing.Normal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{c: Call{Caller: tc.caller, Emotion: tc.emo}}
			if got := s.class(tc.reason); got != tc.want {
				var last prosody.Label
				if tc.emo != nil {
					cues := tc.emo.Cues()
					last = cues[len(cues)-1].Label
				}
				t.Errorf("class %v, want %v (last cue %v)", got, tc.want, last)
			}
		})
	}
}

func TestPositionText(t *testing.T) {
	for _, tc := range []struct {
		p    routing.Position
		want string
	}{
		{routing.Position{Place: 2, Staffed: 1, Estimated: 70 * time.Second}, "You are number 2 in the queue. The expected wait is about one minute."},
		{routing.Position{Place: 1, Staffed: 2, Estimated: 20 * time.Second}, "You are number 1 in the queue. The expected wait is less than a minute."},
		{routing.Position{Place: 5, Staffed: 1, Estimated: 15 * time.Minute}, "You are number 5 in the queue. The expected wait is about 15 minutes."},
		{routing.Position{Place: 3}, "You are number 3 in the queue."},
	} {
		if got := positionText(tc.p); got != tc.want {
			t.Errorf("positionText(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestHoldMusicShipped(t *testing.T) {
	pcm, err := LoadHoldMusic("", rate)
	if err != nil {
		t.Fatal(err)
	}
	if lv := media.Level(pcm); lv > -20 || lv < -40 {
		t.Errorf("hold music at %.1f dBFS, want quiet but audible", lv)
	}
	if _, err := LoadHoldMusic(filepath.Join(t.TempDir(), "none.wav"), rate); err == nil {
		t.Error("a missing hold music file loaded")
	}
}
