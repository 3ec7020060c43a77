// Package openaitest is an OpenAI-compatible chat completions server for
// tests. It speaks the wire format of POST /v1/chat/completions, streamed
// (server-sent events, as OpenAI sends them) and not, checks the bearer key,
// records every request, and answers each request with the next Reply a test
// scripted: text in chunks, tool calls split across deltas, HTTP errors, or
// a stall.
package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Reply is the scripted answer to one request.
type Reply struct {
	// Chunks are the reply's text, one content delta each.
	Chunks []string
	// ToolCalls follow the text.
	ToolCalls []ToolCall
	// Interleave sends the tool calls' argument fragments round robin,
	// call 0's first, call 1's first, ..., instead of call after call, so
	// a client must assemble them by index.
	Interleave bool
	// Delay is waited before each event of a streamed reply.
	Delay time.Duration
	// Hold holds back content chunk i until Hold[i] is closed: a test can
	// see what the client did with the chunks before it, and know the
	// rest has not been sent.
	Hold map[int]<-chan struct{}
	// Status, when not 0, answers with that HTTP status and the OpenAI
	// error JSON carrying Message.
	Status  int
	Message string
	// Stall sends nothing, not even headers, until the client gives up.
	Stall bool
	// Cancelled, when set, is closed if the client went away before the
	// reply was complete.
	Cancelled chan struct{}
}

// ToolCall is one function call of a reply.
type ToolCall struct {
	ID   string
	Name string
	// Args is the arguments' JSON text, sent in Split fragments (at least
	// one) after the delta naming the call.
	Args  string
	Split int
}

// Text is a reply streaming chunks.
func Text(chunks ...string) Reply { return Reply{Chunks: chunks} }

// Calls is a reply of tool calls only.
func Calls(calls ...ToolCall) Reply { return Reply{ToolCalls: calls} }

// Error is an HTTP error reply.
func Error(status int, message string) Reply { return Reply{Status: status, Message: message} }

// Request is one request the server received.
type Request struct {
	Header http.Header
	// Body is the raw JSON; Chat is the same decoded.
	Body []byte
	Chat openai.ChatCompletionRequest
}

// Server is the test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL a client is configured with, ending in /v1.
	URL string
	// Key is the API key a request must carry as a bearer token; empty
	// accepts any request.
	Key string

	t         testing.TB
	srv       *httptest.Server
	quit      chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	script   []Reply
	answer   func(Request) Reply
	requests []Request
}

// New starts a server accepting key, closed when the test ends.
func New(t testing.TB, key string) *Server {
	s := &Server{Key: key, t: t, quit: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/v1"
	t.Cleanup(s.close)
	return s
}

// close releases held and stalled handlers first: httptest waits for
// every request in flight.
func (s *Server) close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.srv.Close()
	})
}

// Script queues replies, answered in order by the coming requests.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// Answer makes f answer the requests the script leaves unanswered, for a
// reply that depends on the request. f runs on the server's goroutines.
func (s *Server) Answer(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

// Pending is how many scripted replies are not used yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Last returns the latest request; the test fails without one.
func (s *Server) Last() Request {
	s.t.Helper()
	r := s.Requests()
	if len(r) == 0 {
		s.t.Fatal("openaitest: no request received")
	}
	return r[len(r)-1]
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	if s.Key != "" && r.Header.Get("Authorization") != "Bearer "+s.Key {
		writeError(w, http.StatusUnauthorized, "Incorrect API key provided.", "invalid_api_key")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := Request{Header: r.Header.Clone(), Body: body}
	if err := json.Unmarshal(body, &req.Chat); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error(), "invalid_request_error")
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	var reply Reply
	answer := s.answer
	ok := len(s.script) > 0
	if ok {
		reply, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if !ok && answer != nil {
		reply, ok = answer(req), true
	}
	if !ok {
		s.t.Errorf("openaitest: request %d has no scripted reply", len(s.Requests()))
		writeError(w, http.StatusInternalServerError, "no reply scripted", "server_error")
		return
	}

	complete := false
	if reply.Cancelled != nil {
		defer func() {
			if !complete {
				close(reply.Cancelled)
			}
		}()
	}
	switch {
	case reply.Stall:
		wait[struct{}](s, r, nil)
	case reply.Status != 0:
		writeError(w, reply.Status, reply.Message, http.StatusText(reply.Status))
		complete = true
	case req.Chat.Stream:
		complete = s.stream(w, r, req.Chat.Model, reply)
	default:
		complete = s.whole(w, req.Chat.Model, reply)
	}
}

// wait waits for ch (nil: forever), reporting false if the client went away first. When
// the test ends first it drops the connection: a reply cut short would
// read as complete to a client (a stream ends at EOF as at [DONE]).
func wait[T any](s *Server, r *http.Request, ch <-chan T) bool {
	select {
	case <-ch:
		return true
	case <-r.Context().Done():
		return false
	case <-s.quit:
		panic(http.ErrAbortHandler)
	}
}

// writeError answers as OpenAI does: {"error": {message, type, param, code}}.
func writeError(w http.ResponseWriter, status int, message, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": message, "type": typ, "param": nil, "code": code,
	}})
}

// Wire types, with the nulls and empty strings OpenAI sends.
type (
	chunk struct {
		ID      string        `json:"id"`
		Object  string        `json:"object"`
		Created int64         `json:"created"`
		Model   string        `json:"model"`
		Choices []chunkChoice `json:"choices"`
	}
	chunkChoice struct {
		Index        int     `json:"index"`
		Delta        delta   `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	}
	delta struct {
		Role      string          `json:"role,omitempty"`
		Content   *string         `json:"content,omitempty"`
		ToolCalls []toolCallDelta `json:"tool_calls,omitempty"`
	}
	toolCallDelta struct {
		Index    int           `json:"index"`
		ID       string        `json:"id,omitempty"`
		Type     string        `json:"type,omitempty"`
		Function functionDelta `json:"function"`
	}
	functionDelta struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
)

const created = 1_700_000_000

// stream sends reply as server-sent events; it reports whether all of it
// was sent.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, model string, reply Reply) bool {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(d delta, finish *string) bool {
		if reply.Delay > 0 && !wait(s, r, time.After(reply.Delay)) {
			return false
		}
		b, err := json.Marshal(chunk{
			ID: "chatcmpl-openaitest", Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []chunkChoice{{Delta: d, FinishReason: finish}},
		})
		if err != nil {
			panic(err) // the wire types always marshal
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil && r.Context().Err() == nil
	}

	empty := ""
	if !send(delta{Role: "assistant", Content: &empty}, nil) {
		return false
	}
	for i, c := range reply.Chunks {
		if h := reply.Hold[i]; h != nil && !wait(s, r, h) {
			return false
		}
		if !send(delta{Content: &c}, nil) {
			return false
		}
	}
	for _, d := range toolDeltas(reply.ToolCalls, reply.Interleave) {
		if !send(delta{ToolCalls: []toolCallDelta{d}}, nil) {
			return false
		}
	}
	finish := string(openai.FinishReasonStop)
	if len(reply.ToolCalls) > 0 {
		finish = string(openai.FinishReasonToolCalls)
	}
	if !send(delta{}, &finish) {
		return false
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// toolDeltas cuts the calls into deltas: the first of each names the call
// with empty arguments, as OpenAI does, the others carry argument
// fragments.
func toolDeltas(calls []ToolCall, interleave bool) []toolCallDelta {
	per := make([][]toolCallDelta, len(calls))
	for i, c := range calls {
		per[i] = append(per[i], toolCallDelta{Index: i, ID: c.ID, Type: "function", Function: functionDelta{Name: c.Name}})
		for _, f := range fragments(c.Args, c.Split) {
			per[i] = append(per[i], toolCallDelta{Index: i, Function: functionDelta{Arguments: f}})
		}
	}
	var out []toolCallDelta
	if !interleave {
		for _, p := range per {
			out = append(out, p...)
		}
		return out
	}
	for j := 0; ; j++ {
		more := false
		for _, p := range per {
			if j < len(p) {
				out = append(out, p[j])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// fragments cuts s into n pieces of about equal length, on rune
// boundaries.
func fragments(s string, n int) []string {
	rs := []rune(s)
	n = max(1, min(n, len(rs)))
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, string(rs[i*len(rs)/n:(i+1)*len(rs)/n]))
	}
	return out
}

// whole answers a request that did not ask for a stream.
func (s *Server) whole(w http.ResponseWriter, model string, reply Reply) bool {
	msg := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: strings.Join(reply.Chunks, "")}
	finish := openai.FinishReasonStop
	for _, c := range reply.ToolCalls {
		msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
			ID: c.ID, Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Name: c.Name, Arguments: c.Args},
		})
		finish = openai.FinishReasonToolCalls
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(openai.ChatCompletionResponse{
		ID: "chatcmpl-openaitest", Object: "chat.completion", Created: created, Model: model,
		Choices: []openai.ChatCompletionChoice{{Message: msg, FinishReason: finish}},
	}) == nil
}
