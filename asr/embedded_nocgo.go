//go:build !cgo

package asr

import "log/slog"

func init() {
	Register("embedded", func(Config, *slog.Logger) (Recognizer, error) { return nil, ErrEmbeddedUnavailable })
}
