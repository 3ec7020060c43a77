// Package prosody hears how a caller speaks, not what they say, and turns it
// into an emotion cue for each of their turns.
//
// Per 20 ms frame an Analyzer finds the fundamental frequency (YIN, 55–550
// Hz, on 8 kHz audio whatever the leg's rate, so it works on G.711 where the
// line has cut the fundamental away) with a voicing decision, and the energy
// in dBFS. Summarize turns one utterance's frames into Features: F0 mean,
// range and slope, energy mean and spread, speaking rate from syllable
// nuclei in the voiced energy envelope (checked against the recognizer's
// words when there are some) and the pause ratio.
//
// Voices differ more between people than one person's voice differs between
// calm and angry, so a Tracker learns each caller's baseline from their
// first turns and judges later turns by how far they deviate from it, in
// units of the caller's own spread. Raised pitch, loudness and pace make
// arousal (0..1, 0.5 being the caller's normal); the label is calm, neutral,
// tense, angry (tense and louder) or low.
//
// The words are read too (lexicons of anger, anxiety, distress and thanks in
// English and Chinese, with negation and intensifiers), and the two are
// fused: negative words say which emotion, the voice how strongly it is
// felt; a calm voice saying "I am furious" is still angry by its words, with
// less confidence; thanks calm a neutral voice, while a voice raised to
// anger keeps a flag one step down. Prosody says little about valence, so
// valence comes mostly from the words.
//
// What prosody cannot tell: it measures arousal against the caller's own
// baseline, so a caller who is already upset when the call starts sets an
// upset baseline; it cannot tell anger from excitement or joy without words;
// a short "yes" carries little evidence and is weighed accordingly.
package prosody
