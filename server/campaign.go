package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/events"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
	"github.com/hotline-cc/hotline/tts"
)

// campaignCaller places campaign calls through the configured gateway and
// runs the same dialog as inbound calls on the ones answered.
type campaignCaller struct {
	s   *Server
	cfg campaign.Config
	tts tts.Synthesizer
	// convs are the conversations of the flows campaigns may name.
	convs map[string]*ivr.Conversation
}

// newDialer builds the campaign dialer when campaigns.gateway is set.
func (s *Server) newDialer(syn tts.Synthesizer) error {
	cfg := s.cfg.Campaigns
	if cfg.Gateway == "" {
		return nil
	}
	if s.conv == nil {
		return errors.New("campaigns: a campaign call needs the dialog (dialog.brain rules or llm, not menu)")
	}
	if cfg.Trunk != "" && !slices.ContainsFunc(s.cfg.SIP.Trunks, func(t sip.TrunkConfig) bool { return t.Name == cfg.Trunk }) {
		return fmt.Errorf("campaigns.trunk %q is not in sip.trunks", cfg.Trunk)
	}
	cc := &campaignCaller{s: s, cfg: cfg, tts: syn, convs: map[string]*ivr.Conversation{}}
	for name, path := range cfg.Flows {
		fc := s.cfg
		fc.Dialog.Flow = path
		conv, _, err := newConversation(fc, s.menu, s.knowledge, s.metrics, s.log.With("campaign_flow", name))
		if err != nil {
			return fmt.Errorf("campaigns.flows %s: %w", name, err)
		}
		cc.convs[name] = conv
	}
	s.dialer = campaign.New(s.store, cc, nil, s.log)
	s.dialer.Observe(func(id int64, res campaign.Result) {
		s.metrics.CampaignAttempt(string(res.Outcome))
		s.events.Publish(events.Event{Type: "campaign.attempt", CallID: res.CallID,
			Data: map[string]any{"campaign": id, "outcome": res.Outcome, "sip_code": res.SIPCode}})
	})
	return nil
}

// CheckSpec refuses a campaign that names a flow the node does not have.
func (cc *campaignCaller) CheckSpec(sp campaign.Spec) error {
	if _, ok := cc.convs[sp.Flow]; sp.Flow != "" && !ok {
		return fmt.Errorf("flow %q is not one of campaigns.flows", sp.Flow)
	}
	return nil
}

// Call places one campaign call and returns its outcome once it has ended.
func (cc *campaignCaller) Call(ctx context.Context, c campaign.Call) campaign.Result {
	s := cc.s
	to := strings.ReplaceAll(cc.cfg.Gateway, "{number}", c.Contact.Number)
	oc, err := s.sip.Dial(ctx, sip.DialRequest{To: to, Trunk: cc.cfg.Trunk, RingTimeout: time.Duration(c.Spec.RingTimeout),
		From:    sip.Party{User: cc.cfg.CallerID},
		Headers: map[string]string{"X-Hotline-Campaign": fmt.Sprint(c.Campaign)}})
	if err != nil {
		return dialResult(ctx, err)
	}
	log := oc.Log.With("campaign", c.Campaign, "attempt", c.Attempt)
	defer ivr.EndLeg(ctx, oc.Leg, log)
	res := campaign.Result{Outcome: campaign.Answered, CallID: oc.Leg.ID()}
	log.Info("campaign call answered", "ringing", oc.Ringing.Round(time.Millisecond))

	machine, err := campaign.DetectMachine(ctx, oc.Leg, time.Duration(c.Spec.Machine.Greeting))
	if err != nil {
		res.Detail = "hung up at once"
		return res
	}
	if machine {
		res.Outcome, res.Detail = campaign.Machine, "hung up"
		log.Info("answering machine", "action", c.Spec.Machine.Action)
		if c.Spec.Machine.Action == campaign.MachineMessage {
			res.Detail = "message left"
			if err := cc.leaveMessage(ctx, oc.Leg, campaign.Fill(c.Spec.Machine.Message, c.Contact)); err != nil {
				log.Info("message not left", "err", err)
				res.Detail = "message not left"
			}
		}
		return res
	}

	conv := s.conv
	if c.Spec.Flow != "" {
		conv = cc.convs[c.Spec.Flow]
	}
	w := &campaign.Watch{}
	p := dialog.Profile{Number: c.Contact.Number, Name: c.Contact.Name, Language: c.Contact.Language,
		Purpose: campaign.Fill(c.Spec.Prompt, c.Contact)}
	s.serveCall(ctx, oc.Leg, log, callInfo{id: oc.Leg.ID(), from: cc.cfg.CallerID, to: c.Contact.Number,
		channel: store.ChannelTrunk, trunk: oc.Trunk, at: time.Now(),
		placed: &placedCall{conv: conv, greeting: campaign.Fill(c.Spec.Greeting, c.Contact), callee: p, watch: w}},
		s.transferOut(oc.Call, log))
	res.Outcome, res.Detail = w.Outcome()
	return res
}

// placedCall is what differs on a call Hotline placed for a campaign:
// the conversation of its flow, its opening, who was called, and the
// watch that tells its outcome.
type placedCall struct {
	conv     *ivr.Conversation
	greeting string
	callee   dialog.Profile
	watch    *campaign.Watch
}

// tap tells the watch the call's turns.
func (pc *placedCall) tap(t ivr.Turn) {
	switch {
	case t.Transfer != nil && t.Transfer.Agent == "":
		pc.watch.Transferred(t.Transfer.Queue)
	case t.Speaker == "caller":
		pc.watch.Heard(t.Text)
	}
}

// leaveMessage waits for the machine's beep and speaks text.
func (cc *campaignCaller) leaveMessage(ctx context.Context, leg media.Leg, text string) error {
	if cc.tts == nil {
		return errors.New("no speech synthesizer")
	}
	if err := campaign.AwaitBeep(ctx, leg); err != nil {
		return err
	}
	pcm, err := tts.ReadAll(ctx, tts.Speak(ctx, cc.tts, text, leg.SampleRate()))
	if err != nil {
		return err
	}
	_, err = media.Play(ctx, leg, media.FramesOf(pcm, leg.SampleRate()), media.PlayOptions{})
	return err
}

// dialResult is the outcome of a call that was not answered; ctx is the
// call's, which ends when the node stops.
func dialResult(ctx context.Context, err error) campaign.Result {
	res := campaign.Result{Outcome: campaign.Failed, Detail: err.Error()}
	var de *sip.DialError
	if errors.As(err, &de) {
		res.SIPCode = de.Code
	}
	// The node is stopping: the call never went out, or was given up for
	// the shutdown, not for the customer.
	res.Aborted = errors.Is(err, sip.ErrShutdown) || errors.Is(err, sip.ErrServerClosed) ||
		errors.Is(err, sip.ErrCanceled) && ctx.Err() != nil
	switch {
	case errors.Is(err, sip.ErrBusy), errors.Is(err, sip.ErrDeclined):
		res.Outcome = campaign.Busy
	case errors.Is(err, sip.ErrNoAnswer):
		res.Outcome = campaign.NoAnswer
	case errors.Is(err, sip.ErrCanceled) && res.SIPCode == 487:
		// The far end ended the ringing itself.
		res.Outcome = campaign.NoAnswer
	}
	return res
}
