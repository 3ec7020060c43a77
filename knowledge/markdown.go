package knowledge

import (
	"errors"
	"fmt"
	"html"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ErrMalformed is wrapped by the error for a file that is not a readable
// article: not UTF-8 text, too large, broken front matter, or no text.
var ErrMalformed = errors.New("malformed article")

// maxArticle bounds one article: a knowledge article is a page or two, and
// anything far larger is a file put in the folder by mistake.
const maxArticle = 1 << 20

// article is one parsed Markdown file.
type article struct {
	meta
	file     string // its name, relative to the folder
	title    string
	keywords []string
	sections []section
	// body is the Markdown after the front matter, as written.
	body string
}

// meta is what front matter says of an article's identity and validity.
type meta struct {
	// id names the article across its versions: front matter's id, else
	// the file's name without ".md" ("cards/lost-card").
	id      string
	version int // from 1; 1 when front matter gives none
	source  string
	// effective is when the version starts to be cited (zero: always);
	// expires when it stops (zero: never).
	effective, expires time.Time
}

// section is the text under one heading.
type section struct {
	heading string
	// parent is the ## heading a ### section sits under; it is searched
	// with the heading, since "Fees" alone says little.
	parent string
	text   string
}

// frontMatter is the optional YAML block at the top of an article.
type frontMatter struct {
	Title    string      `yaml:"title,omitempty"`
	Keywords keywordList `yaml:"keywords,omitempty"`
	ID       string      `yaml:"id,omitempty"`
	Version  int         `yaml:"version,omitempty"`
	Source   string      `yaml:"source,omitempty"`
	// Dates are YYYY-MM-DD (midnight UTC) or RFC 3339 times.
	Effective date `yaml:"effective,omitempty"`
	Expires   date `yaml:"expires,omitempty"`
}

// date is a day or an instant in front matter.
type date struct{ time.Time }

func (d *date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a date such as 2026-03-01", n.Line)
	}
	t, err := parseDate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Time = t
	return nil
}

func (d date) MarshalYAML() (any, error) {
	if d.Time.Equal(d.Time.Truncate(24 * time.Hour)) {
		return d.Time.UTC().Format(time.DateOnly), nil
	}
	return d.Time.UTC().Format(time.RFC3339), nil
}

// parseDate reads a day, YYYY-MM-DD, as its midnight UTC, or an RFC 3339
// time.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", clipText(s, 40))
}

// clipText cuts s to at most n bytes on a rune boundary, for messages.
func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// ValidID reports whether id may name an article: words of letters,
// digits, '-', '_' and '.' (not starting with '.') joined by '/', so that
// it is a safe path inside the knowledge folder.
func ValidID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, seg := range strings.Split(id, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
		if strings.IndexFunc(seg, func(r rune) bool { return !idRune(r) }) >= 0 {
			return false
		}
	}
	return true
}

// idRune reports whether r may be in an id's word.
func idRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// idFromName is the id of an article whose front matter names none: its
// file's name without ".md", made a valid id.
func idFromName(name string) string {
	segs := strings.Split(strings.TrimSuffix(name, path.Ext(name)), "/")
	for i, seg := range segs {
		seg = strings.TrimLeft(strings.Map(func(r rune) rune {
			if idRune(r) {
				return r
			}
			return '-'
		}, seg), ".")
		if seg == "" {
			seg = "-"
		}
		segs[i] = seg
	}
	id := strings.Join(segs, "/")
	return strings.TrimRight(id[:min(len(id), maxID)], "/")
}

// maxID bounds an article's id.
const maxID = 128

// keywordList takes either a YAML list or one comma-separated string.
type keywordList []string

func (k *keywordList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*k = append(*k, s)
			}
		}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*k = l
	return nil
}

// parseArticle reads one Markdown file; name is its file's name, relative
// to the folder, which gives the defaults of its id and source.
func parseArticle(name, src string) (article, error) {
	bad := func(format string, args ...any) (article, error) {
		return article{}, fmt.Errorf("knowledge: %s: %w: %s", name, ErrMalformed, fmt.Sprintf(format, args...))
	}
	switch {
	case len(src) > maxArticle:
		return bad("%d bytes, more than %d", len(src), maxArticle)
	case !utf8.ValidString(src) || strings.ContainsRune(src, 0):
		return bad("not UTF-8 text")
	}
	src = comment.ReplaceAllString(normalize(src), "")

	a := article{meta: meta{id: idFromName(name), version: 1, source: name}, file: name}
	fm, lines, err := splitFrontMatter(src)
	if err != nil {
		return article{}, fmt.Errorf("knowledge: %s: %w: %w", name, ErrMalformed, err)
	}
	a.title = spoken(fm.Title)
	a.keywords = fm.Keywords
	if fm.ID != "" {
		a.id = fm.ID
	}
	if fm.Source != "" {
		a.source = fm.Source
	}
	switch {
	case fm.Version < 0:
		return bad("version %d: want 1 or more", fm.Version)
	case fm.Version > 0:
		a.version = fm.Version
	}
	a.effective, a.expires = fm.Effective.Time, fm.Expires.Time
	if !a.expires.IsZero() && !a.expires.After(a.effective) {
		return bad("expires %s is not after effective %s", a.expires.Format(time.RFC3339), a.effective.Format(time.RFC3339))
	}
	if !ValidID(a.id) {
		return bad("id %q: want words of letters, digits, - _ . joined by /", clipText(a.id, 40))
	}
	a.body = strings.Join(lines, "\n")

	p := parser{title: a.title}
	p.parse(lines)
	if a.title = p.title; a.title == "" {
		a.title = titleFromID(a.id)
	}
	a.sections = p.sections
	if len(a.sections) == 0 {
		return bad("no text to speak")
	}
	return a, nil
}

// normalize drops a byte order mark and makes line ends \n.
func normalize(src string) string {
	src = strings.TrimPrefix(src, "\uFEFF")
	src = strings.ReplaceAll(src, "\r\n", "\n")
	return strings.ReplaceAll(src, "\r", "\n")
}

// splitFrontMatter reads the optional YAML front matter at the top of src
// (with \n line ends) and returns it with the lines after it.
func splitFrontMatter(src string) (frontMatter, []string, error) {
	var fm frontMatter
	lines := strings.Split(src, "\n")
	if strings.TrimSpace(lines[0]) != "---" {
		return fm, lines, nil
	}
	for i := 1; i < len(lines); i++ {
		if l := strings.TrimSpace(lines[i]); l == "---" || l == "..." {
			if err := yaml.Unmarshal([]byte(strings.Join(lines[1:i], "\n")), &fm); err != nil {
				return fm, nil, fmt.Errorf("front matter: %w", err)
			}
			return fm, lines[i+1:], nil
		}
	}
	return fm, nil, errors.New("front matter opened with --- is never closed")
}

// titleFromID makes "cards/lost-card" into "lost card".
func titleFromID(id string) string {
	base := path.Base(id)
	return strings.Join(strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '_' || unicode.IsSpace(r) }), " ")
}

// parser walks an article's lines, block by block.
type parser struct {
	title    string
	sections []section

	sawTitle        bool     // the first # heading is the article's, not a section's
	heading, parent string   // the section being read
	sentences       []string // its finished blocks
	para            []string // lines of the paragraph or list item being read
	// boxed: para is a list item or a quote, which a line of = or -
	// below does not make a heading.
	boxed bool
	h2    string // the last ## heading, parent of ### ones
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextH1   = regexp.MustCompile(`^ {0,3}=+[ \t]*$`)
	setextH2   = regexp.MustCompile(`^ {0,3}-+[ \t]*$`)
	rule       = regexp.MustCompile(`^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$`)
	listItem   = regexp.MustCompile(`^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(?:\[[ xX]\][ \t]+)?(.*))?$`)
	fence      = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:[ \t]*\S`)
	tableDelim = regexp.MustCompile(`^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
	quote      = regexp.MustCompile(`^ {0,3}>[ \t]?`)
)

func (p *parser) parse(lines []string) {
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		quoted := false
		for quote.MatchString(line) {
			line, quoted = quote.ReplaceAllString(line, ""), true
		}
		if m := fence.FindStringSubmatch(line); m != nil {
			// Code cannot be read aloud: the block is skipped to its
			// closing fence (or to the end, as CommonMark does).
			p.endBlock()
			for i++; i < len(lines); i++ {
				if c := fence.FindStringSubmatch(lines[i]); c != nil && c[1][0] == m[1][0] && len(c[1]) >= len(m[1]) && strings.TrimSpace(strings.TrimLeft(lines[i], " \t"+m[1][:1])) == "" {
					break
				}
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			p.endBlock()
			continue
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			p.startSection(len(m[1]), m[2])
			continue
		}
		if len(p.para) > 0 && !p.boxed && setextH1.MatchString(line) {
			text := strings.Join(p.para, " ")
			p.para = nil
			p.startSection(1, text)
			continue
		}
		if len(p.para) > 0 && !p.boxed && setextH2.MatchString(line) {
			text := strings.Join(p.para, " ")
			p.para = nil
			p.startSection(2, text)
			continue
		}
		if rule.MatchString(line) || refDef.MatchString(line) {
			p.endBlock()
			continue
		}
		if strings.Contains(line, "|") && i+1 < len(lines) && strings.Contains(lines[i+1], "|") && tableDelim.MatchString(lines[i+1]) {
			p.endBlock()
			header := cells(line)
			for i += 2; i < len(lines) && strings.Contains(lines[i], "|") && strings.TrimSpace(lines[i]) != ""; i++ {
				p.add(tableRow(header, cells(lines[i])))
			}
			i--
			continue
		}
		if m := listItem.FindStringSubmatch(line); m != nil {
			p.endBlock()
			p.para, p.boxed = []string{m[1]}, true
			continue
		}
		p.para = append(p.para, strings.TrimSpace(line))
		p.boxed = p.boxed || quoted
	}
	p.endBlock()
	p.endSection()
}

func (p *parser) startSection(level int, heading string) {
	p.endBlock()
	heading = spoken(heading)
	if level > 3 {
		// #### and below are too fine to answer on their own: they stay
		// in the section as a sentence.
		p.add(heading)
		return
	}
	p.endSection()
	switch {
	case level == 1 && !p.sawTitle:
		// Front matter's title, when there is one, wins.
		p.sawTitle = true
		if p.title == "" {
			p.title = heading
		}
		p.heading, p.parent = "", ""
	case level <= 2:
		p.heading, p.parent, p.h2 = heading, "", heading
	default:
		p.heading, p.parent = heading, p.h2
	}
}

func (p *parser) endSection() {
	if len(p.sentences) > 0 {
		p.sections = append(p.sections, section{heading: p.heading, parent: p.parent, text: joinSpoken(p.sentences)})
	}
	p.sentences = nil
}

// endBlock turns the paragraph or list item being read into a sentence.
func (p *parser) endBlock() {
	lines := p.para
	p.para, p.boxed = nil, false
	var parts []string
	for _, l := range lines {
		parts = append(parts, spoken(l))
	}
	p.add(joinSpoken(parts))
}

// add appends one block as a sentence, ending it with a full stop when it
// has none so the synthesizer pauses there.
func (p *parser) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	last, _ := utf8.DecodeLastRuneInString(s)
	switch {
	case strings.ContainsRune(".!?;:。！？；：…", last):
	case unicode.Is(unicode.Han, last) || strings.ContainsRune("，、）」”", last):
		s = strings.TrimRight(s, "，、") + "。"
	default:
		s = strings.TrimRight(s, ",") + "."
	}
	p.sentences = append(p.sentences, s)
}

// cells splits a table row.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var out []string
	for _, c := range strings.Split(row, "|") {
		out = append(out, spoken(c))
	}
	return out
}

// tableRow reads a row the way a person would: "Cash withdrawal abroad: 2
// dollars." for two columns, each further cell led by its column's name.
func tableRow(header, row []string) string {
	if len(row) == 0 {
		return ""
	}
	first := row[0]
	var rest []string
	for j := 1; j < len(row); j++ {
		if row[j] == "" {
			continue
		}
		if len(row) > 2 && j < len(header) && header[j] != "" {
			rest = append(rest, header[j]+" "+row[j])
		} else {
			rest = append(rest, row[j])
		}
	}
	switch {
	case len(rest) == 0:
		return first
	case first == "":
		return strings.Join(rest, ", ")
	}
	return first + ": " + strings.Join(rest, ", ")
}

var (
	image       = regexp.MustCompile(`!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?`)
	link        = regexp.MustCompile(`\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])`)
	footnote    = regexp.MustCompile(`\[\^[^\]]*\]`)
	autolink    = regexp.MustCompile(`<((?:https?|mailto):[^>\s]*|[^@>\s]+@[^>\s]+)>`)
	tag         = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(?:\s[^>]*)?/?>`)
	comment     = regexp.MustCompile(`(?s)<!--.*?(?:-->|\z)`)
	emphasis    = regexp.MustCompile("\\*+|~~|`+")
	underscore  = regexp.MustCompile(`(^|[^\p{L}\p{N}_])_+|_+([^\p{L}\p{N}_]|$)`)
	escaped     = regexp.MustCompile(`\\([!-/:-@\[-` + "`" + `{-~])`)
	privateUse  = regexp.MustCompile(`[\x{E000}-\x{E07F}]`)
	spaceBefore = regexp.MustCompile(`\s+([,.;:!?])`)
)

// spoken strips inline Markdown and HTML from one line: links keep their
// words, images and footnote marks go, emphasis and code marks go, escaped
// characters stay as themselves, entities are decoded.
func spoken(s string) string {
	// Escaped characters are parked in the private use area so the
	// passes below do not take them for syntax.
	s = privateUse.ReplaceAllString(s, "")
	s = escaped.ReplaceAllStringFunc(s, func(m string) string { return string(rune(0xE000 + int(m[1]))) })
	s = image.ReplaceAllString(s, "")
	s = footnote.ReplaceAllString(s, "")
	s = link.ReplaceAllString(s, "$1")
	s = autolink.ReplaceAllString(s, "$1")
	s = tag.ReplaceAllString(s, " ")
	s = emphasis.ReplaceAllString(s, "")
	s = underscore.ReplaceAllString(s, "$1$2")
	s = strings.NewReplacer("[", "", "]", "").Replace(s)
	s = privateUse.ReplaceAllStringFunc(s, func(m string) string {
		r, _ := utf8.DecodeRuneInString(m)
		return string(r - 0xE000)
	})
	s = html.UnescapeString(s)
	// What was taken out may leave "and , bold".
	return spaceBefore.ReplaceAllString(strings.Join(strings.Fields(s), " "), "$1")
}

// joinSpoken joins lines or sentences with a space, except between Chinese
// ones, which are written without.
func joinSpoken(parts []string) string {
	var b strings.Builder
	for _, s := range parts {
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			last, _ := utf8.DecodeLastRuneInString(b.String())
			first, _ := utf8.DecodeRuneInString(s)
			if !(cjk(last) && cjk(first)) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(s)
	}
	return b.String()
}

// cjk reports whether r is a Han character or Chinese punctuation.
func cjk(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}
