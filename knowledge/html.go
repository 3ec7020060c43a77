package knowledge

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// HTMLToMarkdown turns an HTML page or fragment into an article's
// Markdown and returns it with the page's <title>. Only text survives:
// scripts, styles and other content that is not prose are dropped with
// everything inside them, entities are decoded, headings h1 to h3 become
// headings, list items become list items, and every other block element
// (paragraph, div, table row, line break) ends a paragraph. The text is
// escaped, so nothing in it is read as Markdown or HTML again.
func HTMLToMarkdown(src string) (title, md string) {
	c := converter{}
	z := html.NewTokenizer(strings.NewReader(src))
	skip := 0 // depth inside elements whose content is dropped
	inTitle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			c.end()
			return strings.Join(strings.Fields(title), " "), strings.Join(c.paras, "\n\n")
		case html.TextToken:
			switch {
			case inTitle:
				title += string(z.Text())
			case skip == 0:
				c.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if dropped[tag] {
				// Void elements (<embed>) and self-closed ones have no
				// content to skip.
				if tt == html.StartTagToken && !void[tag] {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if tag == "title" {
				inTitle = tt == html.StartTagToken
				continue
			}
			if skip > 0 {
				continue
			}
			switch {
			case tt != html.EndTagToken && len(tag) == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6':
				c.end()
				c.prefix = strings.Repeat("#", min(int(tag[1]-'0'), 4)) + " "
			case tt != html.EndTagToken && tag == "li":
				c.end()
				c.prefix = "- "
			case tt != html.EndTagToken && (tag == "td" || tag == "th"):
				c.sep = ", "
			case block[tag]:
				c.end()
			}
		}
	}
}

// dropped are the elements whose content is not prose to be spoken.
var dropped = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true, "iframe": true, "object": true,
	"embed": true, "svg": true, "math": true, "canvas": true, "audio": true, "video": true,
	"select": true, "textarea": true, "button": true,
}

// void elements have no end tag.
var void = map[string]bool{"embed": true}

// block are the elements that end a paragraph.
var block = map[string]bool{
	"p": true, "div": true, "br": true, "hr": true, "section": true, "article": true, "header": true,
	"footer": true, "main": true, "aside": true, "nav": true, "blockquote": true, "pre": true, "table": true,
	"thead": true, "tbody": true, "tfoot": true, "tr": true, "ul": true, "ol": true, "li": true, "dl": true,
	"dt": true, "dd": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"address": true, "figure": true, "figcaption": true, "details": true, "summary": true, "form": true,
	"fieldset": true, "legend": true, "caption": true, "body": true, "html": true,
}

// converter gathers paragraphs of escaped text.
type converter struct {
	paras  []string
	cur    strings.Builder
	prefix string // the Markdown that starts the paragraph being read
	sep    string // put before the next text: a table cell's separator
}

func (c *converter) text(s string) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		if c.cur.Len() > 0 && c.sep == "" {
			c.sep = " "
		}
		return
	}
	if c.cur.Len() > 0 {
		if c.sep == "" && startsWithSpace(s) {
			c.sep = " "
		}
		c.cur.WriteString(c.sep)
	}
	c.sep = ""
	c.cur.WriteString(strings.Join(fields, " "))
	if endsWithSpace(s) {
		c.sep = " "
	}
}

// end finishes the paragraph being read.
func (c *converter) end() {
	if t := strings.TrimSpace(c.cur.String()); t != "" {
		c.paras = append(c.paras, c.prefix+escapeMarkdown(t))
	}
	c.cur.Reset()
	c.prefix, c.sep = "", ""
}

func startsWithSpace(s string) bool { return s != "" && strings.TrimLeft(s, " \t\r\n\f") != s }
func endsWithSpace(s string) bool   { return s != "" && strings.TrimRight(s, " \t\r\n\f") != s }

// TextToMarkdown turns plain text into an article's Markdown: each run of
// lines between blank lines is a paragraph, taken as written.
func TextToMarkdown(src string) string {
	var paras []string
	for _, p := range blankLines.Split(normalize(src), -1) {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			paras = append(paras, escapeMarkdown(p))
		}
	}
	return strings.Join(paras, "\n\n")
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n`)

// markdownSyntax are the characters that could start Markdown or HTML
// syntax inside a line; each is escaped with a backslash, which the
// article reader takes as the character itself.
var markdownSyntax = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`,
	"#", `\#`, "|", `\|`, "~", `\~`, "!", `\!`,
)

// lineStart is what makes a line a list item, a rule or a setext heading.
var lineStart = regexp.MustCompile(`^(?:[-+=]|\d{1,9}[.)])`)

// escapeMarkdown makes one line of text safe to put in an article as a
// paragraph.
func escapeMarkdown(s string) string {
	s = markdownSyntax.Replace(s)
	if m := lineStart.FindString(s); m != "" {
		s = m[:len(m)-1] + `\` + s[len(m)-1:]
	}
	return s
}
