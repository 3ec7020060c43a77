package guard

import "strings"

// Crisis is a caller's statement of suicide or self-harm risk.
type Crisis struct {
	// Phrase is the words that matched, as normalized: lower case,
	// contractions spelled out, spaces between Chinese words removed.
	Phrase string
	// Lang is "en" or "zh".
	Lang string
}

// DetectCrisis reports whether the caller says they are at risk of suicide
// or self-harm, in English or Chinese.
//
// It looks for the caller's own risk, stated or intended: "I want to kill
// myself", "I don't want to live anymore", "我想自杀", "活着没意思". It does
// not flag
//   - hyperbole without the words of self-harm: "this bill is killing me",
//     "I'm dying to know", "笑死我了", "累死了";
//   - negated statements: "I'm not suicidal, just frustrated", "我不会自杀";
//     the caller has said what they do not mean;
//   - others' risk, news and fiction: "he killed himself in the movie",
//     "我朋友想自杀", "自杀率"; the response (crisis resources read to the
//     caller) is for the caller's own risk;
//   - past accidents: "I hurt myself at the gym" (hurting oneself needs a
//     word of intent: "going to", "want to", "keep").
//
// Literal words of self-harm are flagged even when the caller may be
// exaggerating ("this bill makes me want to kill myself"): a missed crisis
// costs more than a needless check.
func DetectCrisis(text string) (Crisis, bool) {
	for _, clause := range englishClauses(text) {
		for _, r := range crisisEN {
			if phrase, ok := matchEnglish(r, clause, crisisGlue, crisisIntent); ok {
				return Crisis{Phrase: phrase, Lang: "en"}, true
			}
		}
	}
	if !hasHan(text) {
		return Crisis{}, false
	}
	for _, clause := range hanClauses(text) {
		for _, r := range crisisZH {
			start, end := r.find(clause)
			if start < 0 || hanNegated(clause[:start], crisisHanGlue) || otherSubject(clause[:start]) {
				continue
			}
			return Crisis{Phrase: clause[start:end], Lang: "zh"}, true
		}
	}
	return Crisis{}, false
}

// matchEnglish reports r's first match in clause the words before allow.
func matchEnglish(r rule, clause string, glue, intents map[string]bool) (string, bool) {
	start, end := r.find(clause)
	if start < 0 {
		return "", false
	}
	c := englishWalk(clause[:start], glue, intents)
	if c.negated || (r.subject && !c.caller) || (r.intent && !c.intent) {
		return "", false
	}
	return clause[start:end], true
}

var crisisEN = concat(
	// The words say it is the caller: "myself", "my life", "me".
	rules(false, false,
		`\b(?:kill|off|unalive) myself\b`,
		`\b(?:end|take) my (?:own )?life\b(?: (?P<not>savings|insurance|policy|story|plan|away))?`,
		`\b(?:ending|taking) my own life\b`,
		`\b(?:want|wanna|wanted|wish|ready) (?:to )?die\b(?: (?P<not>my|your|her|his|the|it|of|for|laughing|trying|from))?`,
		`\bwish i (?:was|were) dead\b`,
		`\bwish i (?:could|would) (?:just )?die\b`,
		`\bwish i (?:had|would have) never been born\b`,
		`\bbetter off dead\b`,
		`\bbetter off without me\b`,
		`\b(?:nobody|no one) (?:would|will) (?:care|notice|miss me) if i (?:died|was gone|were gone|was dead|disappeared)\b`,
		`\b(?:not|no longer|never) (?:want|wanna|wish)(?: to)? (?:live|wake up)(?:$| any ?more\b| any longer\b| again\b| like this\b| this way\b)`,
		`\b(?:not|no longer|never) (?:want|wanna|wish)(?: to)? (?:be alive|exist any ?more)\b`,
		`\bno (?:reason|point|will|purpose) (?:in |to )?(?:live|living|go on|going on|carry on|keep going|be alive|stay alive)\b`,
		`\bnot see (?:any|a|the) (?:reason|point) (?:in |to |of )?(?:live|living|go on|going on|being alive)\b`,
		`\bnothing (?:left )?to live for\b`,
		`\bwhat is the point (?:of|in) (?:living|life|being alive|going on)\b`,
		`\bnot worth living\b`,
		`\b(?:can|could) not (?:go on|keep going|carry on) (?:any ?more|any longer|living)\b`,
		`\b(?:tired|sick) of (?:living|being alive|life)\b(?: (?P<not>insurance|policy|policies))?`,
		`\bdone with (?:living|life)\b`,
		`\b(?:end|ending) it all\b`,
		`\b(?:hurt|harm|cut|burn)(?:ing)? myself (?:on purpose|deliberately)\b`,
		`\b(?:took|swallowed) (?:all|all of) (?:my|the|these|those)(?: sleeping)? (?:pills|tablets)\b`,
		`\btook (?:too many|a bunch of|a whole bottle of)(?: my| the)?(?: sleeping)? (?:pills|tablets)\b`,
	),
	// About someone; it must be the caller.
	rules(true, false,
		`\bsuicidal\b`,
		`\b(?:commit|committing|attempt|attempting|attempted|consider|considering|contemplate|contemplating|think about|thinking about|thinking of|thought about|thoughts of) suicide\b`,
		`\bself harm(?:ing|ed)?\b`,
	),
	// Needs a word of intent before it.
	rules(false, true,
		`\b(?:killing|hurt|hurting|harm|harming|cut|cutting|burn|burning|starve|starving) myself\b`,
		`\boverdose\b`,
		`\btake (?:all|all of) (?:my|the|these|those)(?: sleeping)? (?:pills|tablets)\b`,
		`\bjump (?:off|from) (?:a |the |this |my )?(?:bridge|building|roof|balcony|cliff)\b`,
		`\b(?:jump|step) in front of (?:a|the) (?:train|bus|truck|car)\b`,
	),
)

var (
	crisisIntent = set("want", "wanna", "wanted", "wants", "going", "gonna", "will", "would", "might",
		"plan", "planning", "planned", "think", "thinking", "thought", "considering", "contemplating",
		"keep", "keeps", "kept", "been", "ready", "decided", "try", "trying", "tried", "gotta", "urge", "urges")
	crisisGlue = union(crisisIntent, set("am", "is", "are", "was", "were", "be", "being", "have", "has", "had",
		"do", "does", "did", "could", "should", "shall", "may", "can", "must", "to", "need", "about", "of",
		"really", "just", "actually", "seriously", "honestly", "literally", "probably", "definitely",
		"sometimes", "often", "always", "still", "so", "very", "feel", "feeling", "felt", "like", "kind",
		"kinda", "sort", "ever", "lately", "recently", "now", "today", "tonight", "again", "also", "too",
		"having", "getting", "get", "got", "as", "well", "almost", "even", "go", "a", "bit", "little",
		"pretty", "quite", "started", "start", "starting"))
)

var crisisZH = rules(false, false,
	`(?:想|要|打算|准备|考虑|企图|计划|想过|试过|尝试|会)(?:去)?自杀(?P<not>式)?`,
	`自杀的(?:念头|想法|冲动)|自杀倾向|轻生|寻死|自残|自伤|自我了断`,
	`伤害自己(?P<not>的)?`,
	`不想(?:再)?活(?:了|下去|着|啦|$)`,
	`活不下去|活够了|不想(?:再)?醒来`,
	`活着(?:真|太|都|好)?(?:没|没有)(?:意思|意义|盼头)|活着有什么(?:意思|意义|用)|活着(?:太|好|真)累`,
	`没有(?:活下去|活着)的(?:理由|意义|勇气|动力)|活下去的(?:理由|意义)都没有`,
	// Not 要死: "累得要死" is hyperbole.
	`(?:(?:想|打算|准备)(?:去)?|要去)死(?P<not>你|您|他|她|它|我了|我啦|磕|的心|机|循环|了你)?`,
	`死了算了|死了就好了|不如死了|一死了之`,
	`结束(?:自己的|我的|我自己的)?生命|了结(?:我)?自己|了断自己`,
	`(?:想|要|打算|准备|会|去)(?:去)?(?:跳楼|跳河|跳桥|跳海|割腕|卧轨|烧炭|上吊|吃安眠药|吞安眠药|吞药|喝农药|服毒)`,
	`(?:想|要|打算|准备)从[^，。！？]{1,6}跳下去`,
	`(?:想|要|打算|准备)(?:永远)?离开这个世界`,
	`没有我[^，。！？]{0,8}更好`,
)

var crisisHanGlue = set("会", "要", "想", "是", "并", "真", "的", "从", "来", "过", "再", "也", "都", "还", "就", "可", "能", "有", "敢", "去")

// hanOthers are subjects other than the caller, and sources (news, films)
// that tell of others.
var hanOthers = []string{"他", "她", "它", "你", "您", "别人", "有人", "人家", "朋友", "同事", "儿子", "女儿", "孩子",
	"老公", "老婆", "丈夫", "妻子", "妈", "爸", "母亲", "父亲", "哥", "姐", "弟", "妹", "邻居", "同学",
	"新闻", "电影", "报道", "文章", "小说", "节目"}

// otherSubject reports whether a Chinese clause before a match names
// someone else after the last 我: "我朋友想自杀" is about the friend.
func otherSubject(before string) bool {
	me := strings.LastIndex(before, "我")
	for _, o := range hanOthers {
		if strings.LastIndex(before, o) > me {
			return true
		}
	}
	return false
}

func concat(rs ...[]rule) []rule {
	var out []rule
	for _, r := range rs {
		out = append(out, r...)
	}
	return out
}

func union(a, b map[string]bool) map[string]bool {
	m := make(map[string]bool, len(a)+len(b))
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}
