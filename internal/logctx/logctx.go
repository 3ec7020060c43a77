// Package logctx carries a call's logger in its context, so that code deep
// in a call (a provider falling back, a cache miss) logs with the call's id
// without every signature taking a logger.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying log, typically the call's logger with call_id.
func With(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, key{}, log)
}

// From returns the logger ctx carries, else def, else a logger that
// discards.
func From(ctx context.Context, def *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(key{}).(*slog.Logger); ok && l != nil {
		return l
	}
	if def != nil {
		return def
	}
	return slog.New(slog.DiscardHandler)
}
