package asr

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
)

const testKey = "sk-test-0123456789abcdef"

// upload is what the fake server received.
type upload struct {
	model, language, prompt, format string
	filename                        string
	rate                            int
	pcm                             []int16
}

// fakeOpenAI is an OpenAI-compatible transcription server. It checks the
// request as the real API would and answers with its reply function.
type fakeOpenAI struct {
	t     *testing.T
	srv   *httptest.Server
	reply func(w http.ResponseWriter, r *http.Request, u upload)

	mu      sync.Mutex
	uploads []upload
	calls   atomic.Int32
}

func newFakeOpenAI(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, u upload)) *fakeOpenAI {
	f := &fakeOpenAI{t: t, reply: reply}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	fail := func(code int, msg string) {
		f.t.Errorf("fake openai: %s", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		fail(http.StatusNotFound, "unexpected "+r.Method+" "+r.URL.Path)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		fail(http.StatusUnauthorized, "Authorization: "+got)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		fail(http.StatusBadRequest, "content type "+r.Header.Get("Content-Type"))
		return
	}
	var u upload
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(http.StatusBadRequest, "multipart: "+err.Error())
			return
		}
		data, _ := io.ReadAll(p)
		switch p.FormName() {
		case "model":
			u.model = string(data)
		case "language":
			u.language = string(data)
		case "prompt":
			u.prompt = string(data)
		case "response_format":
			u.format = string(data)
		case "file":
			u.filename = p.FileName()
			if len(data) < 44 || string(data[:4]) != "RIFF" {
				fail(http.StatusBadRequest, "file is not a WAV file")
				return
			}
			u.rate = int(binary.LittleEndian.Uint32(data[24:]))
			pcm, err := media.LoadWAV(bytes.NewReader(data), u.rate)
			if err != nil {
				fail(http.StatusBadRequest, "file is not a WAV file: "+err.Error())
				return
			}
			if ch, bits := binary.LittleEndian.Uint16(data[22:]), binary.LittleEndian.Uint16(data[34:]); ch != 1 || bits != 16 {
				fail(http.StatusBadRequest, "WAV not 16-bit mono")
				return
			}
			u.pcm = pcm
		}
	}
	if u.model == "" || u.filename == "" {
		fail(http.StatusBadRequest, "model and file are required")
		return
	}
	f.mu.Lock()
	f.uploads = append(f.uploads, u)
	f.mu.Unlock()
	f.reply(w, r, u)
}

func (f *fakeOpenAI) lastUpload() upload {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.uploads) == 0 {
		return upload{}
	}
	return f.uploads[len(f.uploads)-1]
}

func answerText(text string) func(w http.ResponseWriter, r *http.Request, u upload) {
	return func(w http.ResponseWriter, r *http.Request, u upload) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-request-id", "req_test")
		json.NewEncoder(w).Encode(map[string]any{"text": text, "usage": map[string]any{"type": "duration", "seconds": 2}})
	}
}

func answerError(code int, msg string) func(w http.ResponseWriter, r *http.Request, u upload) {
	return func(w http.ResponseWriter, r *http.Request, u upload) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "server_error", "code": nil}})
	}
}

// testOpenAI makes the recognizer against the fake server, with the test
// key in the environment and its log captured.
func testOpenAI(t *testing.T, f *fakeOpenAI, timeout time.Duration) (*OpenAI, *bytes.Buffer) {
	t.Helper()
	t.Setenv(EnvAPIKey, testKey)
	var logs bytes.Buffer
	o, err := NewOpenAI(OpenAIConfig{Model: "whisper-1", BaseURL: f.srv.URL + "/v1/", Language: "en", Timeout: timeout},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return o, &logs
}

// speechLike is a loud test signal, long enough to be sent.
func speechLike(rate int, d time.Duration) []int16 {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16((i*7919)%20000 - 10000)
	}
	return pcm
}

func TestOpenAITranscribes(t *testing.T) {
	f := newFakeOpenAI(t, answerText(" Leave a message. "))
	o, logs := testOpenAI(t, f, 2*time.Second)
	pcm := speechLike(8000, 1500*time.Millisecond)
	r, err := recognize(t, o, pcm, Options{SampleRate: 8000, Grammar: []string{"leave a message", "agent"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Text: "Leave a message.", Final: true, Confidence: -1, End: 1500 * time.Millisecond, Provider: "openai"}
	if r != want {
		t.Errorf("result %+v, want %+v", r, want)
	}
	u := f.lastUpload()
	if u.model != "whisper-1" || u.language != "en" || u.format != "json" || u.filename != "utterance.wav" {
		t.Errorf("upload fields %+v", u)
	}
	if u.prompt != "leave a message, agent" {
		t.Errorf("prompt %q", u.prompt)
	}
	if u.rate != 8000 || len(u.pcm) != len(pcm) || u.pcm[100] != pcm[100] || u.pcm[len(pcm)-1] != pcm[len(pcm)-1] {
		t.Errorf("audio: %d Hz, %d samples, want 8000 Hz, %d", u.rate, len(u.pcm), len(pcm))
	}
	if strings.Contains(logs.String(), testKey) {
		t.Error("the API key was logged")
	}

	// Chinese: the language goes with the request; wideband at its rate.
	f.reply = answerText("我想找人工客服")
	r, err = recognize(t, o, speechLike(16000, time.Second), Options{SampleRate: 16000, Language: "zh"})
	if err != nil || r.Text != "我想找人工客服" {
		t.Errorf("zh: %+v, %v", r, err)
	}
	if u := f.lastUpload(); u.language != "zh" || u.rate != 16000 || u.prompt != "" {
		t.Errorf("zh upload %+v", u)
	}
}

func TestOpenAISilenceIsNotSent(t *testing.T) {
	f := newFakeOpenAI(t, answerText("Thank you for watching."))
	o, _ := testOpenAI(t, f, time.Second)
	for _, pcm := range [][]int16{nil, make([]int16, 8000), {50, -60, 30}} {
		r, err := recognize(t, o, pcm, Options{SampleRate: 8000})
		if err != nil || r.Text != "" || !r.Final {
			t.Errorf("silence: %+v, %v", r, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests for silence", n)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request, u upload)
		want  string
	}{
		{"500", answerError(500, "The server had an error while processing your request."), "500"},
		{"429", answerError(429, "Rate limit reached for requests"), "429"},
		{"not json", func(w http.ResponseWriter, r *http.Request, u upload) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
		}, "502"},
		{"cut-off body", func(w http.ResponseWriter, r *http.Request, u upload) {
			// Headers promise more than arrives, then the connection drops.
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"text\": \"Leave a mes")
			buf.Flush()
			conn.Close()
		}, "unexpected EOF"},
		{"malformed json", func(w http.ResponseWriter, r *http.Request, u upload) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"text": "agent"`)
		}, "unexpected EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeOpenAI(t, c.reply)
			o, logs := testOpenAI(t, f, 2*time.Second)
			_, err := recognize(t, o, speechLike(8000, time.Second), Options{SampleRate: 8000})
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "asr openai:") {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error()+logs.String(), testKey) {
				t.Error("the API key leaked")
			}
		})
	}
}

func TestOpenAITimeout(t *testing.T) {
	f := newFakeOpenAI(t, func(w http.ResponseWriter, r *http.Request, u upload) {
		select { // an answer that comes too late
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		answerText("agent")(w, r, u)
	})
	o, _ := testOpenAI(t, f, 300*time.Millisecond)
	began := time.Now()
	_, err := recognize(t, o, speechLike(8000, time.Second), Options{SampleRate: 8000})
	took := time.Since(began)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("error %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("gave up after %v, timeout 300ms", took)
	}
}

func TestOpenAIStreamLifecycle(t *testing.T) {
	f := newFakeOpenAI(t, answerText("yes"))
	o, _ := testOpenAI(t, f, time.Second)
	ctx := context.Background()
	s, err := o.NewStream(ctx, Options{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(speechLike(8000, 500*time.Millisecond))
	if _, err := s.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, open := <-s.Partials(); open {
		t.Error("Partials open after Finish")
	}
	expectFinished(t, ctx, s)
	s, _ = o.NewStream(ctx, Options{SampleRate: 8000})
	s.Close()
	if _, err := s.Finish(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish after Close: %v", err)
	}
	if _, err := o.NewStream(ctx, Options{}); err == nil {
		t.Error("no sample rate accepted")
	}
}

func TestEncodeWAV(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	b := EncodeWAV(pcm, 16000)
	if len(b) != 44+12 || string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " {
		t.Fatalf("header % x", b[:16])
	}
	got, err := media.LoadWAV(bytes.NewReader(b), 16000)
	if err != nil || len(got) != len(pcm) {
		t.Fatalf("LoadWAV: %v, %d samples", err, len(got))
	}
	for i := range pcm {
		if got[i] != pcm[i] {
			t.Errorf("sample %d: %d, want %d", i, got[i], pcm[i])
		}
	}
}
