package sip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSIPLogIsRateLimitedAndCut(t *testing.T) {
	var buf bytes.Buffer
	h := newLimitHandler(redactHandler{slog.NewTextHandler(&buf, nil)})
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	log := slog.New(h)

	garbage := strings.Repeat("x", 64<<10)
	for range 1000 { // a flood within one instant
		log.Error("parse failed", "data", garbage)
	}
	log.Warn("another problem")
	if n := strings.Count(buf.String(), "parse failed"); n != 1 {
		t.Fatalf("%d records of a flood let through, want 1", n)
	}
	if !strings.Contains(buf.String(), "another problem") {
		t.Error("a different message was suppressed with the flood")
	}
	if buf.Len() > maxLoggedText+300 {
		t.Errorf("a garbage datagram was logged whole: %d bytes of log", buf.Len())
	}
	buf.Reset()
	now = now.Add(sipLogEvery)
	log.Error("parse failed", "data", "Authorization: Digest response=\"secret\"")
	if out := buf.String(); !strings.Contains(out, "parse failed") || strings.Contains(out, "secret") {
		t.Errorf("after the interval: %q, want the record, redacted", out)
	}
}
