package ivr

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hotline-cc/hotline/asr"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/internal/logctx"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/tts"
)

// Conversation runs calls through the dialog manager instead of the menu:
// Hotline greets, the caller says what they want in their own words (or
// presses keys), and a brain answers, its first sentence spoken while the
// rest is still being written. The caller may talk over any reply; the
// reply stops and its unspoken rest is dropped.
type Conversation struct {
	m  *Menu
	dm *dialog.Manager
}

// NewConversation returns a conversation on the menu's prompts, engines
// and timings. It needs a speech synthesizer: the replies are not recorded.
func NewConversation(m *Menu, dm *dialog.Manager) (*Conversation, error) {
	if m.eng.TTS == nil {
		return nil, errors.New("ivr: a conversation needs a speech synthesizer")
	}
	return &Conversation{m: m, dm: dm}, nil
}

// Serve converses with the caller until the brain ends the call, the call
// goes to a person, the caller stays silent, or the leg ends. It returns
// nil when the call ended normally from either side.
func (cv *Conversation) Serve(ctx context.Context, c Call) error {
	s := newSession(cv.m, c)
	dc := cv.dm.Start(c.Leg.ID(), c.Caller, c.Log)
	dc.OnCrisis = c.OnCrisis
	err := s.converse(ctx, dc)
	if errors.Is(err, media.ErrHangup) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// digitWait is how long Hotline waits for each next key of digits it
// asked for.
const digitWait = 5 * time.Second

func (s *session) converse(ctx context.Context, dc *dialog.Call) error {
	var in input
	var err error
	if g := cmp.Or(s.c.Greeting, dc.Greeting()); g != "" {
		in, _, err = s.say(ctx, g)
	} else {
		in, err = s.prompt(ctx, "greeting", s.m.prompts.Greeting, true)
	}
	if err != nil {
		return err
	}
	silences, collect := 0, 0
	for {
		if in.none() {
			if in, err = s.wait(ctx, s.m.cfg.MenuTimeout); err != nil {
				return err
			}
		}
		if in.none() {
			if silences++; silences >= s.m.cfg.MenuRepeats {
				return s.goodbye(ctx)
			}
			if in, err = s.prompt(ctx, "not-understood", s.m.prompts.NotUnderstood, true); err != nil {
				return err
			}
			continue
		}
		silences = 0

		var din dialog.Input
		var at time.Duration
		var ended time.Time
		if in.key != 0 {
			at, ended = time.Since(s.start), time.Now()
			if din.Digits, err = s.keys(ctx, in.key, collect); err != nil {
				return err
			}
			s.record(Turn{At: at, Speaker: "caller", Key: din.Digits})
		} else {
			grammar := dc.Grammar()
			h, err := s.recognize(ctx, in, grammar, func(p string) bool { return completePhrase(grammar, p) })
			if err != nil {
				return err
			}
			if h.key != 0 {
				in = input{key: h.key}
				continue
			}
			if h.text == "" {
				if in, err = s.prompt(ctx, "not-understood", s.m.prompts.NotUnderstood, true); err != nil {
					return err
				}
				continue
			}
			din, at, ended = dialog.Input{Text: h.text, Emotion: h.cue}, h.at, h.ended
		}

		var last dialog.Action
		if in, last, err = s.reply(ctx, dc, din, at, ended); err != nil {
			return err
		}
		collect = 0
		switch last.Kind {
		case dialog.CollectDigits:
			collect = last.MaxDigits
		case dialog.Transfer:
			return s.transfer(ctx, last)
		case dialog.Hangup:
			s.c.Log.Info("the dialog ended the call", "reason", last.Reason)
			if last.Text == "" {
				return s.goodbye(ctx)
			}
			return nil
		}
	}
}

// reply runs the brain on the caller's turn, which ended at ended, and
// speaks its sentences as they come. It returns how the caller took the floor again, if they
// talked over the reply, and the last action that was not speech.
func (s *session) reply(ctx context.Context, dc *dialog.Call, din dialog.Input, at time.Duration, ended time.Time) (input, dialog.Action, error) {
	bctx, cancel := context.WithCancel(logctx.With(ctx, s.c.Log))
	defer cancel()
	sentences := make(chan string)
	var (
		mu     sync.Mutex
		said   []string
		cite   *dialog.Citation
		intent string
		last   dialog.Action
	)
	done := make(chan error, 1)
	go func() {
		defer close(sentences)
		done <- dc.Turn(bctx, din, at, func(a dialog.Action) error {
			mu.Lock()
			if a.Kind != dialog.Say {
				last = a
			}
			if a.Intent != "" {
				intent = a.Intent
			}
			mu.Unlock()
			if a.Text == "" || a.Kind == dialog.Transfer {
				return nil
			}
			select {
			case sentences <- a.Text:
				mu.Lock()
				said = append(said, a.Text)
				if cite == nil {
					cite = a.Cite
				}
				mu.Unlock()
				return nil
			case <-bctx.Done():
				return bctx.Err()
			}
		})
	}()
	text := func() (string, *dialog.Citation, string) {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(said, " "), cite, intent
	}
	in, _, err := s.speak(ctx, tts.SpeakEach(bctx, s.m.eng.TTS, sentences, s.rate), text, ended)
	// The caller talked over the reply, or it was spoken: either way the
	// brain has nothing more to say now.
	cancel()
	berr := <-done
	if err != nil {
		return input{}, dialog.Action{}, err
	}
	if berr != nil && !errors.Is(berr, context.Canceled) {
		s.c.Log.Warn("no answer for the caller's turn", "err", berr)
	}
	mu.Lock()
	defer mu.Unlock()
	return in, last, nil
}

// keys collects the digits Hotline asked for, first being the key that
// started them: up to max keys, until # or a pause. Without a request
// (max 0) a single key is the caller's turn.
func (s *session) keys(ctx context.Context, first media.Digit, max int) (string, error) {
	digits := first.String()
	if first == '#' {
		return digits, nil
	}
	for len(digits) < max {
		in, err := s.waitKey(ctx, digitWait)
		if err != nil {
			return "", err
		}
		if in.key == 0 || in.key == '#' {
			break
		}
		digits += in.key.String()
	}
	return digits, nil
}

// transfer hands the call to a person: through the queue when the node
// has agents, else the caller is told no one is free and may leave a
// message, which the transfer's summary goes with into the call's record.
func (s *session) transfer(ctx context.Context, a dialog.Action) error {
	s.c.Log.Info("transfer", "queue", a.Queue, "reason", a.Reason, "summary", a.Summary)
	tr := TransferTurn{Queue: a.Queue, Reason: a.Reason, Summary: a.Summary}
	if s.c.TransferOut != nil {
		if out := s.c.TransferOut(tr.Queue); out != nil {
			s.record(Turn{At: time.Since(s.start), Speaker: "hotline", Transfer: &tr})
			return out(ctx, s.c.Leg)
		}
	}
	if s.c.Agents != nil {
		return s.toQueue(ctx, tr)
	}
	s.record(Turn{At: time.Since(s.start), Speaker: "hotline", Transfer: &tr})
	return s.message(ctx, "no-agent", s.m.prompts.NoAgent)
}

// completePhrase reports whether text is a whole phrase of grammar that
// no longer phrase begins with: nothing the caller could still add would
// change what it means, so the turn may end early.
func completePhrase(grammar []string, text string) bool {
	norm := strings.Join(asr.NormalizeWords(text), " ")
	found := false
	for _, p := range grammar {
		switch {
		case p == norm:
			found = true
		case strings.HasPrefix(p, norm+" "):
			return false
		}
	}
	return found
}

// TransferTurn is a hand-over of the call to a person, as the call's
// record keeps it: the caller joining a queue, and then the agent who
// answered.
type TransferTurn struct {
	Queue   string `json:"queue"`
	Reason  string `json:"reason"`
	Summary string `json:"summary,omitempty"`
	// Class is the call's priority in the queue (routing.Class).
	Class string `json:"class,omitempty"`
	// Agent is the agent who answered; empty while the caller waits.
	Agent string `json:"agent,omitempty"`
}
