package campaign

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

func TestParseCSV(t *testing.T) {
	in := "\ufeffNumber,Name,Language,TZ,product,due_date\n" +
		"+49 30 123-456,Lena Park,en,Europe/Berlin,card,2025-03-31\n" +
		"\"(0)1234 567\",\"Li, Wei\",zh,,loan,\n"
	cs, err := ParseCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d contacts, want 2", len(cs))
	}
	c := cs[0]
	if c.Number != "+4930123456" || c.Name != "Lena Park" || c.Language != "en" || c.TimeZone != "Europe/Berlin" ||
		c.Fields["product"] != "card" || c.Fields["due_date"] != "2025-03-31" || c.Line != 2 {
		t.Errorf("first contact %+v", c)
	}
	if cs[1].Number != "01234567" || cs[1].Name != "Li, Wei" || cs[1].Line != 3 || len(cs[1].Fields) != 1 {
		t.Errorf("second contact %+v", cs[1])
	}
	if got := Fill("Hello {name}, your {product} is due {due_date}{unknown}.", c); got != "Hello Lena Park, your card is due 2025-03-31." {
		t.Errorf("Fill = %q", got)
	}
}

// Every malformed upload is a LineError naming the line, never a crash.
func TestParseCSVMalformed(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 1, "empty file"},
		{"no number column", "name,product\nLena,card\n", 1, "no number column"},
		{"bad column name", "number,Due Date\n123,x\n", 1, `"due date"`},
		{"column twice", "number,name,Name\n123,a,b\n", 1, "twice"},
		{"header only", "number,name\n", 2, "no contacts"},
		{"letters in number", "number,name\n123,a\nabc,b\n", 3, `number "abc"`},
		{"short number", "number\n12\n", 2, "number"},
		{"empty number", "number,name\n,Lena\n", 2, "number"},
		{"bad time zone", "number,time_zone\n123,Mars/Base\n", 2, "time_zone"},
		{"path as time zone", "number,time_zone\n123,../../etc/passwd\n", 2, "time_zone"},
		{"bad language", "number,language\n123,english\n", 2, "language"},
		{"duplicate", "number\n123\n456\n1-2-3\n", 4, "already on line 2"},
		{"too many fields", "number,name\n123,a,b\n", 2, "wrong number of fields"},
		{"unterminated quote", "number,name\n123,\"Lena\n", 2, "quote"},
		{"bare quote", "number,name\n123,Le\"na\n", 2, "quote"},
		{"control character", "number,name\n123,Le\x01na\n", 2, "control"},
		{"not utf-8", "number,name\n123,\xff\xfe\n", 2, "UTF-8"},
		{"long value", "number,note\n123," + strings.Repeat("x", 600) + "\n", 2, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCSV(strings.NewReader(tc.in))
			var le *LineError
			if !errors.As(err, &le) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want a LineError", err)
			}
			if le.Line != tc.line || !strings.Contains(le.Error(), tc.msg) {
				t.Errorf("err %q, want line %d mentioning %q", le.Error(), tc.line, tc.msg)
			}
		})
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add("number,name,time_zone,product\n+4930123,Lena,Europe/Berlin,card\n")
	f.Add("number\n\"12\"3\n")
	f.Add("\ufeffphone,tz\n(030) 123,UTC\n")
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := ParseCSV(strings.NewReader(in))
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a LineError with a line", err)
			}
			return
		}
		for _, c := range cs {
			if _, err := NormalizeNumber(c.Number); err != nil || c.Line < 2 {
				t.Fatalf("accepted contact %+v: %v", c, err)
			}
		}
	})
}

func TestParseJSONContacts(t *testing.T) {
	cs, err := ParseJSON([]byte(`[{"number": "+1 212 555", "name": "Ann", "fields": {"product": "loan"}}]`))
	if err != nil || len(cs) != 1 || cs[0].Number != "+1212555" || cs[0].Fields["product"] != "loan" {
		t.Fatalf("ParseJSON = %+v, %v", cs, err)
	}
	for _, in := range []string{``, `{}`, `[]`, `[{"number": "x"}]`, `[{"number": "123", "extra": 1}]`,
		`[{"number": "123"}, {"number": "123"}]`, `[{"number": "123", "fields": {"Bad Name": "x"}}]`} {
		if _, err := ParseJSON([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseJSON(%q) = %v, want invalid", in, err)
		}
	}
}

func TestParseSpec(t *testing.T) {
	sp, err := ParseSpec([]byte(`{"name": "r", "greeting": "Hi {name}", "retry": {"busy": {"attempts": 3, "backoff": "10m"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if sp.MaxConcurrent != 1 || sp.CallsPerSecond != 1 || sp.Hours.Start != "09:00" || sp.TimeZone != "UTC" ||
		sp.Machine.Action != MachineHangup || sp.Retry[Busy].Backoff != Duration(10*time.Minute) {
		t.Errorf("defaults not filled in: %+v", sp)
	}
	for _, tc := range []struct{ in, msg string }{
		{`{"greeting": "x"}`, "name"},
		{`{"name": "r"}`, "greeting"},
		{`{"name": "r", "greeting": "x", "max_concurrent": 1000}`, "max_concurrent"},
		{`{"name": "r", "greeting": "x", "calls_per_second": -1}`, "calls_per_second"},
		{`{"name": "r", "greeting": "x", "hours": {"start": "18:00", "end": "09:00"}}`, "end 09:00 must be after"},
		{`{"name": "r", "greeting": "x", "hours": {"start": "9am"}}`, "HH:MM"},
		{`{"name": "r", "greeting": "x", "retry": {"answered": {"attempts": 2}}}`, `"answered"`},
		{`{"name": "r", "greeting": "x", "retry": {"busy": {"attempts": 2, "backoff": "soon"}}}`, "duration"},
		{`{"name": "r", "greeting": "x", "machine": {"action": "message"}}`, "machine.message"},
		{`{"name": "r", "greeting": "x", "time_zone": "Nowhere"}`, "time_zone"},
		{`{"name": "r", "greeting": "x", "colour": "red"}`, "unknown field"},
	} {
		if _, err := ParseSpec([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseSpec(%s) = %v, want an error about %q", tc.in, err, tc.msg)
		}
	}
}

func TestWatch(t *testing.T) {
	tests := []struct {
		name     string
		said     []string
		transfer string
		want     Outcome
	}{
		{"yes books", []string{"yes please"}, "", Booked},
		{"a later yes does not", []string{"what is this about", "yes"}, "", Answered},
		{"no", []string{"no thanks"}, "", Answered},
		{"opt out wins", []string{"yes", "please stop calling me"}, "", OptedOut},
		{"transfer", []string{"i want to speak to a person"}, "general", Transferred},
		{"silence", nil, "", Answered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w Watch
			for _, s := range tc.said {
				w.Heard(s)
			}
			if tc.transfer != "" {
				w.Transferred(tc.transfer)
			}
			if got, _ := w.Outcome(); got != tc.want {
				t.Errorf("outcome %s, want %s", got, tc.want)
			}
		})
	}
}

// A long greeting without a pause is a machine; a short hello and a
// pause, or silence, is a person.
func TestDetectMachine(t *testing.T) {
	tests := []struct {
		name    string
		speech  time.Duration // from 200 ms after the answer, then silence
		machine bool
	}{
		{"hello", 600 * time.Millisecond, false},
		{"silence", 0, false},
		{"voicemail greeting", 6 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			us, callee := media.NewPipe(ctx, 8000)
			go func() {
				frame := make([]int16, 160)
				for i := 0; ctx.Err() == nil; i++ {
					at := time.Duration(i) * 20 * time.Millisecond
					speaking := at >= 200*time.Millisecond && at < 200*time.Millisecond+tc.speech
					for j := range frame {
						frame[j] = 0
						if speaking {
							// A voice-like warble: level varying over the frame.
							frame[j] = int16(6000 * sin(float64(i*160+j)*0.07) * (0.6 + 0.4*sin(float64(i)*0.9)))
						}
					}
					if err := callee.WriteFrame(ctx, frame); err != nil {
						return
					}
				}
			}()
			machine, err := DetectMachine(ctx, us, 3500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if machine != tc.machine {
				t.Errorf("machine %v, want %v", machine, tc.machine)
			}
		})
	}
}

func sin(x float64) float64 { return math.Sin(x) }
