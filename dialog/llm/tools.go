package llm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	openai "github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/hotline-cc/hotline/dialog"
)

// tool is a function the model may call. A new tool is one more entry in
// Brain.tools, made in New.
type tool struct {
	name        string
	description string
	params      jsonschema.Definition
	// run acts on the call's arguments. An error goes back to the model
	// as the call's result, so that it can correct the call.
	run func(ctx context.Context, s *session, args []byte) (outcome, error)
}

// outcome is what a tool call did.
type outcome struct {
	// result is what the model reads as the call's result.
	result string
	// action, when set, is emitted.
	action *dialog.Action
	// end: the reply is over (the call is transferred or ends).
	end bool
	// wait: the result is the caller's next keys.
	wait bool
}

// Tool names.
const (
	toolTransfer = "transfer_to_agent"
	toolLookup   = "lookup_knowledge"
	toolEndCall  = "end_call"
	toolDigits   = "collect_digits"
)

// maxDigits bounds collect_digits; a card number is the longest thing a
// caller keys.
const maxDigits = 20

func (b *Brain) newTools() []tool {
	tools := []tool{transferTool(b.cfg.Queues)}
	if b.know != nil {
		tools = append(tools, lookupTool(b.cfg.KnowledgePassages))
	}
	return append(tools, endCallTool(), digitsTool())
}

func (b *Brain) toolDefs() []openai.Tool {
	defs := make([]openai.Tool, len(b.tools))
	for i, t := range b.tools {
		defs[i] = openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: t.name, Description: t.description, Parameters: t.params,
		}}
	}
	return defs
}

// call runs one tool call of the model's.
func (b *Brain) call(ctx context.Context, s *session, c openai.ToolCall) (outcome, error) {
	i := slices.IndexFunc(b.tools, func(t tool) bool { return t.name == c.Function.Name })
	if i < 0 {
		return outcome{}, fmt.Errorf("no tool named %q", c.Function.Name)
	}
	args := []byte(c.Function.Arguments)
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("{}")
	}
	return b.tools[i].run(ctx, s, args)
}

// toolError is the result a model reads for a call that failed.
func toolError(err error) string {
	return "error: " + err.Error() + ". Correct the arguments and call again, or answer without this tool."
}

func decode(args []byte, v any) error {
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("arguments are not a JSON object of the declared fields: %w", err)
	}
	return nil
}

func required(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("%s is required", field)
	}
	return nil
}

func str(desc string) jsonschema.Definition {
	return jsonschema.Definition{Type: jsonschema.String, Description: desc}
}

func transferTool(queues []string) tool {
	return tool{
		name:        toolTransfer,
		description: "Transfer the call to a human agent's queue. Say one short sentence first to tell the caller.",
		params: jsonschema.Definition{
			Type: jsonschema.Object,
			Properties: map[string]jsonschema.Definition{
				"queue":  {Type: jsonschema.String, Enum: queues, Description: "The agent queue."},
				"reason": str("Why the caller needs an agent, in a few words."),
				"summary": str("What the agent should know: the caller's request and what was done, " +
					"in one or two sentences."),
			},
			Required: []string{"queue", "reason"},
		},
		run: func(_ context.Context, s *session, args []byte) (outcome, error) {
			var a struct{ Queue, Reason, Summary string }
			if err := decode(args, &a); err != nil {
				return outcome{}, err
			}
			if err := cmp.Or(required("queue", a.Queue), required("reason", a.Reason)); err != nil {
				return outcome{}, err
			}
			if !slices.Contains(queues, a.Queue) {
				return outcome{}, fmt.Errorf("unknown queue %q: use one of %s", a.Queue, strings.Join(queues, ", "))
			}
			if a.Summary == "" {
				a.Summary = s.conv.Summary
			}
			return outcome{
				result: "transferred",
				action: &dialog.Action{Kind: dialog.Transfer, Queue: a.Queue, Reason: a.Reason, Summary: a.Summary},
				end:    true,
			}, nil
		},
	}
}

func lookupTool(k int) tool {
	return tool{
		name:        toolLookup,
		description: "Search the bank's knowledge base for products, fees and procedures.",
		params: jsonschema.Definition{
			Type:       jsonschema.Object,
			Properties: map[string]jsonschema.Definition{"query": str("What to look for, in a few words.")},
			Required:   []string{"query"},
		},
		run: func(_ context.Context, s *session, args []byte) (outcome, error) {
			var a struct{ Query string }
			if err := decode(args, &a); err != nil {
				return outcome{}, err
			}
			if err := required("query", a.Query); err != nil {
				return outcome{}, err
			}
			found := s.b.know.Search(a.Query, k)
			s.sources = append(s.sources, found...)
			if len(found) == 0 {
				return outcome{result: "no passage found"}, nil
			}
			return outcome{result: passagesText(found)}, nil
		},
	}
}

func endCallTool() tool {
	return tool{
		name:        toolEndCall,
		description: "End the call, after you have said goodbye.",
		params: jsonschema.Definition{
			Type:       jsonschema.Object,
			Properties: map[string]jsonschema.Definition{"reason": str("Why the call ends, in a few words.")},
			Required:   []string{"reason"},
		},
		run: func(_ context.Context, _ *session, args []byte) (outcome, error) {
			var a struct{ Reason string }
			if err := decode(args, &a); err != nil {
				return outcome{}, err
			}
			if err := required("reason", a.Reason); err != nil {
				return outcome{}, err
			}
			return outcome{result: "call ended", action: &dialog.Action{Kind: dialog.Hangup, Reason: a.Reason}, end: true}, nil
		},
	}
}

func digitsTool() tool {
	return tool{
		name: toolDigits,
		description: "Ask the caller to key in digits on their phone. The prompt is spoken, " +
			"and the digits come back as this call's result.",
		params: jsonschema.Definition{
			Type: jsonschema.Object,
			Properties: map[string]jsonschema.Definition{
				"prompt":     str("The sentence that asks for the digits."),
				"max_digits": {Type: jsonschema.Integer, Description: fmt.Sprintf("How many digits at most, 1 to %d.", maxDigits)},
			},
			Required: []string{"prompt", "max_digits"},
		},
		run: func(_ context.Context, _ *session, args []byte) (outcome, error) {
			var a struct {
				Prompt    string
				MaxDigits *int `json:"max_digits"`
			}
			if err := decode(args, &a); err != nil {
				return outcome{}, err
			}
			if err := required("prompt", a.Prompt); err != nil {
				return outcome{}, err
			}
			if a.MaxDigits == nil {
				return outcome{}, errors.New("max_digits is required")
			}
			if n := *a.MaxDigits; n < 1 || n > maxDigits {
				return outcome{}, fmt.Errorf("max_digits %d: want 1 to %d", n, maxDigits)
			}
			return outcome{
				action: &dialog.Action{Kind: dialog.CollectDigits, Text: a.Prompt, MaxDigits: *a.MaxDigits},
				wait:   true,
			}, nil
		},
	}
}
