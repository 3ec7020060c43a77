package tts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/hotline-cc/hotline/media"
)

// OpenAIConfig configures the OpenAI-compatible speech provider. The API
// key comes only from the environment variable OPENAI_API_KEY.
type OpenAIConfig struct {
	// Model is the speech model. Default "tts-1".
	Model string `yaml:"model"`
	// Voice is the provider's voice. Default "alloy".
	Voice string `yaml:"voice"`
	// BaseURL is the API's base URL. Default: the OPENAI_BASE_URL
	// environment variable, else https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// Timeout bounds the wait for the first audio of a sentence, and any
	// later stall of the download; a longer sentence may take longer in
	// all. Default 1.5s, so with the embedded fallback a caller never waits
	// 2 s in silence.
	Timeout time.Duration `yaml:"timeout"`
	// Format is the response format asked for: "pcm" (raw 24 kHz 16-bit
	// little-endian mono, as OpenAI sends it) or "wav" (any 16-bit PCM
	// rate, for servers whose raw PCM is not 24 kHz). Default "pcm".
	Format string `yaml:"format"`
}

const (
	defaultOpenAIBaseURL = "https://api.openai.com/v1"
	// openAIPCMRate is the rate of OpenAI's "pcm" response format.
	openAIPCMRate = 24000
	// openAIReadBlock is how much of the body is decoded at a time: 100 ms
	// of 24 kHz PCM.
	openAIReadBlock = 4800
	// maxWAVHeader bounds the chunks read before a WAV body's data.
	maxWAVHeader = 64 << 10
)

// ErrTimeout is wrapped by errors from a provider that was too slow.
var ErrTimeout = errors.New("timed out")

func resolveBaseURL(u string) string {
	if u == "" {
		u = os.Getenv("OPENAI_BASE_URL")
	}
	if u == "" {
		u = defaultOpenAIBaseURL
	}
	return strings.TrimRight(u, "/")
}

type openAISpeech struct {
	client    *openai.Client
	transport *http.Transport
	cfg       OpenAIConfig // BaseURL resolved
	log       *slog.Logger
}

func newOpenAI(cfg OpenAIConfig, log *slog.Logger) (Synthesizer, error) {
	cfg.BaseURL = resolveBaseURL(cfg.BaseURL)
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tts: openai base url %q is not an http(s) URL", cfg.BaseURL)
	}
	key := os.Getenv("OPENAI_API_KEY")
	if key == "" && u.Host == "api.openai.com" {
		return nil, errors.New("tts: the openai provider needs the OPENAI_API_KEY environment variable")
	}
	cc := openai.DefaultConfig(key)
	cc.BaseURL = cfg.BaseURL
	// No overall client timeout: the body streams for as long as the
	// sentence lasts; Timeout is enforced on the first byte and on stalls.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // many calls speak at once to one host
	cc.HTTPClient = &http.Client{Transport: tr}
	log.Info("tts: openai speech", "base_url", cfg.BaseURL, "model", cfg.Model, "voice", cfg.Voice,
		"format", cfg.Format, "api_key_set", key != "")
	return &openAISpeech{client: openai.NewClientWithConfig(cc), transport: tr, cfg: cfg, log: log}, nil
}

// Close drops the idle connections to the server.
func (o *openAISpeech) Close() error {
	o.transport.CloseIdleConnections()
	return nil
}

func (o *openAISpeech) Name() string { return "openai/" + o.cfg.Model + "/" + o.cfg.Voice }

// cacheID tells apart servers that use the same model and voice names.
func (o *openAISpeech) cacheID() string {
	return o.Name() + "/" + o.cfg.Format + "@" + o.cfg.BaseURL
}

// watchdog cancels a request when the time between two signs of progress
// exceeds its timeout.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	mu    sync.Mutex
	fired bool
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.fired = true
		w.mu.Unlock()
		cancel()
	})
	return w
}

func (w *watchdog) arm()    { w.t.Reset(w.d) }
func (w *watchdog) disarm() { w.t.Stop() }
func (w *watchdog) timedOut() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// Synthesize sends the speech request and returns once the response
// headers are in; the body is decoded and resampled to rate as it
// downloads, so the first chunk is readable long before the body ends.
func (o *openAISpeech) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("tts: invalid rate %d Hz", rate)
	}
	text = strings.TrimSpace(strings.ToValidUTF8(text, " "))
	if text == "" {
		return newPCMStream(nil, rate), nil
	}
	rctx, cancel := context.WithCancel(ctx)
	wd := newWatchdog(o.cfg.Timeout, cancel)
	resp, err := o.client.CreateSpeech(rctx, openai.CreateSpeechRequest{
		Model:          openai.SpeechModel(o.cfg.Model),
		Input:          text,
		Voice:          openai.SpeechVoice(o.cfg.Voice),
		ResponseFormat: openai.SpeechResponseFormat(o.cfg.Format),
	})
	wd.disarm()
	if err != nil {
		cancel()
		return nil, o.fail(ctx, wd, err)
	}
	st := newPipe(rctx, cancel, func(send func([]int16) bool) error {
		defer resp.Close()
		defer cancel()
		err := o.decode(resp, wd, rate, send)
		if err != nil && rctx.Err() != nil {
			err = o.fail(ctx, wd, err)
		}
		return err
	})
	return st, nil
}

// fail names why a request failed: the parent's cancellation, the
// watchdog, or the server.
func (o *openAISpeech) fail(ctx context.Context, wd *watchdog, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case wd.timedOut():
		return fmt.Errorf("tts: openai speech: no audio for %v: %w", o.cfg.Timeout, ErrTimeout)
	}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		return fmt.Errorf("tts: openai speech: HTTP %d: %w", apiErr.HTTPStatusCode, err)
	case errors.As(err, &reqErr):
		return fmt.Errorf("tts: openai speech: HTTP %d: %w", reqErr.HTTPStatusCode, err)
	}
	return fmt.Errorf("tts: openai speech: %w", err)
}

// decode reads the body block by block, each read watched by wd, and
// sends the samples resampled to rate.
func (o *openAISpeech) decode(body io.Reader, wd *watchdog, rate int, send func([]int16) bool) error {
	read := func(p []byte) (int, error) {
		wd.arm()
		n, err := body.Read(p)
		wd.disarm()
		return n, err
	}
	var dec pcmDecoder
	var buf []byte
	if o.cfg.Format == "wav" {
		hdr, rest, err := readWAVHeader(read)
		if err != nil {
			return err
		}
		dec = hdr
		buf = rest
	} else {
		dec = pcmDecoder{rate: openAIPCMRate, channels: 1, remaining: -1}
	}
	rs := media.NewResampler(dec.rate, rate)
	skip := rs.Delay() // the resampler's lead-in: time-align like media.Resample
	var out []int16
	emit := func(pcm []int16, flush bool) bool {
		out = rs.Process(out[:0], pcm)
		if flush {
			out = append(out, rs.Flush(nil)...)
		}
		if skip > 0 {
			d := min(skip, len(out))
			out, skip = out[d:], skip-d
		}
		if len(out) == 0 {
			return true
		}
		return send(append([]int16(nil), out...))
	}
	block := make([]byte, openAIReadBlock)
	total := int64(len(buf))
	for {
		pcm, err := dec.take(&buf)
		if err != nil {
			return err
		}
		if !emit(pcm, false) {
			return context.Canceled
		}
		if dec.remaining == 0 {
			break // the WAV data chunk's declared end; the rest is trailer
		}
		n, rerr := read(block)
		buf = append(buf, block[:n]...)
		total += int64(n)
		if errors.Is(rerr, io.EOF) {
			pcm, err := dec.take(&buf)
			if err != nil {
				return err
			}
			switch {
			case len(buf) != 0:
				return fmt.Errorf("tts: openai speech: body ends in the middle of a sample (%d bytes): %w", total, io.ErrUnexpectedEOF)
			case dec.remaining > 0:
				return fmt.Errorf("tts: openai speech: wav body ends %d bytes short of its data chunk: %w", dec.remaining, io.ErrUnexpectedEOF)
			}
			if !emit(pcm, true) {
				return context.Canceled
			}
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("tts: openai speech: body cut off after %d bytes: %w", total, rerr)
		}
	}
	if !emit(nil, true) {
		return context.Canceled
	}
	return nil
}

// pcmDecoder turns 16-bit little-endian interleaved bytes into mono.
type pcmDecoder struct {
	rate, channels int
	remaining      int64 // data bytes still expected; -1 when unknown
}

// take decodes the whole frames at the front of *buf and leaves the rest.
func (d *pcmDecoder) take(buf *[]byte) ([]int16, error) {
	b := *buf
	if d.remaining >= 0 && int64(len(b)) > d.remaining {
		b = b[:d.remaining]
	}
	fb := 2 * d.channels
	n := len(b) / fb
	pcm := make([]int16, n)
	for i := range n {
		var sum int
		for c := range d.channels {
			sum += int(int16(binary.LittleEndian.Uint16(b[i*fb+2*c:])))
		}
		pcm[i] = int16(sum / d.channels)
	}
	used := n * fb
	if d.remaining >= 0 {
		d.remaining -= int64(used)
		if d.remaining == 0 {
			*buf = (*buf)[:0]
			return pcm, nil
		}
	}
	*buf = append((*buf)[:0], (*buf)[used:]...)
	return pcm, nil
}

// readWAVHeader reads a streamed WAV's chunks up to the start of its
// samples and returns the decoder and the sample bytes already read. A
// streaming server may not know the data size and send 0 or 0xFFFFFFFF;
// then the samples run to the end of the body.
func readWAVHeader(read func([]byte) (int, error)) (pcmDecoder, []byte, error) {
	var b []byte
	block := make([]byte, 4096)
	need := func(n int) error {
		for len(b) < n {
			if len(b) > maxWAVHeader {
				return errors.New("tts: openai speech: wav header too long")
			}
			m, err := read(block)
			b = append(b, block[:m]...)
			if err != nil && len(b) < n {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("tts: openai speech: wav header cut off: %w", err)
			}
		}
		return nil
	}
	if err := need(12); err != nil {
		return pcmDecoder{}, nil, err
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return pcmDecoder{}, nil, errors.New("tts: openai speech: body is not a wav file")
	}
	le := binary.LittleEndian
	var d pcmDecoder
	off := 12
	for {
		if err := need(off + 8); err != nil {
			return d, nil, err
		}
		id, size := string(b[off:off+4]), int64(le.Uint32(b[off+4:]))
		off += 8
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return d, nil, fmt.Errorf("tts: openai speech: wav fmt chunk of %d bytes", size)
			}
			if err := need(off + int(size)); err != nil {
				return d, nil, err
			}
			format, bits := le.Uint16(b[off:]), le.Uint16(b[off+14:])
			if format == 0xFFFE && size >= 26 {
				format = le.Uint16(b[off+24:])
			}
			d.channels, d.rate = int(le.Uint16(b[off+2:])), int(le.Uint32(b[off+4:]))
			if format != 1 || bits != 16 || d.channels < 1 || d.channels > 8 || d.rate < 4000 || d.rate > 192000 {
				return d, nil, fmt.Errorf("tts: openai speech: wav is not 16-bit PCM (format %d, %d bits, %d channels, %d Hz)", format, bits, d.channels, d.rate)
			}
			off += int(size + size&1)
		case "data":
			if d.rate == 0 {
				return d, nil, errors.New("tts: openai speech: wav data before fmt")
			}
			d.remaining = size
			if size == 0 || size >= 0xFFFFFFF0 {
				d.remaining = -1 // streamed: size unknown
			}
			return d, append([]byte(nil), b[off:]...), nil
		default:
			if off+int(size) > maxWAVHeader {
				return d, nil, fmt.Errorf("tts: openai speech: wav chunk %q of %d bytes before the data", id, size)
			}
			off += int(size + size&1)
		}
	}
}
