// Package llm is the brain that talks with an OpenAI-compatible chat model.
//
// Each turn is one streamed chat completion (or a few, when the model
// looks something up): the system prompt; the caller's profile, emotion
// cue, the knowledge passages found for their words and the call's running
// summary; then the recent turns. The reply is spoken sentence by sentence
// as it streams. The model acts through tools: transfer_to_agent,
// lookup_knowledge, end_call and collect_digits.
package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/hotline-cc/hotline/dialog"
	"github.com/hotline-cc/hotline/knowledge"
	"github.com/hotline-cc/hotline/metrics"
)

// Deps are what the brain uses besides the model.
type Deps struct {
	// Knowledge, when not nil, gives each turn its passages and the model
	// the lookup_knowledge tool.
	Knowledge knowledge.Searcher
	// Metrics, when not nil, times each request's first token.
	Metrics *metrics.Metrics
}

// Brain is the LLM brain. It is safe for concurrent use: each call has its
// own Session.
type Brain struct {
	cfg    Config
	client *openai.Client
	key    string
	know   knowledge.Searcher
	m      *metrics.Metrics
	tools  []tool
	defs   []openai.Tool
	log    *slog.Logger
}

var _ interface {
	dialog.Brain
	dialog.Summarizer
} = (*Brain)(nil)

// New makes the brain. The API key comes from the environment variable
// OPENAI_API_KEY; a self-hosted server may need none.
func New(cfg Config, deps Deps, log *slog.Logger) (*Brain, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key := os.Getenv(envAPIKey)
	if key == "" {
		log.Warn("llm: " + envAPIKey + " is not set; requests go without a key")
	}
	cc := openai.DefaultConfig(key)
	cc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	// Deadlines are the contexts', per turn and per first token.
	cc.HTTPClient = &http.Client{}
	b := &Brain{cfg: cfg, client: openai.NewClientWithConfig(cc), key: key, know: deps.Knowledge, m: deps.Metrics, log: log}
	b.tools = b.newTools()
	b.defs = b.toolDefs()
	return b, nil
}

// Name is "llm".
func (b *Brain) Name() string { return "llm" }

// NewSession opens the brain for one call.
func (b *Brain) NewSession(c *dialog.Conversation) dialog.Session {
	return &session{b: b, conv: c, log: b.log.With("call_id", c.CallID)}
}

const summarizePrompt = `You keep the running summary of a customer's telephone call with a bank's hotline. Rewrite the summary so far so that it also holds what the new turns add. Keep every fact that may matter later in the call: the caller's name, card or account references exactly as given, what they asked for, what was found, promised or done, and what is still open. Leave out greetings and small talk. Write plain English sentences, at most 120 words, and nothing else.`

// Summarize returns prev extended with what turns add, in one request to
// the model.
func (b *Brain) Summarize(ctx context.Context, prev string, turns []dialog.Turn) (string, error) {
	if len(turns) == 0 {
		return prev, nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, b.cfg.TurnTimeout, errTurnTimeout)
	defer cancel()
	var in strings.Builder
	if prev != "" {
		fmt.Fprintf(&in, "Summary so far: %s\n\n", prev)
	}
	in.WriteString("New turns:\n")
	for _, t := range turns {
		who := "Caller"
		if t.Speaker == dialog.Bot {
			who = "Hotline"
		}
		fmt.Fprintf(&in, "%s: %s\n", who, t.Text)
	}
	resp, err := b.client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: b.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: summarizePrompt},
			{Role: openai.ChatMessageRoleUser, Content: in.String()},
		},
		MaxCompletionTokens: 2 * b.cfg.MaxTokens,
	})
	if err != nil {
		return "", b.failure(ctx, "summary", err)
	}
	if len(resp.Choices) == 0 || strings.TrimSpace(resp.Choices[0].Message.Content) == "" {
		return "", errors.New("llm: summary: the model returned none")
	}
	return strings.TrimSpace(resp.Choices[0].Message.Content), nil
}

var (
	errNoFirstToken = errors.New("no first token")
	errTurnTimeout  = errors.New("turn timeout")
)

// failure words an error of the model's endpoint: why it gave up, the HTTP
// status when there was one, and never the API key.
func (b *Brain) failure(ctx context.Context, op string, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errNoFirstToken):
		err = fmt.Errorf("llm: %s: no first token within %v: %w", op, b.cfg.FirstTokenTimeout, dialog.ErrNoReply)
	case errors.Is(cause, errTurnTimeout):
		err = fmt.Errorf("llm: %s: not done within %v: %w", op, b.cfg.TurnTimeout, err)
	default:
		var apiErr *openai.APIError
		var reqErr *openai.RequestError
		status := 0
		switch {
		case errors.As(err, &apiErr):
			status = apiErr.HTTPStatusCode
		case errors.As(err, &reqErr):
			status = reqErr.HTTPStatusCode
		}
		if status != 0 {
			err = fmt.Errorf("llm: %s: HTTP %d: %w", op, status, err)
		} else {
			err = fmt.Errorf("llm: %s: %w", op, err)
		}
	}
	if b.key == "" {
		return err
	}
	return scrubbed{err: err, key: b.key}
}

// scrubbed hides the API key in an error's text, should a provider echo
// it in an error body.
type scrubbed struct {
	err error
	key string
}

func (e scrubbed) Error() string { return strings.ReplaceAll(e.err.Error(), e.key, "[redacted]") }
func (e scrubbed) Unwrap() error { return e.err }
