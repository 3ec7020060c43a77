package llm

import (
	"strings"
	"unicode"

	"github.com/hotline-cc/hotline/tts"
)

// cutter cuts streamed tokens into sentences with tts.SplitSentences, the
// same cuts synthesis makes of a whole text. A sentence is complete once
// text after it makes a second one: only the last piece may still grow.
type cutter struct {
	buf strings.Builder
}

// add appends a token and returns the sentences it completed.
func (c *cutter) add(token string) []string {
	if token == "" {
		return nil
	}
	c.buf.WriteString(token)
	text := c.buf.String()
	parts := tts.SplitSentences(text)
	if len(parts) < 2 {
		return nil
	}
	last := parts[len(parts)-1]
	// The split collapses whitespace; what trails the text is kept, as
	// it separates the words still to come (a space) or ends a
	// paragraph (a blank line).
	trail := len(strings.TrimRightFunc(text, unicode.IsSpace))
	c.buf.Reset()
	c.buf.WriteString(last)
	c.buf.WriteString(text[trail:])
	return parts[:len(parts)-1]
}

// flush returns what is left, the end of the reply.
func (c *cutter) flush() []string {
	parts := tts.SplitSentences(c.buf.String())
	c.buf.Reset()
	return parts
}
