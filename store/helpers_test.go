package store

import (
	"log/slog"

	"github.com/hotline-cc/hotline/internal/logbuf"
)

func slogTo(b *logbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
