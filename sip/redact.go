package sip

import (
	"context"
	"log/slog"
	"regexp"
)

// authLine matches credential header lines in a raw SIP message, in full or
// compact form, up to the end of the line.
var authLine = regexp.MustCompile(`(?im)^((?:proxy-)?authorization[ \t]*:)[^\r\n]*`)

// redactCredentials blanks the values of Authorization and
// Proxy-Authorization headers in raw SIP text.
func redactCredentials(s string) string {
	return authLine.ReplaceAllString(s, "$1 [redacted]")
}

// redactHandler wraps sipgo's logging: sipgo logs messages it cannot parse
// in full, and those may carry digest credentials. Long strings are cut
// after redaction, so a cut never leaves part of a credential in view.
type redactHandler struct{ slog.Handler }

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactHandler{h.Handler.WithAttrs(red)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.Handler.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, truncate(redactCredentials(a.Value.String())))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, truncate(redactCredentials(err.Error())))
		}
		if s, ok := a.Value.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, truncate(redactCredentials(s.String())))
		}
	case slog.KindGroup:
		g := a.Value.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = redactAttr(x)
		}
		return slog.Group(a.Key, red...)
	}
	return a
}
