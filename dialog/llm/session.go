package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/knowledge"
)

// session is the brain's side of one call.
type session struct {
	b    *Brain
	conv *dialog.Conversation
	log  *slog.Logger
	// pending is the model's reply that asked for digits, with the
	// results of its other tool calls; the caller's next keys answer
	// the call waitID.
	pending []openai.ChatCompletionMessage
	waitID  string
	// sources are the passages the model was given this turn, with the
	// context and by lookup_knowledge: a sentence that repeats one cites
	// it.
	sources []knowledge.Passage
}

// turn is one Respond: it passes actions on and remembers an emit error,
// which ends the turn at once.
type turn struct {
	emit    func(dialog.Action) error
	stopped error
}

func (t *turn) do(a dialog.Action) error {
	if err := t.emit(a); err != nil {
		t.stopped = err
		return err
	}
	return nil
}

// Respond answers the caller's turn: it streams the model's reply, emits
// each sentence as soon as it is complete, and runs the tools the model
// calls.
func (s *session) Respond(ctx context.Context, in dialog.Input, emit func(dialog.Action) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, s.b.cfg.TurnTimeout, errTurnTimeout)
	defer cancel()
	t := &turn{emit: emit}
	err := s.respond(ctx, in, t)
	switch {
	case err == nil:
	case t.stopped != nil:
		s.log.Debug("llm reply stopped", "err", err)
	default:
		s.log.Warn("llm reply failed", "err", err)
	}
	return err
}

func (s *session) respond(ctx context.Context, in dialog.Input, t *turn) error {
	s.sources = nil
	msgs := s.messages(in)
	s.pending, s.waitID = nil, ""
	for round := 0; ; round++ {
		last := round == s.b.cfg.MaxToolRounds
		req := openai.ChatCompletionRequest{
			Model:               s.b.cfg.Model,
			Messages:            msgs,
			MaxCompletionTokens: s.b.cfg.MaxTokens,
			Temperature:         s.b.cfg.Temperature,
			Tools:               s.b.defs,
		}
		if last {
			// The model must answer now, in words.
			req.ToolChoice = "none"
		}
		content, calls, err := s.round(ctx, req, t)
		if err != nil {
			return err
		}
		if len(calls) == 0 {
			return nil
		}
		if last {
			return fmt.Errorf("llm: still calling tools after %d rounds: %w", round, dialog.ErrNoReply)
		}
		reply := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: content, ToolCalls: calls}
		results, waitID, end, err := s.runTools(ctx, calls, t)
		if err != nil || end {
			return err
		}
		if waitID != "" {
			s.pending, s.waitID = append([]openai.ChatCompletionMessage{reply}, results...), waitID
			return nil
		}
		msgs = append(append(msgs, reply), results...)
	}
}

// runTools runs a reply's tool calls in order, emitting their actions. It
// returns the results for the model, the call waiting for digits if any,
// and whether the reply is over.
func (s *session) runTools(ctx context.Context, calls []openai.ToolCall, t *turn) (results []openai.ChatCompletionMessage, waitID string, end bool, err error) {
	for _, c := range calls {
		out, err := s.b.call(ctx, s, c)
		if err == nil && out.wait && waitID != "" {
			err = errors.New("one collect_digits at a time")
		}
		if err != nil {
			s.log.Info("llm tool call refused", "tool", c.Function.Name, "err", err)
			results = append(results, toolResult(c.ID, toolError(err)))
			continue
		}
		s.log.Info("llm tool call", "tool", c.Function.Name)
		if out.action != nil {
			if err := t.do(*out.action); err != nil {
				return nil, "", true, err
			}
		}
		switch {
		case out.end:
			return nil, "", true, nil
		case out.wait:
			waitID = c.ID
		default:
			results = append(results, toolResult(c.ID, out.result))
		}
	}
	return results, waitID, false, nil
}

func toolResult(id, content string) openai.ChatCompletionMessage {
	return openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: id, Content: content}
}

// messages is the request for the turn: the system prompt, the call's
// context, then the recent turns.
func (s *session) messages(in dialog.Input) []openai.ChatCompletionMessage {
	var passages []knowledge.Passage
	if s.b.know != nil && strings.TrimSpace(in.Text) != "" {
		passages = s.b.know.Search(in.Text, s.b.cfg.KnowledgePassages)
		s.sources = append(s.sources, passages...)
	}
	cue := in.Emotion
	if cue == nil {
		cue = s.conv.Emotion()
	}
	recent := s.conv.Recent()
	if n := len(recent) - s.b.cfg.KeepTurns; n > 0 {
		recent = recent[n:]
	}
	var pending []openai.ChatCompletionMessage
	if s.waitID != "" {
		pending = append(append(pending, s.pending...), toolResult(s.waitID, digitsResult(in)))
	}
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: s.b.cfg.SystemPrompt},
		{Role: openai.ChatMessageRoleSystem, Content: callContext(s.conv, in, cue, passages)},
	}
	return append(msgs, history(recent, in, pending)...)
}

// digitsResult answers collect_digits with the caller's keys.
func digitsResult(in dialog.Input) string {
	r := struct {
		Digits string `json:"digits"`
		Note   string `json:"note,omitempty"`
	}{Digits: in.Digits}
	switch {
	case in.Digits == "" && in.Text != "":
		r.Note = "the caller spoke instead of keying digits"
	case in.Digits == "":
		r.Note = "the caller keyed nothing"
	}
	b, _ := json.Marshal(r) // two strings always marshal
	return string(b)
}

// round is one streamed request: sentences are emitted as they complete,
// tool calls assembled. It returns the reply's text and tool calls.
func (s *session) round(ctx context.Context, req openai.ChatCompletionRequest, t *turn) (string, []openai.ToolCall, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	first := time.AfterFunc(s.b.cfg.FirstTokenTimeout, func() { cancel(errNoFirstToken) })
	defer first.Stop()

	stream, err := s.b.client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		return "", nil, s.b.failure(ctx, "chat", err)
	}
	defer stream.Close()

	var (
		content strings.Builder
		cut     cutter
		calls   callBuilder
		started bool
	)
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, s.b.failure(ctx, "chat", err)
		}
		if len(resp.Choices) == 0 {
			continue
		}
		d := resp.Choices[0].Delta
		if !started && (d.Content != "" || len(d.ToolCalls) > 0) {
			if !first.Stop() {
				// The deadline passed as the token came: the stream
				// is being cancelled.
				return "", nil, s.b.failure(ctx, "chat", context.Cause(ctx))
			}
			started = true
			s.log.Debug("llm first token", "after", time.Since(start).Round(time.Millisecond))
			s.b.m.LLMLatency(s.b.cfg.Model, time.Since(start))
		}
		content.WriteString(d.Content)
		for _, sentence := range cut.add(d.Content) {
			if err := t.do(dialog.Action{Kind: dialog.Say, Text: sentence, Cite: s.cite(sentence)}); err != nil {
				return "", nil, err
			}
		}
		calls.add(d.ToolCalls)
	}
	if !started {
		return "", nil, fmt.Errorf("llm: chat: the model replied nothing: %w", dialog.ErrNoReply)
	}
	for _, sentence := range cut.flush() {
		if err := t.do(dialog.Action{Kind: dialog.Say, Text: sentence, Cite: s.cite(sentence)}); err != nil {
			return "", nil, err
		}
	}
	return content.String(), calls.calls, nil
}

// cite names the article of the turn's passages a sentence repeats, if
// any.
func (s *session) cite(sentence string) *dialog.Citation {
	if p, ok := knowledge.Source(sentence, s.sources); ok && p.ID != "" {
		return &dialog.Citation{Article: p.ID, Version: p.Version}
	}
	return nil
}

// callBuilder assembles tool calls from stream deltas: the first delta of
// a call carries its index, id and name, the next ones pieces of its
// arguments; the calls of one reply may interleave.
type callBuilder struct {
	calls   []openai.ToolCall
	byIndex map[int]int
}

func (b *callBuilder) add(deltas []openai.ToolCall) {
	for _, d := range deltas {
		i := b.slot(d)
		c := &b.calls[i]
		if d.ID != "" {
			c.ID = d.ID
		}
		if d.Type != "" {
			c.Type = d.Type
		}
		c.Function.Name += d.Function.Name
		c.Function.Arguments += d.Function.Arguments
	}
}

// slot finds the delta's call, or starts it. Without an index (some
// servers send none), a delta with an id starts a call and one without
// continues the last.
func (b *callBuilder) slot(d openai.ToolCall) int {
	if d.Index != nil {
		if i, ok := b.byIndex[*d.Index]; ok {
			return i
		}
		if b.byIndex == nil {
			b.byIndex = make(map[int]int)
		}
		b.byIndex[*d.Index] = len(b.calls)
	} else if d.ID == "" && len(b.calls) > 0 {
		return len(b.calls) - 1
	}
	n := len(b.calls)
	// A result must name its call: an id the server left out is made up.
	b.calls = append(b.calls, openai.ToolCall{ID: "call_" + strconv.Itoa(n), Type: openai.ToolTypeFunction})
	return n
}
