package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hotline-cc/hotline/campaign"
	"github.com/hotline-cc/hotline/sip"
)

// Every way a campaign call can fail to connect has its outcome; the
// node's own shutdown is no attempt.
func TestDialResult(t *testing.T) {
	stopped, stop := context.WithCancel(context.Background())
	stop()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		want    campaign.Outcome
		aborted bool
	}{
		{"busy", context.Background(), fmt.Errorf("sip dial: 486 Busy Here: %w", sip.ErrBusy), campaign.Busy, false},
		{"declined", context.Background(), fmt.Errorf("sip dial: 603: %w", sip.ErrDeclined), campaign.Busy, false},
		{"rang out", context.Background(), fmt.Errorf("%w in 30s", sip.ErrNoAnswer), campaign.NoAnswer, false},
		{"not found", context.Background(), fmt.Errorf("sip dial: 404: %w", sip.ErrNotFound), campaign.Failed, false},
		{"unreachable", context.Background(), fmt.Errorf("%w: timeout", sip.ErrUnreachable), campaign.Failed, false},
		{"rejected", context.Background(), fmt.Errorf("sip dial: 503: %w", sip.ErrRejected), campaign.Failed, false},
		{"shutting down", context.Background(), sip.ErrShutdown, campaign.Failed, true},
		{"server closed", context.Background(), sip.ErrServerClosed, campaign.Failed, true},
		{"canceled for the shutdown", stopped, fmt.Errorf("%w: %w", sip.ErrCanceled, context.Canceled), campaign.Failed, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := dialResult(tc.ctx, tc.err)
			if res.Outcome != tc.want || res.Aborted != tc.aborted || res.Detail != tc.err.Error() {
				t.Errorf("dialResult(%v) = %+v, want %s, aborted %v", tc.err, res, tc.want, tc.aborted)
			}
		})
	}
	if res := dialResult(context.Background(), errors.New("sip dial: to \"x\": want a sip URI")); res.Outcome != campaign.Failed {
		t.Errorf("a bad URI: %+v", res)
	}
}
