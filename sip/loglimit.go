package sip

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// sipgo logs each datagram it cannot parse, whole, before any trunk check:
// anyone who can reach the port could otherwise flood the log. Its records
// pass at most once per message text per sipLogEvery, and long strings are
// cut.
const (
	sipLogEvery = 10 * time.Second
	// maxLoggedText bounds one logged string: a garbage datagram can be
	// 64 KB, and the first part says what it was.
	maxLoggedText = 1024
)

// limitHandler drops a record whose message was logged less than the
// limiter's interval ago.
type limitHandler struct {
	slog.Handler
	lim *logLimiter
	now func() time.Time
}

func newLimitHandler(h slog.Handler) limitHandler {
	return limitHandler{h, newLogLimiter(sipLogEvery), time.Now}
}

func (h limitHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.lim.allow(r.Level.String()+" "+r.Message, h.now()) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h limitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return limitHandler{h.Handler.WithAttrs(attrs), h.lim, h.now}
}

func (h limitHandler) WithGroup(name string) slog.Handler {
	return limitHandler{h.Handler.WithGroup(name), h.lim, h.now}
}

// truncate shortens s to maxLoggedText bytes, saying how much was cut.
func truncate(s string) string {
	if len(s) <= maxLoggedText {
		return s
	}
	return s[:maxLoggedText] + "…[" + strconv.Itoa(len(s)-maxLoggedText) + " bytes more]"
}
