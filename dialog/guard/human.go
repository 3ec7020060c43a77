package guard

import "regexp"

// WantsHuman reports whether the caller asks for a person instead of the
// automated service, in English or Chinese: "agent", "can I speak to
// someone", "transfer me", "I don't want to talk to a robot", "转人工",
// "我要真人". Mentions of agents and people that ask for nothing ("my agent
// told me", "the travel agent booked it", "I am not a robot", "人工智能")
// and refusals ("I don't need an agent", "不用转人工") are not requests.
func WantsHuman(text string) bool {
	for _, clause := range englishClauses(text) {
		if humanAlone.MatchString(clause) {
			return true
		}
		for _, r := range humanEN {
			if _, ok := matchEnglish(r, clause, humanGlue, nil); ok {
				return true
			}
		}
	}
	if !hasHan(text) {
		return false
	}
	for _, clause := range hanClauses(text) {
		if hanHumanAlone.MatchString(clause) {
			return true
		}
		for _, r := range humanZH {
			if start, _ := r.find(clause); start >= 0 && !hanNegated(clause[:start], humanHanGlue) {
				return true
			}
		}
	}
	return false
}

const (
	personWords = `person|human|agent|representative|rep|operator|human being|manager|supervisor|customer service|staff member`
	person      = `(?:` + personWords + `)`
	anyone      = `(?:` + personWords + `|someone|somebody|people)`
	qualifier   = `(?:(?:a|an|the|some|your|one of your) )?(?:(?:real|live|actual|human) )?`
	// notPerson: words after that make it no request for one ("a human
	// error", "an agent told me").
	notPerson = `(?: (?P<not>told|said|says|booked|approval|number|license|fee|fees|error|resources|rights))?`
)

// humanAlone is a clause that is nothing but the request: "agent",
// "representative please", "a real person".
var humanAlone = regexp.MustCompile(`^(?:(?:um|uh|hey|hi|hello|ok|okay|yes|yeah|so|just|oh) )*` + qualifier +
	`(?:person|human|agent|representative|rep|operator|human being|customer service(?: representative| agent)?|somebody|someone)` +
	`(?: please| now| right now| thanks| thank you)*$`)

var humanEN = rules(false, false,
	`\b(?:speak|talk|chat|get through) (?:to|with) `+qualifier+anyone+`\b`+notPerson,
	`\b(?:transfer|connect|put) me\b`,
	`\b(?:want|need|like|get|get me|give me|request|prefer|find me|can i have|could i have) `+qualifier+person+`\b`+notPerson,
	`\bis there `+qualifier+`(?:any )?`+anyone+`\b`,
	// Not wanting the machine is asking for a person.
	`\bnot (?:want|wanna|like)(?: to (?:talk|speak|chat) (?:to|with))? (?:(?:a|an|the|this|your) )?(?:robot|bot|machine|computer|ai|automated system|recording)\b`,
)

var humanGlue = set("am", "is", "are", "was", "be", "have", "has", "do", "does", "did", "will", "would", "could",
	"should", "can", "may", "might", "must", "to", "want", "wanna", "need", "like", "just", "really", "please",
	"let", "go", "ahead", "and", "rather", "prefer", "try", "trying", "gonna", "going")

// hanHumanAlone is a Chinese clause that is nothing but the request.
var hanHumanAlone = regexp.MustCompile(`^(?:喂|你好|嗯|呃|那个)*(?:人工|真人|转人工|人工服务|人工客服|客服)(?:吧|啊|呀|啦|呢|谢谢|请|了)*$`)

var humanZH = rules(false, false,
	`(?:转|接|找|要|叫|换)(?:一个|个|一下)?(?:人工|真人|客服|接线员|坐席|工作人员|经理|主管)(?P<not>智能|费|成本|湖|降雨|合成|岛|秀|版)?`,
	`人工(?:服务|客服|坐席|座席|台|接听)`,
	`(?:和|跟|与|同)(?:真人|人工|客服|工作人员)(?:说话|讲话|通话|聊|对话|沟通)`,
	`(?:帮|给)我转接`,
	`不(?:想|要)(?:和|跟)?机器人`,
)

var humanHanGlue = set("用", "要", "需", "想", "必", "我", "再", "了", "帮", "给", "请", "就", "还", "是", "会", "能", "可", "以", "直", "接", "先", "你", "们", "去")
