// Package redact removes personal data from what was said on a call before it
// is stored, logged or sent to a language model.
//
// It works on transcripts in English and Chinese, so digits may be written as
// figures ("4111 1111"), full-width figures ("１３８"), English words ("four
// one one one", "double five") or Chinese numerals ("一三八", "幺"), and may
// be grouped by spaces, dashes, dots and parentheses. Each finding is replaced
// by a label that keeps the sentence readable:
//
//	[card]   13 to 19 digits that pass the Luhn check
//	[id]     a Chinese resident identity number: 18 characters with a real
//	         birth date and a valid ISO 7064 MOD 11-2 check character
//	[iban]   an IBAN of its country's length whose mod-97 check holds
//	[ssn]    a US social security number written ddd-dd-dddd (or ddd dd
//	         dddd) with a possible area, group and serial, or any nine
//	         digits right after "SSN" or "social security number"
//	[phone]  a number written like a phone number: after a +, with an area
//	         code in parentheses, a national format (415-555-0123, 138 0013
//	         8000, 020 7946 0958, 555-0123), or 7 to 15 digits read out as
//	         words or Chinese numerals
//	[email]  an e-mail address, written or spoken ("jane at example dot com")
//
// Everything else is kept on purpose: order and reference numbers, dates,
// amounts, times and short numbers are what the call is about, and the
// product needs them in transcripts and summaries. So a run of digits is
// only removed when it matches one of the kinds above. The checked kinds
// (card, id, iban) are removed wherever they appear; the unchecked ones
// (phone, ssn) are kept when the words before them name an order, a
// booking, a ticket or the like ("order 5521-889-1234", "订单号
// 13800138000"), since there the format match is a coincidence.
//
// What this costs: a card number the recognizer got one digit wrong fails
// the Luhn check and is kept, as is a bank account number that is not an
// IBAN and an identifier mixing letters and digits (a passport number).
//
// Redact is idempotent (its output holds nothing it would redact again),
// never panics, and returns valid UTF-8 whatever it is given.
package redact

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Labels written in place of what was removed.
const (
	Card  = "[card]"
	ID    = "[id]"
	IBAN  = "[iban]"
	SSN   = "[ssn]"
	Phone = "[phone]"
	Email = "[email]"
)

var (
	email = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// spokenEmail is how recognizers write an address read aloud. The
	// top-level domain must be a known one so that "meet at home dot"
	// sentences are not taken for addresses.
	spokenEmail = regexp.MustCompile(`(?i)\b[a-z0-9._%+\-]+(?: dot [a-z0-9_%+\-]+)* at [a-z0-9\-]+(?: dot [a-z0-9\-]+)* dot (?:com|net|org|edu|gov|io|co|uk|cn|de|fr|jp|hk|tw|info|biz|me|us|ca|au)\b`)
)

// Redact returns text with personal data replaced by labels. Invalid UTF-8
// is replaced by U+FFFD, since the stores it feeds reject it.
func Redact(text string) string {
	if text == "" {
		return text
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if strings.IndexByte(text, '@') >= 0 {
		text = email.ReplaceAllString(text, Email)
	}
	if indexFold(text, " dot ") >= 0 {
		text = spokenEmail.ReplaceAllString(text, Email)
	}
	text = redactIBANs(text)
	return redactNumbers(text)
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring the
// case of text, without allocating.
func indexFold(text, needle string) int {
	for i := 0; i+len(needle) <= len(text); i++ {
		j := 0
		for j < len(needle) && lower(text[i+j]) == needle[j] {
			j++
		}
		if j == len(needle) {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCIILetter(c byte) bool { return 'a' <= lower(c) && lower(c) <= 'z' }
func isASCIIDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isASCIIAlnum(c byte) bool  { return isASCIILetter(c) || isASCIIDigit(c) }

// span is a finding: text[start:end] is replaced by label.
type span struct {
	start, end int
	label      string
}

// replace writes text with the spans (sorted, disjoint) replaced.
func replace(text string, spans []span) string {
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		b.WriteString(s.label)
		last = s.end
	}
	b.WriteString(text[last:])
	return b.String()
}
