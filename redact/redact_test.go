package redact

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpus is what Redact must do with transcripts: true positives of each
// kind and the hard false positives the product wants kept, in English and
// Chinese.
var corpus = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"plain", "I'd like to speak to an agent, please.", "I'd like to speak to an agent, please."},

	// Cards: Luhn-valid test numbers of the common brands.
	{"visa spaced", "my card is 4111 1111 1111 1111 thanks", "my card is [card] thanks"},
	{"visa dashed", "4242-4242-4242-4242", "[card]"},
	{"visa contiguous", "4012888888881881.", "[card]."},
	{"amex 4-6-5", "card 3782 822463 10005", "card [card]"},
	{"mastercard", "5555555555554444", "[card]"},
	{"unionpay in chinese", "我的卡号是6222021234567894，谢谢", "我的卡号是[card]，谢谢"},
	{"card after other digits", "1 4111 1111 1111 1111", "1 [card]"},
	{"card glued to a word", "card4111111111111111", "card[card]"},
	{"card after order keyword", "order 4111111111111111", "order [card]"},
	{"spoken card", "four two four two four two four two four two four two four two four two", "[card]"},
	{"spoken card with double", "four double one one one one one one one one one one one one one one", "[card]"},
	{"figures then words", "it's 4111 1111 1111 one one one one", "it's [card]"},
	{"fullwidth card", "卡号４１１１１１１１１１１１１１１１", "卡号[card]"},
	{"chinese numeral card", "四一一一一一一一一一一一一一一一", "[card]"},

	// Chinese resident identity numbers.
	{"id with X", "身份证号11010519491231002X", "身份证号[id]"},
	{"id with lower x", "my ID is 44030419900307123x.", "my ID is [id]."},
	{"id leap day", "310115198802294565", "[id]"},
	{"id grouped", "310115 19880229 4565", "[id]"},
	{"id fullwidth", "身份证３１０１１５１９８８０２２９４５６５", "身份证[id]"},

	// IBANs.
	{"iban grouped", "IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [iban] please"},
	{"iban solid", "DE89370400440532013000", "[iban]"},
	{"iban lower case", "it's fr14 2004 1010 0505 0001 3m02 606.", "it's [iban]."},
	{"iban then more digits", "GB82 WEST 1234 5698 7654 32 100", "[iban] 100"},

	// Social security numbers.
	{"ssn dashed", "ssn 078-05-1120", "ssn [ssn]"},
	{"ssn spaced", "it's 219 09 9999", "it's [ssn]"},
	{"ssn after keyword", "my social security number is 219099999", "my social security number is [ssn]"},
	{"spoken ssn", "my SSN is zero seven eight, zero five, one one two zero", "my SSN is [ssn]"},

	// Phones.
	{"e164", "call me on +14155550123 tomorrow", "call me on [phone] tomorrow"},
	{"us parens", "my number is (415) 555-0123", "my number is [phone]"},
	{"plus and parens", "+1 (415) 555-0123", "[phone]"},
	{"dotted", "415.555.0123", "[phone]"},
	{"dashed 1-3-3-4", "1-800-555-0199", "[phone]"},
	{"local 3-4", "555-0123", "[phone]"},
	{"uk plus", "+44 20 7946 0958", "[phone]"},
	{"uk national", "020 7946 0958", "[phone]"},
	{"uk mobile", "07700 900123", "[phone]"},
	{"china mobile", "我的手机号是13800138000", "我的手机号是[phone]"},
	{"china mobile grouped", "138 0013 8000", "[phone]"},
	{"china mobile plus", "+86 138-0013-8000", "[phone]"},
	{"china landline", "电话010-12345678", "电话[phone]"},
	{"china fullwidth", "手机１３８００１３８０００", "手机[phone]"},
	{"china numerals", "电话是幺三八零零幺三八零零零", "电话是[phone]"},
	{"china numerals with pauses", "一三八，零零一三，八零零零", "[phone]"},
	{"spoken phone with pauses", "it's five five five, one two three four.", "it's [phone]."},
	{"spoken phone", "four one five five five five zero one two three", "[phone]"},
	{"spoken phone with double", "oh two oh double seven nine four six oh nine five eight", "[phone]"},

	// E-mail.
	{"email", "write to jane.doe+work@example.co.uk please", "write to [email] please"},
	{"email with digits", "bob123456@mail.example.com", "[email]"},
	{"spoken email", "it's jane dot doe at example dot com", "it's [email]"},
	{"chinese email", "邮箱是zhang.san@example.cn。", "邮箱是[email]。"},

	// Several in one turn.
	{"several", "I'm jane@example.com, card 4111111111111111, phone +1 415 555 0123, order 998877",
		"I'm [email], card [card], phone [phone], order 998877"},
	{"phone then card", "555-0123 4111111111111111", "[phone] [card]"},

	// Hard false positives: kept.
	{"order number", "order 5521-889", "order 5521-889"},
	{"order number long", "order number 20240512", "order number 20240512"},
	{"order looks like a phone", "my order number is 555-0123", "my order number is 555-0123"},
	{"order three groups", "order 5521-889-1234", "order 5521-889-1234"},
	{"reference ten digits", "ref: 4155550123", "ref: 4155550123"},
	{"chinese order", "订单号13800138000", "订单号13800138000"},
	{"chinese tracking", "快递单号是 2024 0512 8899", "快递单号是 2024 0512 8899"},
	{"iso date", "born 2024-05-12", "born 2024-05-12"},
	{"date with time", "on 2024-05-12 10:30", "on 2024-05-12 10:30"},
	{"date hour without colon", "2024-05-12 10 am", "2024-05-12 10 am"},
	{"slashed date", "since 12/05/2024", "since 12/05/2024"},
	{"written date", "on May 12 2024", "on May 12 2024"},
	{"chinese date", "2024年5月12日下午3点", "2024年5月12日下午3点"},
	{"chinese numeral date", "二〇二四年五月十二日", "二〇二四年五月十二日"},
	{"dollar amount", "it was $1,250.00", "it was $1,250.00"},
	{"amount in words", "1250 dollars", "1250 dollars"},
	{"yuan amount", "¥3,000", "¥3,000"},
	{"large amount", "about 1,000,000 people", "about 1,000,000 people"},
	{"amount spaced thousands", "2 500 000 000 euros", "2 500 000 000 euros"},
	{"times", "we open at 9:30 and close at 17:00", "we open at 9:30 and close at 17:00"},
	{"short numbers", "press 1, room 12 floor 3 building 45", "press 1, room 12 floor 3 building 45"},
	{"account number kept", "account number 12345678", "account number 12345678"},
	{"luhn invalid card kept", "4111 1111 1111 1112", "4111 1111 1111 1112"},
	{"id with bad check kept", "110105194912310021", "110105194912310021"},
	{"id with impossible date kept", "110105202402301235", "110105202402301235"},
	{"iban bad check kept", "GB82 WEST 1234 5698 7654 33", "GB82 WEST 1234 5698 7654 33"},
	{"two letters two digits", "MP34 player", "MP34 player"},
	{"ssn invalid area", "900-12-3456", "900-12-3456"},
	{"ssn area 666", "666-12-3456", "666-12-3456"},
	{"ssn group 00", "123-00-4567", "123-00-4567"},
	{"ssn serial 0000", "123-45-0000", "123-45-0000"},
	{"nine figures without keyword", "code 123456789", "code 123456789"},
	{"three-four with space", "room 555 0123", "room 555 0123"},
	{"years", "2019 2020 2021", "2019 2020 2021"},
	{"spoken short with comma", "two, three options", "two, three options"},
	{"oh alone", "oh, one moment", "oh, one moment"},
	{"phone word", "phone", "phone"},
	{"at sign alone", "meet @ noon", "meet @ noon"},
	{"at and dot without domain", "meet at home dot noon", "meet at home dot noon"},
	{"chinese counting", "我要一个三人间，住两晚", "我要一个三人间，住两晚"},
	{"passport kept", "passport X12345678", "passport X12345678"},
}

func TestRedact(t *testing.T) {
	for _, tt := range corpus {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got  %q\n want %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestRedactInvalidUTF8(t *testing.T) {
	got := Redact("card \xff4111111111111111\xfe")
	if want := "card \uFFFD[card]\uFFFD"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestChecks(t *testing.T) {
	for _, s := range []string{"4111111111111111", "79927398713", "0"} {
		if !luhn([]byte(s)) {
			t.Errorf("luhn(%s) = false", s)
		}
	}
	for _, s := range []string{"4111111111111112", "79927398710"} {
		if luhn([]byte(s)) {
			t.Errorf("luhn(%s) = true", s)
		}
	}
	for _, tt := range []struct {
		y, m, d int
		ok      bool
	}{{2000, 2, 29, true}, {1900, 2, 29, false}, {2024, 4, 31, false}, {1899, 1, 1, false}, {2024, 13, 1, false}, {2024, 12, 31, true}} {
		if got := plausibleDate(tt.y, tt.m, tt.d); got != tt.ok {
			t.Errorf("plausibleDate(%d, %d, %d) = %v", tt.y, tt.m, tt.d, got)
		}
	}
	for s, ok := range map[string]bool{"078051120": true, "000123456": false, "666123456": false, "900123456": false, "123004567": false, "123450000": false} {
		if ssn([]byte(s)) != ok {
			t.Errorf("ssn(%s) = %v", s, !ok)
		}
	}
}

// longDigits finds digit runs a card could hide in: figures, alone or in
// groups joined by a space or dash.
var longDigits = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)

// FuzzRedact checks the promises any input must keep: no panic, valid UTF-8
// out, nothing left to redact (idempotent), no Luhn-valid 13 to 19 digit
// run, alone or in groups, and no e-mail address survives.
func FuzzRedact(f *testing.F) {
	for _, tt := range corpus {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"(((((1", "+(", "1-2-3-4-5-6", "a@b.cc@d.ee", "12345 6@b.co", "9 ９８７６５", "double", "double double one",
		"GB82", "gb82 west", "x@y.z 4111", "1X", "11010519491231002X1", "+4111111111111111", "(4111 1111 1111 1111)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Redact(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q: %q", in, out)
		}
		if again := Redact(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		for _, m := range longDigits.FindAllString(out, -1) {
			parts := strings.FieldsFunc(m, func(r rune) bool { return r == ' ' || r == '-' })
			for i := range parts {
				d := ""
				for _, p := range parts[i:] {
					d += p
					if len(d) > 19 {
						break
					}
					if len(d) >= 13 && luhn([]byte(d)) {
						t.Fatalf("card number %q survived in %q (from %q)", d, out, in)
					}
				}
			}
		}
		if m := email.FindString(out); m != "" {
			t.Fatalf("e-mail %q survived in %q (from %q)", m, out, in)
		}
	})
}

// BenchmarkRedact measures typical turns: one with a card and a phone, one
// with nothing to remove, one in Chinese.
func BenchmarkRedact(b *testing.B) {
	for _, bb := range []struct{ name, s string }{
		{"card+phone", "Hi, this is Jane, my card is 4111 1111 1111 1111 and you can call me back on +1 (415) 555-0123, thanks."},
		{"clean", "I ordered the blue one on May 12 and it still hasn't arrived, order 5521-889, can you check?"},
		{"chinese", "你好，我的手机号是13800138000，订单号20240512，麻烦帮我查一下。"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.s)))
			b.ReportAllocs()
			for b.Loop() {
				Redact(bb.s)
			}
		})
	}
}
