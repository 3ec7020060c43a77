package media

import (
	"errors"
	"testing"
)

func TestParseTelephoneEvent(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want TelephoneEvent
		err  error
	}{
		"digit 5 start":      {[]byte{5, 10, 0, 160}, TelephoneEvent{Event: 5, Volume: 10, Duration: 160}, nil},
		"pound end":          {[]byte{11, 0x80 | 7, 0x03, 0x20}, TelephoneEvent{Event: 11, End: true, Volume: 7, Duration: 800}, nil},
		"reserved bit clear": {[]byte{1, 0x40 | 10, 0, 0}, TelephoneEvent{Event: 1, Volume: 10}, nil},
		"redundant tail":     {[]byte{2, 10, 0, 80, 9, 9, 9, 9}, TelephoneEvent{Event: 2, Volume: 10, Duration: 80}, nil},
		"empty":              {nil, TelephoneEvent{}, ErrShortEvent},
		"three bytes":        {[]byte{1, 2, 3}, TelephoneEvent{}, ErrShortEvent},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTelephoneEvent(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestTelephoneEventDigits(t *testing.T) {
	keys := "0123456789*#ABCD"
	for code := range 256 {
		d, ok := TelephoneEvent{Event: uint8(code)}.Digit()
		if code < 16 {
			if !ok || byte(d) != keys[code] {
				t.Errorf("event %d = %q %v, want %q", code, d, ok, keys[code])
			}
			back, err := eventCode(d)
			if err != nil || int(back) != code {
				t.Errorf("key %q encodes to %d, %v", d, back, err)
			}
		} else if ok {
			t.Errorf("event %d is not a key, got %q", code, d)
		}
	}
	if _, err := eventCode('x'); err == nil {
		t.Error("'x' encoded as a key")
	}
}

func TestTelephoneEventRoundTrip(t *testing.T) {
	e := TelephoneEvent{Event: 11, End: true, Volume: 63, Duration: 65535}
	got, err := ParseTelephoneEvent(e.AppendTo(nil))
	if err != nil || got != e {
		t.Fatalf("round trip %+v -> %+v, %v", e, got, err)
	}
}

func TestEventReceiverReportsEachPressOnce(t *testing.T) {
	var r eventReceiver
	var got []Digit
	feed := func(ssrc, ts uint32, ev uint8, end bool) {
		if d, ok := r.accept(ssrc, ts, TelephoneEvent{Event: ev, End: end}); ok {
			got = append(got, d)
		}
	}
	// "1": start, continuation, three end packets.
	for range 2 {
		feed(1, 1000, 1, false)
	}
	for range 3 {
		feed(1, 1000, 1, true)
	}
	// "1" again: a new press has a new timestamp.
	feed(1, 2000, 1, true) // its start was lost: the end still counts
	feed(1, 2000, 1, true)
	feed(1, 3000, 16, false) // flash is not a key
	feed(2, 3000, 11, false) // another stream
	if string(got) != "11#" {
		t.Fatalf("got %q, want \"11#\"", string(got))
	}
}

func TestEventSenderShape(t *testing.T) {
	s := eventSender{code: 5, ts: 4000, active: true}
	var evs []TelephoneEvent
	var firsts []bool
	for s.active {
		e, first := s.next(160)
		evs, firsts = append(evs, e), append(firsts, first)
	}
	if len(evs) != toneFrames+endRepeats {
		t.Fatalf("%d packets, want %d", len(evs), toneFrames+endRepeats)
	}
	for i, e := range evs {
		wantDur := uint16(min(i+1, toneFrames) * 160)
		if e.Event != 5 || e.Duration != wantDur || e.End != (i >= toneFrames) || firsts[i] != (i == 0) {
			t.Fatalf("packet %d = %+v first=%v", i, e, firsts[i])
		}
	}
	if s.gap != gapFrames {
		t.Fatalf("gap %d after the key, want %d", s.gap, gapFrames)
	}
}

func FuzzParseTelephoneEvent(f *testing.F) {
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x8A, 3, 32})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseTelephoneEvent(b)
		if err != nil {
			if len(b) >= 4 {
				t.Fatalf("rejected %d bytes: %v", len(b), err)
			}
			return
		}
		if e.Volume > 63 {
			t.Fatalf("volume %d out of range", e.Volume)
		}
		again, err := ParseTelephoneEvent(e.AppendTo(nil))
		if err != nil || again != e {
			t.Fatalf("re-encoding %+v gave %+v, %v", e, again, err)
		}
		var r eventReceiver
		d, ok := r.accept(1, 1, e)
		if ok && !d.Valid() {
			t.Fatalf("event %d gave invalid key %q", e.Event, d)
		}
	})
}
