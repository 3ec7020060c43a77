package redact

import (
	"strings"
	"unicode/utf8"
)

// keepWords name numbers that are what the call is about rather than who
// the caller is. A phone or SSN format right after one ("order number
// 555-0123", "订单号13800138000") is a coincidence and kept.
var keepWords = []string{
	"order", "ref", "reference", "confirmation", "tracking", "invoice",
	"booking", "reservation", "ticket", "case", "receipt", "transaction",
	"claim", "shipment", "parcel", "package", "serial", "model", "item",
	"product", "sku",
	"单", "发票", "编号", "流水", "预订", "快递",
}

var ssnWords = []string{"ssn", "social security"}

// fillers may stand between a keyword and its number: "order number is",
// "订单号是".
var fillers = []string{"number", "no", "num", "nr", "is", "was", "id", "code", "号码", "号", "是", "为"}

func keepContext(before string) bool { return endsWithAny(trimFillers(before), keepWords) }

func ssnContext(before string) bool { return endsWithAny(trimFillers(before), ssnWords) }

// trimFillers drops separators and filler words from the end of before.
func trimFillers(before string) string {
	if len(before) > 64 {
		// The words that matter are right before the number; cut at a
		// rune boundary.
		k := len(before) - 64
		for k < len(before) && !utf8.RuneStart(before[k]) {
			k++
		}
		before = before[k:]
	}
	for range 4 {
		before = strings.TrimRight(before, " \t:#,.-\u3000：，")
		trimmed := false
		for _, f := range fillers {
			if endsWithWord(before, f) {
				before, trimmed = before[:len(before)-len(f)], true
				break
			}
		}
		if !trimmed {
			break
		}
	}
	return before
}

func endsWithAny(s string, words []string) bool {
	for _, w := range words {
		if endsWithWord(s, w) {
			return true
		}
	}
	return false
}

// endsWithWord reports whether s ends with w, ignoring ASCII case; an
// English w must be a whole word.
func endsWithWord(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	k := len(s) - len(w)
	for i := 0; i < len(w); i++ {
		if lower(s[k+i]) != w[i] {
			return false
		}
	}
	return !isASCIILetter(w[0]) || k == 0 || !isASCIILetter(s[k-1])
}
