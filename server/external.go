package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/sip"
)

// transferOut gives the way to hand a call to a destination outside
// Hotline (routing.external) by name, nil for any other name. A SIP call
// to a destination that allows it is first referred to the caller's side
// (blind transfer: Hotline leaves the call); otherwise, or when that side
// refuses, Hotline calls the destination and bridges the caller in until
// either hangs up. call is nil for a browser call.
func (s *Server) transferOut(call *sip.Call, log *slog.Logger) func(string) func(context.Context, media.Leg) error {
	return func(name string) func(context.Context, media.Leg) error {
		x, ok := s.cfg.Routing.ExternalDestination(name)
		if !ok {
			return nil
		}
		return func(ctx context.Context, caller media.Leg) error {
			if call != nil && x.Refer {
				err := call.Refer(ctx, x.URI)
				switch {
				case err == nil, errors.Is(err, sip.ErrTransferred):
					log.Info("call referred outside", "destination", x.Name, "uri", x.URI)
					return nil
				case errors.Is(err, sip.ErrReferRefused), errors.Is(err, sip.ErrTransferFailed):
					log.Info("referral refused: calling the destination", "destination", x.Name, "err", err)
				default:
					return fmt.Errorf("transfer to %s: %w", x.Name, err)
				}
			}
			oc, err := s.sip.Dial(ctx, sip.DialRequest{To: x.URI, Trunk: x.Trunk})
			if err != nil {
				return fmt.Errorf("transfer to %s: %w", x.Name, err)
			}
			defer ivr.EndLeg(ctx, oc.Leg, log)
			log.Info("bridged outside", "destination", x.Name, "uri", x.URI)
			res, err := media.Bridge(ctx, caller, oc.Leg, media.BridgeOptions{})
			log.Info("outside call ended", "destination", x.Name, "hung_up", res.HungUp.String(),
				"talked", res.Duration)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("transfer to %s: %w", x.Name, err)
			}
			return nil
		}
	}
}
