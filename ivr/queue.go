package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prompts"
	"github.com/hotline-cc/hotline/prosody"
	"github.com/hotline-cc/hotline/routing"
	"github.com/hotline-cc/hotline/tts"
)

// Agents is how a transferred call reaches a person: the call distributor
// and the agents' phones, which the server provides. The conversation keeps
// the caller company meanwhile.
type Agents interface {
	// Queue is the queue a transfer to name waits in, with its settings
	// filled in (routing.Config.Queue). A name that is not configured gets
	// the first queue, and known is false.
	Queue(name string) (q routing.QueueConfig, known bool)
	// Enqueue, Position and Hangup are the distributor's (routing.ACD).
	// The call leaves the queue, or ends with its agent, when ctx ends, or
	// at once with Hangup (before it joins another queue).
	Enqueue(ctx context.Context, c routing.Call) (*routing.Ticket, error)
	Position(callID string) (routing.Position, error)
	Hangup(callID string) error
	// Ring rings the phone of the agent the call is offered to until they
	// answer, the ring times out or ctx ends, and tells the distributor how
	// it went. It returns the answered agent's leg, which its caller hangs
	// up.
	Ring(ctx context.Context, callID string, offer routing.Outcome, t TransferTurn) (media.Leg, error)
}

// LoadHoldMusic reads the music callers hear while they wait for an agent:
// the WAV file at path, or the loop shipped in the binary when path is
// empty.
func LoadHoldMusic(path string, rate int) ([]int16, error) {
	var pcm []int16
	var err error
	if path == "" {
		pcm, err = loadPrompt(prompts.FS, "hold-music.wav", rate)
	} else {
		pcm, err = media.LoadWAVFile(path, rate)
	}
	if err == nil && len(pcm) == 0 {
		err = errors.New("no audio")
	}
	if err != nil {
		return nil, fmt.Errorf("hold music %q: %w", path, err)
	}
	return pcm, nil
}

// firstAnnouncement is how long a new caller hears music before the first
// announcement of their place, so that a caller an agent takes at once
// hears no numbers.
const firstAnnouncement = 3 * time.Second

// waitEnd is how a wait in a queue ended.
type waitEnd struct {
	// outcome is the distributor's final outcome: Connected (after the
	// conversation with the agent), Overflowed or Abandoned.
	outcome routing.Outcome
	// message: the caller pressed 0 to leave a message instead.
	message bool
	// transferTo is the queue the agent transferred the call on to.
	transferTo string
}

// toQueue hands the call to a person: it waits in the queue the dialog
// chose, with hold music and announcements of its place, until an agent
// answers and talks with the caller, the queue overflows (to another queue,
// a message or a callback), or the caller presses 0 for a message or hangs
// up.
func (s *session) toQueue(ctx context.Context, tr TransferTurn) error {
	q, known := s.c.Agents.Queue(tr.Queue)
	if !known {
		s.c.Log.Warn("transfer to a queue that is not configured: the first queue takes it",
			"asked", tr.Queue, "queue", q.Name)
	}
	tr.Queue = q.Name
	tr.Class = s.class(tr.Reason).String()
	since := time.Now()
	for {
		joined := tr // the record keeps this one; tr changes on
		s.record(Turn{At: time.Since(s.start), Speaker: "hotline", Transfer: &joined})
		end, err := s.waitInQueue(ctx, q, tr, since)
		switch {
		case err != nil:
			return err
		case end.message:
			return s.message(ctx, "record", s.m.prompts.Record)
		}
		o := end.outcome
		if end.transferTo != "" {
			from := o.Agent
			q, known = s.c.Agents.Queue(end.transferTo)
			if !known {
				s.c.Log.Warn("agent's transfer to a queue that is not configured: the first queue takes it",
					"asked", end.transferTo, "queue", q.Name)
			}
			tr.Queue, tr.Reason, tr.Agent = q.Name, "transferred on by "+from, ""
			continue
		}
		if o.Kind != routing.Overflowed {
			return nil
		}
		switch o.Overflow.Action {
		case routing.OverflowQueue:
			from := q.Name
			q, _ = s.c.Agents.Queue(o.Overflow.Queue)
			tr.Queue, tr.Reason = q.Name, "overflow from "+from
			tr.Summary = "" // the first transfer carries it
		case routing.OverflowCallback:
			return s.callback(ctx)
		default:
			return s.message(ctx, "no-agent", s.m.prompts.NoAgent)
		}
	}
}

// class is the call's priority with the distributor: a caller at risk
// first (the guardrails' crisis transfers say so in their reason), then a
// VIP, then a caller whose last turn sounded tense or angry.
func (s *session) class(reason string) routing.Class {
	switch {
	case strings.HasPrefix(reason, "crisis"):
		return routing.Crisis
	case s.c.Caller.VIP():
		return routing.VIP
	case s.c.Emotion != nil:
		if cues := s.c.Emotion.Cues(); len(cues) > 0 {
			if l := cues[len(cues)-1].Label; l == prosody.Tense || l == prosody.Angry {
				return routing.Escalated
			}
		}
	}
	return routing.Normal
}

// ring is a ring at an agent's phone under way.
type ring struct {
	agent  string
	stop   context.CancelFunc
	result chan ringResult
}

type ringResult struct {
	leg media.Leg
	err error
}

// waitInQueue waits in q once: hold music and announcements until the
// distributor's final outcome or the caller's key 0. Every goroutine it
// starts has ended when it returns, and the distributor has been told
// that the call left (a connected call's agent goes to wrap-up).
func (s *session) waitInQueue(ctx context.Context, q routing.QueueConfig, tr TransferTurn, since time.Time) (waitEnd, error) {
	qctx, leave := context.WithCancel(logctx.With(ctx, s.c.Log))
	var bg sync.WaitGroup
	defer bg.Wait()
	defer leave()
	class, _ := routing.ParseClass(tr.Class)
	ticket, err := s.c.Agents.Enqueue(qctx, routing.Call{ID: s.c.Leg.ID(), Queue: q.Name, Class: class,
		Number: s.c.Caller.Number, Since: since})
	if err != nil {
		return waitEnd{}, fmt.Errorf("queue %s: %w", q.Name, err)
	}
	s.c.Log.Info("waiting for an agent", "queue", q.Name, "class", ticket.Class.String())

	hold := &holdSource{music: s.m.prompts.HoldMusic, n: media.FrameSamples(s.rate)}
	music := s.holdMusic(qctx, hold)
	defer music.stop()

	every := *q.AnnounceEvery
	announceTimer := time.NewTimer(min(every, firstAnnouncement))
	defer announceTimer.Stop()
	announce := announceTimer.C
	if every == 0 {
		announce = nil // never
	}
	var cur *ring
	defer func() {
		if cur != nil {
			cur.stop()
		}
	}()
	for {
		select {
		case o := <-ticket.Outcomes():
			switch o.Kind {
			case routing.Offered:
				cur = s.ring(qctx, &bg, o, tr)
			case routing.Retracted:
				s.c.Log.Info("agent did not take the call", "agent", o.Agent, "reason", o.Reason)
				if cur != nil {
					cur.stop()
					cur = nil
				}
			case routing.Connected:
				if cur == nil {
					return waitEnd{}, fmt.Errorf("queue %s: connected to %s without ringing them", q.Name, o.Agent)
				}
				var r ringResult
				select {
				case r = <-cur.result:
				case <-ctx.Done():
					r.err = ctx.Err()
				}
				music.stop()
				if r.err != nil {
					return waitEnd{}, r.err
				}
				to := s.talk(ctx, r.leg, o, tr, since)
				if to != "" {
					// The agent wraps up now, and the call may join the
					// next queue.
					if err := s.c.Agents.Hangup(s.c.Leg.ID()); err != nil {
						return waitEnd{}, fmt.Errorf("queue %s: %w", q.Name, err)
					}
				}
				return waitEnd{outcome: o, transferTo: to}, nil
			default: // Overflowed, Abandoned: final
				music.stop()
				s.c.Log.Info("left the queue", "queue", q.Name, "outcome", o.Kind.String(), "reason", o.Reason,
					"overflow", o.Overflow.Action, "waited", time.Since(since).Round(time.Millisecond))
				return waitEnd{outcome: o}, nil
			}
		case key := <-music.keys:
			if key == '0' {
				music.stop()
				s.c.Log.Info("caller leaves the queue for a message", "queue", q.Name)
				return waitEnd{message: true}, nil
			}
		case err := <-music.failed:
			return waitEnd{}, err
		case <-announce:
			announceTimer.Reset(every)
			if cur == nil {
				bg.Go(func() { s.announce(qctx, hold) })
			}
		case <-ctx.Done():
			return waitEnd{}, ctx.Err()
		}
	}
}

// holdPlayer plays the hold music on the caller's leg until stopped, and
// passes on the keys the caller presses meanwhile.
type holdPlayer struct {
	keys   chan media.Digit
	failed chan error // the leg ended or failed: the music stopped
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *session) holdMusic(ctx context.Context, hold *holdSource) *holdPlayer {
	ctx, cancel := context.WithCancel(ctx)
	p := &holdPlayer{keys: make(chan media.Digit), failed: make(chan error, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			res, err := media.Play(ctx, s.c.Leg, hold, media.PlayOptions{DTMFBargeIn: true, Detector: s.vad})
			if err != nil {
				if ctx.Err() == nil {
					p.failed <- err
				}
				return
			}
			select {
			case p.keys <- res.Digit:
			case <-ctx.Done():
				return
			}
		}
	}()
	return p
}

// stop ends the music and returns once it no longer plays.
func (p *holdPlayer) stop() {
	p.cancel()
	<-p.done
}

// ring rings the agent an offer names, in a goroutine of bg; the result
// comes on the ring's channel unless the ring is stopped first, in which
// case an agent who answered anyway is hung up.
func (s *session) ring(ctx context.Context, bg *sync.WaitGroup, offer routing.Outcome, tr TransferTurn) *ring {
	rctx, stop := context.WithCancel(ctx)
	r := &ring{agent: offer.Agent, stop: stop, result: make(chan ringResult)}
	s.c.Log.Info("ringing an agent", "agent", offer.Agent, "queue", offer.Queue)
	bg.Go(func() {
		leg, err := s.c.Agents.Ring(rctx, s.c.Leg.ID(), offer, tr)
		select {
		case r.result <- ringResult{leg, err}:
		case <-rctx.Done():
			if leg != nil {
				EndLeg(ctx, leg, s.c.Log)
			}
		}
	})
	return r
}

// talk bridges the caller with the agent who answered until either hangs
// up, or the agent transfers the call on to another queue (returned), then
// ends the agent's leg; the caller's is the server's to end.
func (s *session) talk(ctx context.Context, agent media.Leg, o routing.Outcome, tr TransferTurn, since time.Time) string {
	defer EndLeg(ctx, agent, s.c.Log)
	tr.Agent, tr.Queue, tr.Summary = o.Agent, o.Queue, ""
	s.record(Turn{At: time.Since(s.start), Speaker: "hotline", Transfer: &tr})
	s.c.Log.Info("agent connected", "agent", o.Agent, "queue", o.Queue, "waited", time.Since(since).Round(time.Millisecond))
	bctx, cut := context.WithCancel(logctx.With(ctx, s.c.Log))
	defer cut()
	type bridged struct {
		res media.BridgeResult
		err error
	}
	done := make(chan bridged, 1)
	go func() {
		res, err := media.Bridge(bctx, s.c.Leg, agent, media.BridgeOptions{})
		done <- bridged{res, err}
	}()
	var to string
	var b bridged
	select {
	case b = <-done:
	case to = <-s.c.Transfers:
		s.c.Log.Info("agent transfers the call on", "agent", o.Agent, "queue", to)
		cut()
		b = <-done
	}
	if b.err != nil && ctx.Err() == nil && to == "" {
		s.c.Log.Warn("conversation with the agent cut", "agent", o.Agent, "err", b.err)
	}
	s.c.Log.Info("agent call ended", "agent", o.Agent, "hung_up", b.res.HungUp.String(), "talked", b.res.Duration.Round(time.Millisecond))
	return to
}

// hangupWait bounds the BYE to a leg whose call has ended.
const hangupWait = 5 * time.Second

// EndLeg hangs up a leg Hotline called (an agent's, an outside
// destination's), even once the caller's call has ended.
func EndLeg(ctx context.Context, leg media.Leg, log *slog.Logger) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hangupWait)
	defer cancel()
	if err := leg.Hangup(hctx); err != nil {
		log.Debug("leg already ended", "leg", leg.ID(), "err", err)
	}
}

// announce tells the waiting caller their place and expected wait, over
// the hold music.
func (s *session) announce(ctx context.Context, hold *holdSource) {
	p, err := s.c.Agents.Position(s.c.Leg.ID())
	if err != nil {
		return // the call left the queue meanwhile
	}
	text := positionText(p)
	pcm, err := tts.ReadAll(ctx, tts.Speak(ctx, s.m.eng.TTS, text, s.rate))
	if err != nil {
		if ctx.Err() == nil {
			s.c.Log.Warn("queue announcement not spoken", "err", err)
		}
		return
	}
	s.record(Turn{At: time.Since(s.start), Speaker: "hotline", Text: text, Provider: s.m.eng.TTS.Name()})
	hold.say(pcm)
}

// positionText is the announcement of a waiting caller's place: "You are
// number 2 in the queue. The expected wait is about one minute." Without an
// agent at work there is no wait to expect.
func positionText(p routing.Position) string {
	text := fmt.Sprintf("You are number %d in the queue.", p.Place)
	if p.Staffed == 0 {
		return text
	}
	switch m := int((p.Estimated + time.Minute/2) / time.Minute); m {
	case 0:
		return text + " The expected wait is less than a minute."
	case 1:
		return text + " The expected wait is about one minute."
	default:
		return fmt.Sprintf("%s The expected wait is about %d minutes.", text, m)
	}
}

// holdSource is the endless FrameSource of the hold music (silence
// without any), which pauses for an announcement and then goes on where it
// stopped.
type holdSource struct {
	music []int16
	n     int

	mu   sync.Mutex
	pos  int
	talk []int16 // announcement not yet played
}

func (h *holdSource) say(pcm []int16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.talk = append(h.talk, pcm...)
}

func (h *holdSource) Next(context.Context) ([]int16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := make([]int16, h.n)
	if len(h.talk) > 0 {
		k := copy(f, h.talk)
		h.talk = h.talk[k:]
		return f, nil
	}
	for k := 0; k < h.n && len(h.music) > 0; {
		c := copy(f[k:], h.music[h.pos:])
		k += c
		h.pos = (h.pos + c) % len(h.music)
	}
	return f, nil
}

// callback offers the caller a call back instead of the wait: at their own
// number (key 1) or one they key in. A caller who chooses neither may
// leave a message.
func (s *session) callback(ctx context.Context) error {
	own := phoneDigits(s.c.Caller.Number)
	text := "Nobody is free to take your call right now. To be called back, key in your number, then press the pound key."
	if own != "" {
		text = fmt.Sprintf("Nobody is free to take your call right now. We can call you back at %s. Press 1 to confirm, or key in another number, then press the pound key.",
			strings.Join(strings.Split(own, ""), " "))
	}
	in, _, err := s.say(ctx, text)
	if err == nil && in.key == 0 {
		in, err = s.waitKey(ctx, s.m.cfg.MenuTimeout)
	}
	if err != nil {
		return err
	}
	var number string
	if in.key != 0 {
		if number, err = s.keys(ctx, in.key, maxNumber); err != nil {
			return err
		}
		s.record(Turn{At: time.Since(s.start), Speaker: "caller", Key: number})
		number = strings.TrimSuffix(number, "#")
		if number == "1" {
			number = own
		}
	}
	if phoneDigits(number) == "" || number != phoneDigits(number) {
		s.c.Log.Info("no callback number: the caller may leave a message")
		return s.message(ctx, "no-agent", s.m.prompts.NoAgent)
	}
	s.c.Log.Info("callback requested", "own_number", number == own)
	if s.c.OnCallback != nil {
		s.c.OnCallback(number)
	}
	if _, _, err := s.say(ctx, "Thank you. We will call you back as soon as an agent is free."); err != nil {
		return err
	}
	return s.goodbye(ctx)
}

// maxNumber is the most digits of a phone number (E.164).
const maxNumber = 15

// phoneDigits is number's digits, or "" when it has none.
func phoneDigits(number string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
}

// message lets the caller leave a message after the prompt name, and says
// goodbye.
func (s *session) message(ctx context.Context, name string, prompt []int16) error {
	if _, err := s.prompt(ctx, name, prompt, false); err != nil {
		return err
	}
	if err := s.leaveMessage(ctx); err != nil {
		return err
	}
	return s.goodbye(ctx)
}
