// Package guard holds the guardrails that sit around whichever dialog brain
// answers the caller: they read what the caller said and how they sounded,
// and can override the brain.
//
//   - DetectCrisis finds statements of suicide or self-harm risk, so the
//     call can leave the script for crisis resources and a person.
//   - WantsHuman finds an explicit request for a person.
//   - Mood watches the caller's emotion cues over the turns and says when
//     to offer a person and when to transfer.
//
// They work on transcripts in English and Chinese, from a recognizer that
// may leave out punctuation, and are pure: no I/O, no clock. The text
// detectors favour precision on the hard cases listed in their tests
// (hyperbole, negation, other people, lookalike words) and are otherwise
// phrase lists: they catch the common ways of saying it, not every way.
package guard
