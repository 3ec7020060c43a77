// Package prompts holds Hotline's shipped voice prompts, embedded into the
// binary.
//
// Every file is a RIFF/WAVE file with a plain 44-byte header: 8 kHz, 16-bit
// signed little-endian PCM, mono — the server's internal audio format, so a
// prompt can be played without resampling. Speech was made with the flite TTS
// (voice "slt", US English) and normalised to -3 dBFS peak.
//
//	greeting.wav  "Thank you for calling Hotline. Your call may be recorded to help us serve you better."
//	menu.wav      "To hear the greeting again, say repeat, or press one. For an echo test, say echo test,
//	              or press two. To leave a message, say leave a message, or press zero. You can also
//	              ask for our opening hours, or say agent."
//	echo.wav      "Echo test. Everything you say will be played back to you. Press the pound key to finish."
//	record.wav    "Please leave your message after the tone. Press the pound key when you are done."
//	saved.wav     "Thank you. Your message has been saved."
//	invalid.wav   "Sorry, that is not a valid choice."
//	goodbye.wav   "Thank you for calling. Goodbye."
//	not-understood.wav  "Sorry, I did not catch that."
//	no-agent.wav  "Nobody is free to take your call right now. Please leave a message after the tone,
//	              and press the pound key when you are done."
//	one-moment.wav  "One moment, please." (while a slow speech service works)
//	beep.wav      400 ms 1 kHz sine tone at -12 dBFS (start of a recording)
//	hold-music.wav  a quiet 16 s loop of soft chords and a slow arpeggio, made
//	              with sox, for callers waiting for an agent (ivr.hold_music
//	              replaces it)
//
// The WAVs are committed; scripts/make-prompts.sh regenerates them (a
// developer tool, needs flite and sox from scripts/setup.sh).
package prompts

import "embed"

// FS holds the prompt files by name, e.g. FS.ReadFile("greeting.wav").
//
//go:embed *.wav
var FS embed.FS
