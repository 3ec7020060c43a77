package knowledge

import (
	"slices"
	"testing"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"I lost my Credit Cards!", []string{"lost", "credit", "card"}},
		{"um yeah i'd like to know the branch opening hours please", []string{"branch", "open", "hour"}},
		{"transferred, transferring, transfers", []string{"transfer", "transfer", "transfer"}},
		{"charges charged charging charge", []string{"charg", "charg", "charg", "charg"}},
		{"policies applied addresses branches fees", []string{"policy", "apply", "addres", "branch", "fee"}},
		{"I forgot, it's forgotten", []string{"forgot", "forgot"}},
		{"the card's PIN", []string{"card", "pin"}},
		{"status bonus access needs", []string{"status", "bonus", "acces", "need"}},
		{"send 10,000 dollars at 19.9 percent 24/7", []string{"send", "10000", "dollar", "19.9", "percent", "24", "7"}},
		{"ＰＩＮ １２３４", []string{"pin", "1234"}},
		{"挂失银行卡", []string{"挂", "挂失", "失", "失银", "银", "银行", "行", "行卡", "卡"}},
		{"我的卡", []string{"的卡", "卡"}},
		// The wrapping phrase goes, its edges stay but match nothing.
		{"请问怎么挂失", []string{"问怎", "么挂", "挂", "挂失", "失"}},
		{"手机银行app登录", []string{"手", "手机", "机", "机银", "银", "银行", "行", "app", "登", "登录", "录"}},
		{"", nil},
		{"?! -- ...", nil},
	} {
		if got := tokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStem(t *testing.T) {
	for in, want := range map[string]string{
		"cards": "card", "card": "card", "pin": "pin", "pins": "pin", "fees": "fee", "fee": "fee",
		"opening": "open", "opened": "open", "close": "clos", "closing": "clos", "closed": "clos",
		"calls": "cal", "called": "cal", "calling": "cal", "cancelled": "cancel", "cancel": "cancel",
		"statements": "statement", "bring": "bring", "thing": "thing", "need": "need", "free": "free",
		"taxes": "tax", "activated": "activat", "activate": "activat", "3d": "3d", "login": "login",
	} {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOneEdit(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"pen", "pin", true}, {"card", "cart", true}, {"card", "car", true}, {"car", "card", true},
		{"scan", "scam", true}, {"form", "from", true}, {"branch", "brunch", true},
		{"card", "card", false}, {"lone", "loan", false}, {"pin", "pint", true}, {"ab", "ba", true},
		{"card", "cards2", false}, {"", "a", true},
	} {
		if got := oneEdit(c.a, c.b); got != c.want {
			t.Errorf("oneEdit(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
