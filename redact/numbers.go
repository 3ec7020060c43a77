package redact

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// group is a run of digits written one way: ASCII figures, full-width
// figures, Chinese numerals, or one English digit word ("double five" is one
// group of two).
type group struct {
	start, end int // bytes of the text
	ds, de     int // its digits in the digit buffer
	// spoken: words or Chinese numerals. Their grouping carries no
	// meaning, and commas between them are the recognizer's pauses.
	spoken bool
	// checkX: followed by a lone X or x, which may be the check character
	// of a resident identity number.
	checkX bool
}

// digitWords are the spoken forms of single digits a recognizer writes out.
var digitWords = map[string]byte{
	"zero": '0', "oh": '0', "o": '0', "nought": '0',
	"one": '1', "two": '2', "three": '3', "four": '4', "five": '5',
	"six": '6', "seven": '7', "eight": '8', "nine": '9',
}

// repeatWords say the next digit word repeats: "double five" is 55.
var repeatWords = map[string]int{"double": 2, "triple": 3}

// hanDigit is the digit a Chinese numeral stands for when digits are read
// one by one; 幺 is how 1 is read in phone numbers. Numerals of quantity
// (十, 百, 千, 两) are not digits and end a run.
func hanDigit(r rune) (byte, bool) {
	switch r {
	case '零', '〇':
		return '0', true
	case '一', '幺':
		return '1', true
	case '二':
		return '2', true
	case '三':
		return '3', true
	case '四':
		return '4', true
	case '五':
		return '5', true
	case '六':
		return '6', true
	case '七':
		return '7', true
	case '八':
		return '8', true
	case '九':
		return '9', true
	}
	return 0, false
}

// scanner splits text into digit groups.
type scanner struct {
	text   string
	groups []group
	digits []byte
}

func (s *scanner) scan() {
	text := s.text
	repeat, repeatStart, wordEnd := 0, 0, -1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case isASCIIDigit(c):
			j := i
			for j < len(text) && isASCIIDigit(text[j]) {
				j++
			}
			s.add(i, j, text[i:j], false)
			i = j
		case isASCIILetter(c):
			j := i
			for j < len(text) && isASCIILetter(text[j]) {
				j++
			}
			s.word(i, j, repeat, repeatStart, wordEnd)
			repeat, repeatStart, wordEnd = 0, 0, j
			if n, ok := repeatWords[lowerWord(text[i:j])]; ok {
				repeat, repeatStart = n, i
			}
			i = j
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(text[i:])
			switch _, han := hanDigit(r); {
			case r >= '０' && r <= '９':
				start := len(s.digits)
				j := i
				for j < len(text) {
					r, size := utf8.DecodeRuneInString(text[j:])
					if r < '０' || r > '９' {
						break
					}
					s.digits = append(s.digits, byte('0'+r-'０'))
					j += size
				}
				s.addDigits(i, j, start, false)
				i = j
			case han:
				start := len(s.digits)
				j := i
				for j < len(text) {
					r, size := utf8.DecodeRuneInString(text[j:])
					d, ok := hanDigit(r)
					if !ok {
						break
					}
					s.digits = append(s.digits, d)
					j += size
				}
				s.addDigits(i, j, start, true)
				i = j
			default:
				i += size
			}
		}
	}
}

// word handles the letters text[i:j]: a digit word becomes a group, joined
// with a "double" or "triple" right before it.
func (s *scanner) word(i, j, repeat, repeatStart, prevEnd int) {
	d, ok := digitWords[lowerWord(s.text[i:j])]
	if !ok {
		if j-i == 1 && (s.text[i] == 'X' || s.text[i] == 'x') && len(s.groups) > 0 {
			// A lone X right after figures may end an identity number.
			if g := &s.groups[len(s.groups)-1]; g.end == i && !g.spoken {
				g.checkX = true
			}
		}
		return
	}
	start := len(s.digits)
	n := 1
	if repeat > 0 && s.text[prevEnd:i] == " " {
		n, i = repeat, repeatStart
	}
	for range n {
		s.digits = append(s.digits, d)
	}
	s.addDigits(i, j, start, true)
}

// lowerWord lower-cases a short ASCII word for a map look-up; longer words
// are no digit words and come back empty.
func lowerWord(w string) string {
	if len(w) > 6 {
		return ""
	}
	var b [6]byte
	for k := 0; k < len(w); k++ {
		b[k] = lower(w[k])
	}
	return string(b[:len(w)])
}

func (s *scanner) add(i, j int, digits string, spoken bool) {
	start := len(s.digits)
	s.digits = append(s.digits, digits...)
	s.addDigits(i, j, start, spoken)
}

func (s *scanner) addDigits(i, j, ds int, spoken bool) {
	s.groups = append(s.groups, group{start: i, end: j, ds: ds, de: len(s.digits), spoken: spoken})
}

// scanners keeps the buffers of finished scans for the next: Redact runs on
// every turn of every call.
var scanners = sync.Pool{New: func() any { return new(scanner) }}

// joins reports whether groups a and b belong to one number: the text
// between them is at most three separators. Between spoken digits a comma
// may stand too, the caller's pause ("five five five, one two"); between
// figures it may not, so amounts like 1,000,000 stay apart.
func joins(text string, a, b group) bool {
	sep := text[a.end:b.start]
	if utf8.RuneCountInString(sep) > 3 {
		return false
	}
	for _, r := range sep {
		switch r {
		case ' ', '-', '.', '(', ')', '\u3000', '－':
		case ',', '，', '、':
			if !a.spoken || !b.spoken {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// redactNumbers replaces the numbers that are personal data. Within each
// run of joined groups, checked kinds (card, id) are looked for first at
// every group boundary, longest first, since a card may follow other digits
// ("1 4111 1111 1111 1111"); what is left between them is judged whole for
// the unchecked kinds (ssn, phone), whose formats only mean something as a
// whole.
func redactNumbers(text string) string {
	s := scanners.Get().(*scanner)
	s.text, s.groups, s.digits = text, s.groups[:0], s.digits[:0]
	s.scan()
	var spans []span
	for lo := 0; lo < len(s.groups); {
		hi := lo + 1
		for hi < len(s.groups) && joins(text, s.groups[hi-1], s.groups[hi]) {
			hi++
		}
		spans = s.run(lo, hi, spans)
		lo = hi
	}
	s.text = ""
	scanners.Put(s)
	return replace(text, spans)
}

// maxChecked is the most digits a checked kind has (a card).
const maxChecked = 19

// run appends the findings in the joined groups [lo, hi).
func (s *scanner) run(lo, hi int, spans []span) []span {
	rest := lo // groups [rest, i) are not yet judged
	for i := lo; i < hi; {
		j, label := s.checked(i, hi)
		if label == "" {
			i++
			continue
		}
		spans = s.whole(rest, i, spans)
		start, end := s.groups[i].start, s.groups[j-1].end
		if label == ID && s.groups[j-1].checkX {
			end++
		}
		if i == lo && start > 0 && s.text[start-1] == '+' {
			// A checksum is a coincidence after a +: it is a phone.
			start, label = start-1, Phone
		}
		spans = append(spans, span{start, end, label})
		i, rest = j, j
	}
	return s.whole(rest, hi, spans)
}

// checked finds the longest span of groups from i that is a card or an
// identity number, returning its end and label, or "".
func (s *scanner) checked(i, hi int) (int, string) {
	n := 0
	j := i
	for j < hi && n+s.groups[j].de-s.groups[j].ds <= maxChecked {
		n += s.groups[j].de - s.groups[j].ds
		j++
	}
	for ; j > i; j-- {
		d := s.digits[s.groups[i].ds:s.groups[j-1].de]
		switch {
		case len(d) == 18 && residentID(d[:17], d[17]):
			return j, ID
		case len(d) == 17 && s.groups[j-1].checkX && residentID(d, 'X'):
			return j, ID
		case len(d) >= 13 && luhn(d):
			return j, Card
		}
	}
	return i, ""
}

// whole appends the finding that groups [a, b) make as a whole, if any.
func (s *scanner) whole(a, b int, spans []span) []span {
	if a >= b {
		return spans
	}
	g := s.groups[a:b]
	d := s.digits[g[0].ds:g[len(g)-1].de]
	start, end := g[0].start, g[len(g)-1].end
	if len(d) < 7 || len(d) > 15 || keepContext(s.text[:start]) {
		return spans
	}
	var label string
	switch {
	case len(d) == 9 && isSSN(s.text, g) && ssn(d):
		label = SSN
	case len(d) == 9 && ssnContext(s.text[:start]) && ssn(d):
		label = SSN
	case start > 0 && s.text[start-1] == '+':
		label, start = Phone, start-1
	case spoken(g) || phoneFormat(s.text, g, d):
		label = Phone
	}
	if label == "" {
		return spans
	}
	if start > 0 && s.text[start-1] == '(' {
		start--
	}
	if end < len(s.text) && s.text[end] == ')' && strings.Count(s.text[start:end], "(") > strings.Count(s.text[start:end], ")") {
		end++
	}
	return append(spans, span{start, end, label})
}

func spoken(g []group) bool {
	for _, x := range g {
		if x.spoken {
			return true
		}
	}
	return false
}

// isSSN reports whether the groups are written ddd-dd-dddd or ddd dd dddd.
func isSSN(text string, g []group) bool {
	if len(g) != 3 || spoken(g) {
		return false
	}
	sep := text[g[0].end:g[1].start]
	return (sep == "-" || sep == " ") && text[g[1].end:g[2].start] == sep &&
		g[0].de-g[0].ds == 3 && g[1].de-g[1].ds == 2 && g[2].de-g[2].ds == 4
}

// phoneFormat reports whether figures are written like a phone number.
func phoneFormat(text string, g []group, d []byte) bool {
	sizes := make([]int, 0, 8)
	for _, x := range g {
		sizes = append(sizes, x.de-x.ds)
	}
	n := len(d)
	paren := g[0].start > 0 && text[g[0].start-1] == '('
	switch {
	case paren && n >= 10 && n <= 12 && sizes[0] >= 2 && sizes[0] <= 4:
		// (415) 555-0123, (010) 1234 5678
		return true
	case len(g) == 2 && sizes[0] == 3 && sizes[1] == 4 && d[0] >= '2':
		// 555-0123, a local number, but not 555 0123 as two quantities.
		sep := text[g[0].end:g[1].start]
		return sep == "-" || sep == "."
	}
	// Otherwise the digits must be a national number, in groups of at
	// least three digits after an optional one-digit country code or
	// short trunk prefix, so dates and times ("2024-05-12 10") are not.
	for k, size := range sizes {
		if size < 3 && !(k == 0 && (size == 1 && d[0] == '1' && n == 11 || size == 2 && d[0] == '0')) {
			return false
		}
	}
	return national(d)
}

// national reports whether contiguous digits are a phone number in a common
// national format: North American (10 digits, or 11 after a 1), a Chinese
// mobile (1[3-9] and 11 digits), or a number dialled with a trunk 0 (UK,
// China, most of Europe: 10 to 12 digits) or an international 00.
func national(d []byte) bool {
	nanp := func(d []byte) bool {
		return len(d) == 10 && d[0] >= '2' && d[3] >= '2'
	}
	switch {
	case nanp(d):
		return true
	case len(d) == 11 && d[0] == '1' && (nanp(d[1:]) || d[1] >= '3'):
		return true
	case d[0] == '0' && d[1] == '0':
		return len(d) >= 11
	case d[0] == '0':
		return len(d) >= 10 && len(d) <= 12
	}
	return false
}
