package asr

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/logctx"
)

// fakeRecognizer records the audio of each stream and answers with text,
// or fails as told.
type fakeRecognizer struct {
	name      string
	text      string
	openErr   error
	writeErr  error
	finishErr error
	delay     time.Duration // Finish waits this long, or for ctx

	mu    sync.Mutex
	heard [][]int16
}

func (f *fakeRecognizer) Name() string { return f.name }

func (f *fakeRecognizer) NewStream(ctx context.Context, opts Options) (Stream, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	return &fakeStream{f: f, partials: make(chan Result)}, nil
}

type fakeStream struct {
	f        *fakeRecognizer
	audio    []int16
	partials chan Result
	once     sync.Once
}

func (s *fakeStream) Write(pcm []int16) error {
	if s.f.writeErr != nil {
		return s.f.writeErr
	}
	s.audio = append(s.audio, pcm...)
	return nil
}
func (s *fakeStream) Partials() <-chan Result { return s.partials }
func (s *fakeStream) Close() error            { s.once.Do(func() { close(s.partials) }); return nil }
func (s *fakeStream) Finish(ctx context.Context) (Result, error) {
	defer s.Close()
	s.f.mu.Lock()
	s.f.heard = append(s.f.heard, s.audio)
	s.f.mu.Unlock()
	if s.f.delay > 0 {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(s.f.delay):
		}
	}
	if s.f.finishErr != nil {
		return Result{}, s.f.finishErr
	}
	return Result{Text: s.f.text, Final: true, Confidence: -1, Provider: s.f.name}, nil
}

func TestFallback(t *testing.T) {
	pcm := speechLike(8000, 700*time.Millisecond)
	opts := Options{SampleRate: 8000, Grammar: []string{"agent"}}
	boom := errors.New("boom")
	for _, c := range []struct {
		name     string
		primary  *fakeRecognizer
		wantText string
		wantFell bool
	}{
		{"primary answers", &fakeRecognizer{text: "agent"}, "agent", false},
		{"finish fails", &fakeRecognizer{finishErr: boom}, "fallback heard", true},
		{"write fails", &fakeRecognizer{writeErr: boom}, "fallback heard", true},
		{"cannot open", &fakeRecognizer{openErr: boom}, "fallback heard", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.primary
			p.name = "primary"
			sec := &fakeRecognizer{name: "secondary", text: "fallback heard"}
			var logs bytes.Buffer
			base := slog.New(slog.NewTextHandler(&logs, nil))
			fb := NewFallback(p, sec, slog.New(slog.DiscardHandler))
			ctx := logctx.With(context.Background(), base.With("call_id", "c-42"))
			r, err := recognizeCtx(ctx, fb, pcm, opts)
			if err != nil || r.Text != c.wantText {
				t.Fatalf("result %+v, %v; want %q", r, err, c.wantText)
			}
			fell := len(sec.heard) > 0
			if fell != c.wantFell {
				t.Fatalf("fell back: %v", fell)
			}
			if fell {
				if r.Provider != "secondary" {
					t.Errorf("provider %q", r.Provider)
				}
				// The second try hears the whole utterance, unchanged.
				got := sec.heard[len(sec.heard)-1]
				if len(got) != len(pcm) || got[0] != pcm[0] || got[len(got)-1] != pcm[len(pcm)-1] {
					t.Errorf("fallback heard %d samples, want %d", len(got), len(pcm))
				}
				if l := logs.String(); !strings.Contains(l, "call_id=c-42") || !strings.Contains(l, "boom") ||
					!strings.Contains(l, "fallback=secondary") {
					t.Errorf("log does not tell the switch with the call id:\n%s", l)
				}
			} else if logs.Len() != 0 {
				t.Errorf("logged without a fallback:\n%s", logs.String())
			}
		})
	}
}

func recognizeCtx(ctx context.Context, r Recognizer, pcm []int16, opts Options) (Result, error) {
	s, err := r.NewStream(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	for i := 0; i < len(pcm); i += 160 {
		if err := s.Write(pcm[i:min(i+160, len(pcm))]); err != nil {
			return Result{}, err
		}
	}
	return s.Finish(ctx)
}

func TestFallbackBothFail(t *testing.T) {
	fb := NewFallback(&fakeRecognizer{name: "p", finishErr: errors.New("first")},
		&fakeRecognizer{name: "s", finishErr: errors.New("second")}, nil)
	_, err := recognizeCtx(context.Background(), fb, speechLike(8000, time.Second), Options{SampleRate: 8000})
	if err == nil || !strings.Contains(err.Error(), "first") || !strings.Contains(err.Error(), "second") {
		t.Errorf("error %v, want both", err)
	}
	fb = NewFallback(&fakeRecognizer{name: "p", finishErr: errors.New("first")},
		&fakeRecognizer{name: "s", openErr: ErrNeedGrammar}, nil)
	if _, err := recognizeCtx(context.Background(), fb, speechLike(8000, time.Second), Options{SampleRate: 8000}); !errors.Is(err, ErrNeedGrammar) {
		t.Errorf("error %v", err)
	}
}

// A caller that gives up (hang-up, barge-in) gets no second try.
func TestFallbackNotAfterCancel(t *testing.T) {
	p := &fakeRecognizer{name: "p", delay: time.Minute}
	sec := &fakeRecognizer{name: "s", text: "x"}
	fb := NewFallback(p, sec, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := recognizeCtx(ctx, fb, speechLike(8000, time.Second), Options{SampleRate: 8000})
	if !errors.Is(err, context.DeadlineExceeded) || len(sec.heard) != 0 {
		t.Errorf("error %v, fallback used %d times", err, len(sec.heard))
	}
}

func TestFallbackStreamLifecycle(t *testing.T) {
	fb := NewFallback(&fakeRecognizer{name: "p", text: "yes"}, &fakeRecognizer{name: "s"}, nil)
	if fb.Name() != "p" {
		t.Errorf("name %q", fb.Name())
	}
	ctx := context.Background()
	s, _ := fb.NewStream(ctx, Options{SampleRate: 8000})
	s.Write(make([]int16, 160))
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	expectFinished(t, ctx, s)
}

// The OpenAI provider failing in each way the network can, the utterance is
// recognized again by the second provider.
func TestFallbackFromOpenAI(t *testing.T) {
	for _, c := range []struct {
		name    string
		reply   func(w http.ResponseWriter, r *http.Request, u upload)
		timeout time.Duration
	}{
		{"500", answerError(500, "internal error"), time.Second},
		{"429", answerError(429, "Rate limit reached"), time.Second},
		{"slow", func(w http.ResponseWriter, r *http.Request, u upload) {
			<-r.Context().Done()
		}, 200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeOpenAI(t, c.reply)
			o, _ := testOpenAI(t, f, c.timeout)
			var logs bytes.Buffer
			fb := NewFallback(o, &fakeRecognizer{name: "embedded", text: "agent"}, slog.New(slog.NewTextHandler(&logs, nil)))
			began := time.Now()
			r, err := recognizeCtx(context.Background(), fb, speechLike(8000, time.Second), Options{SampleRate: 8000})
			if err != nil || r.Text != "agent" || r.Provider != "embedded" {
				t.Errorf("result %+v, %v", r, err)
			}
			if took := time.Since(began); took > c.timeout+time.Second {
				t.Errorf("took %v", took)
			}
			if !strings.Contains(logs.String(), "asr primary failed") || strings.Contains(logs.String(), testKey) {
				t.Errorf("log:\n%s", logs.String())
			}
		})
	}
}
