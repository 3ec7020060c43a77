package guard

import "testing"

// crisisCorpus is what DetectCrisis must flag (true) and the hard cases it
// must not (false), by language.
var crisisCorpus = map[string][]struct {
	text string
	want bool
}{
	"en": {
		{"I want to kill myself.", true},
		{"I don't want to live anymore", true},
		{"I've been thinking about ending it all.", true},
		{"I'm going to hurt myself", true},
		{"There's no reason to go on.", true},
		{"honestly i just want to die", true},
		{"I wish I was dead", true},
		{"Everyone would be better off without me.", true},
		{"I'm thinking of taking my own life", true},
		{"I feel suicidal", true},
		{"I've been having suicidal thoughts lately", true},
		{"I can't go on anymore, I'm done", true},
		{"I have nothing to live for", true},
		{"I'm going to end my life tonight", true},
		{"i dont want to be alive", true},
		{"I keep cutting myself", true},
		{"I'm planning to overdose on my pills", true},
		{"I want to jump off a bridge", true},
		{"Life isn’t worth living.", true},
		{"I'm so tired of living", true},
		{"sometimes I think about suicide", true},
		{"I took all my pills an hour ago", true},
		{"I might as well kill myself, nothing matters", true},
		{"What's the point of living?", true},
		{"I've been self-harming again", true},
		{"I'm so tired I want to die", true},
		{"this bill makes me want to kill myself", true},
		{"I don't see any reason to live", true},
		{"I'd be better off dead", true},
		{"I can't pay this and I want to end it all", true},
		{"I am not okay, I want to kill myself", true},
		{"I lost my job I don't want to wake up anymore", true},
		{"nobody would care if I died", true},

		{"This bill is killing me.", false},
		{"I could kill for a coffee right now.", false},
		{"How do I kill the process?", false},
		{"My phone died.", false},
		{"I'm dying to know what happened.", false},
		{"I'm not suicidal, just frustrated.", false},
		{"I read a news story about suicide rates rising.", false},
		{"My feet are killing me.", false},
		{"I nearly died laughing.", false},
		{"I hurt myself at the gym, can I pause my membership?", false},
		{"I cut myself while cooking, it's fine.", false},
		{"I don't want to hurt myself, I just want a refund.", false},
		{"I would never kill myself.", false},
		{"I'm not going to kill myself over a phone bill.", false},
		{"I want to end my contract.", false},
		{"I'm tired of waiting on hold.", false},
		{"I can't go on hold again.", false},
		{"They took my life savings!", false},
		{"I want to cancel my life insurance policy.", false},
		{"He killed himself in the movie.", false},
		{"My neighbour committed suicide last year.", false},
		{"My brother is suicidal and I don't know what to do.", false},
		{"Suicide Squad was a terrible movie.", false},
		{"I'd rather die than pay this fee.", false},
		{"I'm dead tired.", false},
		{"You're killing me with these fees.", false},
		{"I don't want to live in this apartment anymore.", false},
		{"Kill two birds with one stone.", false},
		{"Don't kill me, but I forgot my password.", false},
		{"I want to die my hair red before the wedding.", false},
		{"the suicide prevention hotline number is on your website", false},
		{"I'm tired of life insurance salesmen calling me", false},
		{"The kids jump off the roof into the pool.", false},
		{"I don't want to die, I want my money back", false},
	},
	"zh": {
		{"我想自杀", true},
		{"我不想活了", true},
		{"活着没意思", true},
		{"我想结束自己的生命", true},
		{"我真的想死", true},
		{"我活不下去了", true},
		{"我已经活够了", true},
		{"我想跳楼", true},
		{"我打算吃安眠药", true},
		{"我一直在伤害自己", true},
		{"我想割腕", true},
		{"没有我大家会过得更好", true},
		{"我觉得活着没有意义", true},
		{"我不想再活下去了", true},
		{"我想去死", true},
		{"死了算了", true},
		{"我最近总是想自杀", true},
		{"我有轻生的念头", true},
		{"我想离开这个世界", true},
		{"我会自残", true},
		{"我准备跳河", true},
		{"活着有什么意思", true},
		{"我想一死了之", true},
		{"我没有活下去的理由了", true},
		{"真想死了算了", true},
		{"我想了结自己", true},
		{"我今晚就要结束生命", true},
		{"我想从楼上跳下去", true},
		{"我 不想 活 了", true},
		{"钱也没了，工作也没了，我想死", true},

		{"笑死我了", false},
		{"累死了", false},
		{"气死我了", false},
		{"你们的杀毒软件怎么卸载", false},
		{"热死了", false},
		{"饿死我了", false},
		{"烦死了，怎么还没到", false},
		{"我的手机死机了", false},
		{"我想死你了", false},
		{"你可想死我了", false},
		{"他想自杀，我很担心", false},
		{"我朋友想割腕", false},
		{"新闻里说有人跳楼了", false},
		{"跳楼价大甩卖", false},
		{"我不想死", false},
		{"我没有想过自杀", false},
		{"我不会自杀的，放心", false},
		{"自杀率在上升", false},
		{"这个电影讲的是一个人自杀的故事", false},
		{"人工智能会不会杀死人类", false},
		{"我要杀进程", false},
		{"吓死我了", false},
		{"急死我了", false},
		{"热得我要死了", false},
		{"我想结束这个合同", false},
		{"自杀式袭击的新闻", false},
		{"我想死磕到底", false},
		{"这样做会伤害自己的信用", false},
		{"我不想活在过去", false},
		{"我想死的心都有了", false},
	},
}

func TestDetectCrisisCorpus(t *testing.T) {
	for _, lang := range []string{"en", "zh"} {
		var pos, neg, hits, falsePos int
		for _, tt := range crisisCorpus[lang] {
			c, got := DetectCrisis(tt.text)
			if tt.want {
				pos++
				if got {
					hits++
				}
			} else {
				neg++
				if got {
					falsePos++
				}
			}
			if got != tt.want {
				t.Errorf("%s: DetectCrisis(%q) = %v (%q), want %v", lang, tt.text, got, c.Phrase, tt.want)
			}
			if got && c.Lang != lang {
				t.Errorf("DetectCrisis(%q).Lang = %q, want %q", tt.text, c.Lang, lang)
			}
		}
		t.Logf("%s: recall %d/%d, false positives %d/%d", lang, hits, pos, falsePos, neg)
		if pos < 25 || neg < 25 {
			t.Errorf("%s corpus too small: %d positive, %d negative", lang, pos, neg)
		}
	}
}

func TestDetectCrisisPhrase(t *testing.T) {
	for _, tt := range []struct{ text, phrase, lang string }{
		{"Honestly? I don't want to live anymore.", "not want to live anymore", "en"},
		{"I’m gonna kill myself", "kill myself", "en"},
		{"我 想 自杀。", "想自杀", "zh"},
		{"账单太贵了，活着没意思", "活着没意思", "zh"},
	} {
		c, ok := DetectCrisis(tt.text)
		if !ok || c.Phrase != tt.phrase || c.Lang != tt.lang {
			t.Errorf("DetectCrisis(%q) = %+v, %v; want %q in %s", tt.text, c, ok, tt.phrase, tt.lang)
		}
	}
}
