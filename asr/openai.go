package asr

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	openai "github.com/sashabaranov/go-openai"
)

const (
	// maxPromptChars bounds the grammar hint sent as the prompt; Whisper
	// reads about 224 tokens of it.
	maxPromptChars = 800
	// silentPeak: an utterance whose samples all stay below this (-50 dBFS)
	// is silence, and is not sent: Whisper would invent words for it.
	silentPeak = 104
)

func init() {
	Register("openai", func(cfg Config, log *slog.Logger) (Recognizer, error) {
		o := cfg.OpenAI
		if o.Language == "" {
			o.Language = cfg.Language
		}
		return NewOpenAI(o, log)
	})
}

// OpenAI is a recognizer using an OpenAI-compatible transcription endpoint
// (POST {base_url}/audio/transcriptions). Each utterance is buffered and
// sent as one WAV file when it ends.
type OpenAI struct {
	cfg    OpenAIConfig
	client *openai.Client
}

// NewOpenAI makes the recognizer. The API key comes from the environment
// variable OPENAI_API_KEY; a self-hosted server may need none.
func NewOpenAI(cfg OpenAIConfig, log *slog.Logger) (*OpenAI, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	def := DefaultOpenAIConfig()
	if cfg.Model == "" {
		cfg.Model = def.Model
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = def.BaseURL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	key := os.Getenv(EnvAPIKey)
	if key == "" {
		log.Warn("asr openai: " + EnvAPIKey + " is not set; requests go without a key")
	}
	cc := openai.DefaultConfig(key)
	cc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	// The deadline is the context's, per request.
	cc.HTTPClient = &http.Client{}
	return &OpenAI{cfg: cfg, client: openai.NewClientWithConfig(cc)}, nil
}

// Name is "openai".
func (o *OpenAI) Name() string { return "openai" }

// NewStream starts buffering an utterance.
func (o *OpenAI) NewStream(ctx context.Context, opts Options) (Stream, error) {
	if opts.SampleRate < 8000 {
		return nil, fmt.Errorf("asr: sample rate %d Hz: want 8000 or more", opts.SampleRate)
	}
	s := &openaiStream{o: o, opts: opts, partials: make(chan Result)}
	if s.opts.Language == "" {
		s.opts.Language = o.cfg.Language
	}
	return s, nil
}

type openaiStream struct {
	o        *OpenAI
	opts     Options
	partials chan Result

	mu     sync.Mutex
	audio  []int16
	peak   int
	closed bool
}

func (s *openaiStream) Partials() <-chan Result { return s.partials }

func (s *openaiStream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.audio)+len(pcm) > maxBuffered {
		return fmt.Errorf("asr openai: utterance longer than %v", samplesDuration(maxBuffered, 48000))
	}
	s.audio = append(s.audio, pcm...)
	for _, v := range pcm {
		s.peak = max(s.peak, abs(int(v)))
	}
	return nil
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func (s *openaiStream) Finish(ctx context.Context) (Result, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Result{}, ErrClosed
	}
	s.closed = true
	close(s.partials)
	audio, peak := s.audio, s.peak
	s.audio = nil
	s.mu.Unlock()

	r := Result{Final: true, Confidence: -1, Provider: "openai"}
	if peak < silentPeak {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.cfg.Timeout)
	defer cancel()
	resp, err := s.o.client.CreateTranscription(ctx, openai.AudioRequest{
		Model:    s.o.cfg.Model,
		FilePath: "utterance.wav",
		Reader:   bytes.NewReader(EncodeWAV(audio, s.opts.SampleRate)),
		Prompt:   grammarPrompt(s.opts.Grammar),
		Language: s.opts.Language,
		Format:   openai.AudioResponseFormatJSON,
	})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Result{}, fmt.Errorf("asr openai: no answer within %v: %w", s.o.cfg.Timeout, err)
		}
		return Result{}, fmt.Errorf("asr openai: %w", err)
	}
	r.Text = strings.TrimSpace(resp.Text)
	if r.Text != "" {
		r.End = samplesDuration(int64(len(audio)), s.opts.SampleRate)
	}
	return r, nil
}

func (s *openaiStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.partials)
	}
	s.audio = nil
	return nil
}

// grammarPrompt turns the phrases expected into a prompt that steers the
// transcription towards them.
func grammarPrompt(phrases []string) string {
	var b strings.Builder
	for _, p := range phrases {
		if b.Len()+len(p)+2 > maxPromptChars {
			break
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// EncodeWAV returns pcm as a WAV file: 16-bit mono at rate.
func EncodeWAV(pcm []int16, rate int) []byte {
	data := 2 * len(pcm)
	b := make([]byte, 44, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for _, v := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}
