package guard

// Phrases are English phrases the guardrails act on, for a recognizer that
// only hears what its grammar holds (the embedded one on telephone audio):
// without them a caller asking for a person, or at risk, would be heard as
// the nearest thing the brain offers. Each is matched by WantsHuman or
// DetectCrisis (a test checks).
var Phrases = []string{
	"agent", "representative", "operator", "a real person", "speak to an agent", "talk to a person",
	"i want to speak to an agent", "i want to talk to a person", "can i speak to someone", "transfer me",
	"i want to kill myself", "i want to die", "i don't want to live anymore", "i am going to hurt myself",
	"i feel suicidal", "i want to end my life",
}
