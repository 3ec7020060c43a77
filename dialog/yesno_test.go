package dialog

import "testing"

func TestYesNo(t *testing.T) {
	for in, want := range map[string]string{
		"yes": "yes", "yeah sure": "yes", "that's right": "yes", "no": "no", "that's not right": "no",
		"nope": "no", "是的": "yes", "对": "yes", "不是": "no", "不对": "no", "没错": "yes", "maybe": "",
	} {
		if got, _ := YesNo(in); got != want {
			t.Errorf("YesNo(%q) = %q, want %q", in, got, want)
		}
	}
}
