package openaitest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "sk-test-openaitest"

func client(s *Server, key string) *openai.Client {
	cc := openai.DefaultConfig(key)
	cc.BaseURL = s.URL
	return openai.NewClientWithConfig(cc)
}

func request(stream bool) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model:    "test-model",
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "hello"}},
		Stream:   stream,
	}
}

// receive reads a stream to its end, assembling content and tool calls by
// index.
func receive(t *testing.T, st *openai.ChatCompletionStream) (string, map[int]*openai.ToolCall, openai.FinishReason) {
	t.Helper()
	var text strings.Builder
	calls := map[int]*openai.ToolCall{}
	var finish openai.FinishReason
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return text.String(), calls, finish
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		ch := r.Choices[0]
		text.WriteString(ch.Delta.Content)
		for _, d := range ch.Delta.ToolCalls {
			c := calls[*d.Index]
			if c == nil {
				c = &openai.ToolCall{}
				calls[*d.Index] = c
			}
			c.ID += d.ID
			c.Function.Name += d.Function.Name
			c.Function.Arguments += d.Function.Arguments
		}
		if ch.FinishReason != "" {
			finish = ch.FinishReason
		}
	}
}

func TestStreamsTextAndRecordsRequest(t *testing.T) {
	s := New(t, key)
	s.Script(Text("Hello, ", "how can ", "I help?"))
	st, err := client(s, key).CreateChatCompletionStream(context.Background(), request(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	text, calls, finish := receive(t, st)
	if text != "Hello, how can I help?" || len(calls) != 0 || finish != openai.FinishReasonStop {
		t.Errorf("got %q, %d calls, finish %q", text, len(calls), finish)
	}
	r := s.Last()
	if !r.Chat.Stream || r.Chat.Model != "test-model" || r.Chat.Messages[0].Content != "hello" {
		t.Errorf("recorded %s", r.Body)
	}
	if r.Header.Get("Authorization") != "Bearer "+key {
		t.Errorf("Authorization %q", r.Header.Get("Authorization"))
	}
	if s.Pending() != 0 {
		t.Errorf("%d replies left", s.Pending())
	}
}

func TestToolCallsSplitAndInterleaved(t *testing.T) {
	s := New(t, key)
	r := Calls(
		ToolCall{ID: "call_a", Name: "lookup_knowledge", Args: `{"query":"lost card"}`, Split: 4},
		ToolCall{ID: "call_b", Name: "transfer_to_agent", Args: `{"queue":"cards","reason":"lost"}`, Split: 5},
	)
	r.Interleave = true
	s.Script(r)
	st, err := client(s, key).CreateChatCompletionStream(context.Background(), request(true))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, calls, finish := receive(t, st)
	if finish != openai.FinishReasonToolCalls || len(calls) != 2 {
		t.Fatalf("finish %q, %d calls", finish, len(calls))
	}
	if c := calls[0]; c.ID != "call_a" || c.Function.Name != "lookup_knowledge" || c.Function.Arguments != `{"query":"lost card"}` {
		t.Errorf("call 0: %+v", c)
	}
	if c := calls[1]; c.ID != "call_b" || c.Function.Name != "transfer_to_agent" || c.Function.Arguments != `{"queue":"cards","reason":"lost"}` {
		t.Errorf("call 1: %+v", c)
	}
}

func TestWholeReply(t *testing.T) {
	s := New(t, key)
	s.Script(Reply{Chunks: []string{"A summary", "."}, ToolCalls: []ToolCall{{ID: "c1", Name: "end_call", Args: `{}`}}})
	resp, err := client(s, key).CreateChatCompletion(context.Background(), request(false))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.Content != "A summary." || len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Name != "end_call" {
		t.Errorf("got %+v", m)
	}
	if s.Last().Chat.Stream {
		t.Error("recorded as streamed")
	}
}

func TestErrors(t *testing.T) {
	s := New(t, key)
	s.Script(Error(http.StatusTooManyRequests, "Rate limit reached"), Error(http.StatusInternalServerError, "boom"))
	for _, want := range []int{429, 500} {
		_, err := client(s, key).CreateChatCompletionStream(context.Background(), request(true))
		var apiErr *openai.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != want {
			t.Errorf("want API error %d, got %v", want, err)
		}
	}
	_, err := client(s, "sk-wrong").CreateChatCompletion(context.Background(), request(false))
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Errorf("wrong key: %v", err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want the 2 with the key", n)
	}
}

func TestStallUntilClientGoesAway(t *testing.T) {
	s := New(t, key)
	cancelled := make(chan struct{})
	s.Script(Reply{Stall: true, Cancelled: cancelled})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client(s, key).CreateChatCompletionStream(ctx, request(true))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v", err)
	}
	<-cancelled
}

func TestHoldKeepsTheRestBack(t *testing.T) {
	s := New(t, key)
	hold := make(chan struct{})
	cancelled := make(chan struct{})
	s.Script(Reply{Chunks: []string{"First.", " Second."}, Hold: map[int]<-chan struct{}{1: hold}, Cancelled: cancelled})
	st, err := client(s, key).CreateChatCompletionStream(context.Background(), request(true))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for got != "First." {
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got += r.Choices[0].Delta.Content
	}
	// The client leaves while the server holds the second chunk.
	st.Close()
	<-cancelled
	close(hold)
}

func TestStalledServerClosesAtCleanup(t *testing.T) {
	// A stalled request still in flight when the test ends must not keep
	// Close waiting.
	s := New(t, key)
	s.Script(Reply{Stall: true})
	errc := make(chan error, 1)
	go func() {
		_, err := client(s, key).CreateChatCompletionStream(context.Background(), request(true))
		errc <- err
	}()
	for len(s.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	s.close()
	if err := <-errc; err == nil {
		t.Error("stalled request succeeded")
	}
}

func TestFragments(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want int
	}{{"", 3, 1}, {"abc", 5, 3}, {"你好世界", 2, 2}, {`{"a":1}`, 0, 1}} {
		f := fragments(c.s, c.n)
		if len(f) != c.want || strings.Join(f, "") != c.s {
			t.Errorf("fragments(%q, %d) = %q", c.s, c.n, f)
		}
	}
}

func TestAnswerAfterScript(t *testing.T) {
	s := New(t, key)
	s.Script(Text("scripted"))
	s.Answer(func(r Request) Reply { return Text("echo: " + r.Chat.Messages[0].Content) })
	for _, want := range []string{"scripted", "echo: hello", "echo: hello"} {
		resp, err := client(s, key).CreateChatCompletion(context.Background(), request(false))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
