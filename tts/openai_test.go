package tts

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/media"
)

const testKey = "sk-test-0123456789abcdef"

// speechServer is an OpenAI-compatible speech endpoint that checks each
// request's wire format before handle answers it.
type speechServer struct {
	t      *testing.T
	srv    *httptest.Server
	handle func(w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []map[string]any
}

func newSpeechServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *speechServer {
	s := &speechServer{t: t, handle: handle}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *speechServer) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(format string, args ...any) {
		s.t.Errorf("speech request: "+format, args...)
		http.Error(w, "bad request", http.StatusBadRequest)
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v1/audio/speech":
		fail("%s %s, want POST /v1/audio/speech", r.Method, r.URL.Path)
		return
	case r.Header.Get("Authorization") != "Bearer "+testKey:
		fail("Authorization %q", r.Header.Get("Authorization"))
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		fail("Content-Type %q", r.Header.Get("Content-Type"))
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail("body: %v", err)
		return
	}
	for _, k := range []string{"model", "input", "voice", "response_format"} {
		if v, ok := body[k].(string); !ok || v == "" {
			fail("field %q = %v, want a string", k, body[k])
			return
		}
	}
	for k := range body {
		if !slices.Contains([]string{"model", "input", "voice", "response_format"}, k) {
			fail("unexpected field %q", k)
		}
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, body)
	s.mu.Unlock()
	s.handle(w, r)
}

func (s *speechServer) requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// synth returns the OpenAI provider pointed at the server.
func (s *speechServer) synth(t *testing.T, mod func(*OpenAIConfig)) Synthesizer {
	t.Setenv("OPENAI_API_KEY", testKey)
	cfg := DefaultConfig().OpenAI
	cfg.BaseURL = s.srv.URL + "/v1"
	cfg.Timeout = time.Second
	if mod != nil {
		mod(&cfg)
	}
	o, err := newOpenAI(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// speechSignal stands in for a voice: two tones, 1.2 s at 24 kHz.
func speechSignal() []int16 {
	a := audiotest.Tone(24000, 440, 0.3, 28800)
	b := audiotest.Tone(24000, 1000, 0.2, 28800)
	for i := range a {
		a[i] += b[i]
	}
	return a
}

func pcmBytes(pcm []int16) []byte {
	out := make([]byte, 0, 2*len(pcm))
	for _, v := range pcm {
		out = binary.LittleEndian.AppendUint16(out, uint16(v))
	}
	return out
}

// writeChunks sends data in pieces of size bytes (odd sizes split
// samples), flushing each, with delay between them.
func writeChunks(w http.ResponseWriter, r *http.Request, data []byte, size int, delay time.Duration) bool {
	for len(data) > 0 {
		n := min(size, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			return false
		}
		w.(http.Flusher).Flush()
		data = data[n:]
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

func TestOpenAIStreamsWhileDownloading(t *testing.T) {
	noLeaks(t)
	signal := speechSignal()
	body := pcmBytes(signal)
	heard := make(chan struct{})
	finished := make(chan struct{})
	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		w.Header().Set("Content-Type", "application/octet-stream")
		// 200 ms, then nothing more until the client has played audio.
		if !writeChunks(w, r, body[:9600], 4801, 5*time.Millisecond) {
			return
		}
		select {
		case <-heard:
		case <-time.After(5 * time.Second):
			t.Error("the client heard nothing from the first 200 ms of the body")
		}
		writeChunks(w, r, body[9600:], 4801, 10*time.Millisecond)
	})
	s := srv.synth(t, nil)
	ctx := context.Background()
	st, err := s.Synthesize(ctx, "Thank you for calling Hotline.", 8000)
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Read(ctx)
	if err != nil || len(first) == 0 {
		t.Fatalf("first Read: %d samples, %v", len(first), err)
	}
	select {
	case <-finished:
		t.Fatal("the body was complete before the first chunk")
	default:
	}
	close(heard)
	rest, err := ReadAll(ctx, st)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	got := append(first, rest...)
	// Streaming resampling gives exactly what resampling the whole body
	// gives: no clicks where the download's chunks meet.
	if want := media.Resample(signal, 24000, 8000); !slices.Equal(got, want) {
		t.Fatalf("decoded %d samples, differing from media.Resample's %d", len(got), len(want))
	}
	if a, b := audiotest.ToneShare(got, 8000, 440), audiotest.ToneShare(got, 8000, 1000); a < 0.5 || b < 0.2 {
		t.Errorf("tone shares 440 Hz %.2f, 1000 Hz %.2f", a, b)
	}
	req := srv.requests()[0]
	want := map[string]any{"model": "tts-1", "voice": "alloy", "input": "Thank you for calling Hotline.", "response_format": "pcm"}
	for k, v := range want {
		if req[k] != v {
			t.Errorf("request %s = %v, want %v", k, req[k], v)
		}
	}
	if s.Name() != "openai/tts-1/alloy" {
		t.Errorf("Name %q", s.Name())
	}
}

// wavHeader is a streamed WAV's header with a LIST chunk before the data,
// as some servers send; dataSize 0xFFFFFFFF means unknown.
func wavHeader(rate, channels int, dataSize uint32) []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, 0xFFFFFFFF)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, uint16(channels))
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*channels*2))
	b = le.AppendUint16(b, uint16(channels*2))
	b = le.AppendUint16(b, 16)
	b = append(b, "LIST"...)
	b = le.AppendUint32(b, 5)
	b = append(b, "INFOx\x00"...) // odd size, padded
	b = append(b, "data"...)
	return le.AppendUint32(b, dataSize)
}

func TestOpenAIWAV(t *testing.T) {
	noLeaks(t)
	left := audiotest.Tone(16000, 500, 0.4, 16000)
	right := audiotest.Tone(16000, 500, 0.2, 16000)
	var inter []int16
	mono := make([]int16, len(left))
	for i := range left {
		inter = append(inter, left[i], right[i])
		mono[i] = int16((int(left[i]) + int(right[i])) / 2)
	}
	for _, size := range []uint32{0xFFFFFFFF, uint32(4 * len(left))} {
		t.Run(strconv.FormatUint(uint64(size), 16), func(t *testing.T) {
			srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "audio/wav")
				body := append(wavHeader(16000, 2, size), pcmBytes(inter)...)
				body = append(body, "trailing junk"...) // past a declared size: ignored
				if size == 0xFFFFFFFF {
					body = body[:len(body)-len("trailing junk")]
				}
				writeChunks(w, r, body, 1001, time.Millisecond)
			})
			s := srv.synth(t, func(c *OpenAIConfig) { c.Format = "wav" })
			st, err := s.Synthesize(context.Background(), "Hello there.", 8000)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			if want := media.Resample(mono, 16000, 8000); !slices.Equal(got, want) {
				t.Fatalf("decoded %d samples, want media.Resample's %d", len(got), len(want))
			}
			if srv.requests()[0]["response_format"] != "wav" {
				t.Errorf("response_format %v", srv.requests()[0]["response_format"])
			}
		})
	}
}

func TestOpenAIHTTPErrors(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		code int
		body string
		want string
	}{
		{500, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`, "HTTP 500"},
		{429, `{"error":{"message":"Rate limit reached for tts-1","type":"requests","code":"rate_limit_exceeded"}}`, "Rate limit reached"},
		{401, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`, "HTTP 401"},
		{502, `<html>Bad Gateway</html>`, "HTTP 502"},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			})
			st, err := srv.synth(t, nil).Synthesize(context.Background(), "Hello there.", 8000)
			if err == nil {
				st.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Error("the error shows the API key")
			}
		})
	}
}

func TestOpenAISlowFirstByte(t *testing.T) {
	noLeaks(t)
	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		select { // longer than the timeout
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	s := srv.synth(t, func(c *OpenAIConfig) { c.Timeout = 150 * time.Millisecond })
	t0 := time.Now()
	_, err := s.Synthesize(context.Background(), "Hello there.", 8000)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("gave up after %v, want about 150 ms", d)
	}
}

func TestOpenAIStallMidBody(t *testing.T) {
	noLeaks(t)
	body := pcmBytes(speechSignal())
	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeChunks(w, r, body[:9600], 4800, 0)
		<-r.Context().Done() // and then nothing
	})
	s := srv.synth(t, func(c *OpenAIConfig) { c.Timeout = 150 * time.Millisecond })
	st, err := s.Synthesize(context.Background(), "Hello there.", 8000)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	got, err := ReadAll(context.Background(), st)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if len(got) == 0 || time.Since(t0) > time.Second {
		t.Errorf("%d samples before the stall, gave up after %v", len(got), time.Since(t0))
	}
}

func TestOpenAICutOffBody(t *testing.T) {
	noLeaks(t)
	body := pcmBytes(speechSignal())
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			writeChunks(w, r, body[:len(body)/2], 4800, time.Millisecond)
		}},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			writeChunks(w, r, body[:len(body)/2], 4800, time.Millisecond)
			panic(http.ErrAbortHandler)
		}},
		{"half a sample", func(w http.ResponseWriter, r *http.Request) {
			writeChunks(w, r, body[:len(body)/2+1], 4800, time.Millisecond)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSpeechServer(t, tc.handle)
			srv.srv.Config.ErrorLog = nil
			st, err := srv.synth(t, nil).Synthesize(context.Background(), "Hello there.", 8000)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadAll(context.Background(), st)
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("a cut-off body read as complete (%d samples)", len(got))
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
			}
			if len(got) == 0 {
				t.Error("no audio before the cut")
			}
		})
	}
}

func TestOpenAICloseMidStream(t *testing.T) {
	noLeaks(t)
	body := pcmBytes(speechSignal())
	cancelled := make(chan struct{})
	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeChunks(w, r, body, 480, 20*time.Millisecond) // 10 ms every 20 ms
		if r.Context().Err() != nil {
			close(cancelled)
		}
	})
	st, err := srv.synth(t, nil).Synthesize(context.Background(), "Hello there.", 8000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	st.Close()
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Error("the server went on sending after Close")
	}
	if _, err := st.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func TestOpenAIKeyAndBaseURL(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	if _, err := newOpenAI(DefaultConfig().OpenAI, log); err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("no key for api.openai.com: %v", err)
	}
	// A self-hosted server may need no key.
	t.Setenv("OPENAI_BASE_URL", "http://tts.internal:8880/v1/")
	s, err := newOpenAI(DefaultConfig().OpenAI, log)
	if err != nil {
		t.Fatal(err)
	}
	if id := s.(*openAISpeech).cacheID(); !strings.HasSuffix(id, "@http://tts.internal:8880/v1") {
		t.Errorf("base url from the environment: cache id %q", id)
	}
	t.Setenv("OPENAI_BASE_URL", "ftp://nope")
	if _, err := newOpenAI(DefaultConfig().OpenAI, log); err == nil {
		t.Error("ftp base url accepted")
	}

	srv := newSpeechServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"slow down"}}`)
	})
	t.Setenv("OPENAI_API_KEY", testKey)
	cfg := DefaultConfig()
	cfg.Provider, cfg.Fallback, cfg.CacheDir = ProviderOpenAI, "", ""
	cfg.OpenAI.BaseURL = srv.srv.URL + "/v1"
	s, err = New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Synthesize(context.Background(), "Hello there.", 8000); err == nil {
		t.Error("429 gave no error")
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("the API key is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "api_key_set=true") {
		t.Errorf("the log does not say a key is set:\n%s", logs.String())
	}
}
