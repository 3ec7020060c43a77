//go:build !cgo

package asr

import (
	"errors"
	"log/slog"
)

// errNoEmbedded is what asking for the embedded recognizer gives in a
// build without cgo, which leaves pocketsphinx out.
var errNoEmbedded = errors.New("asr: embedded recognizer not compiled in (built with CGO_ENABLED=0)")

func init() {
	Register("embedded", func(Config, *slog.Logger) (Recognizer, error) { return nil, errNoEmbedded })
}
