#!/usr/bin/env bash
# scripts/make-prompts.sh — developer tool: regenerate the shipped voice prompts.
#
# The WAVs in prompts/ are committed and embedded into the binary
# (prompts/prompts.go); run this only to change a prompt's wording or voice.
# Needs flite (voice "slt", US English female) and sox: scripts/setup.sh.
#
# Output: prompts/*.wav, 8 kHz, 16-bit signed PCM, mono, normalised to -3 dBFS.
# beep.wav is a 400 ms 1 kHz sine at -12 dBFS (the "leave a message" tone).
# sox runs with -R (repeatable dither), so a re-run gives byte-identical files
# unless the text, the voice or the flite/sox versions changed.
#
# Usage: scripts/make-prompts.sh [OUTDIR]    (default: prompts/ of this repo)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/prompts}"
voice="${FLITE_VOICE:-slt}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for t in flite sox; do
	command -v "$t" >/dev/null || { echo "make-prompts: $t missing, run scripts/setup.sh" >&2; exit 1; }
done

say() { # name text
	local name="$1" text="$2"
	flite -voice "$voice" -t "$text" -o "$tmp/$name.raw.wav"
	# 8 kHz 16-bit mono, short fades so a prompt never starts/ends with a click,
	# then a gentle normalisation to -3 dBFS.
	sox -R "$tmp/$name.raw.wav" -b 16 -e signed-integer "$out/$name.wav" \
		remix - rate -v 8000 fade t 0.01 0 0.02 norm -3
}

say greeting "Thank you for calling Hotline. Your call may be recorded to help us serve you better."
say menu     "To hear the greeting again, say repeat, or press one. For an echo test, say echo test, or press two. To leave a message, say leave a message, or press zero. You can also ask for our opening hours, or say agent."
say echo     "Echo test. Everything you say will be played back to you. Press the pound key to finish."
say record   "Please leave your message after the tone. Press the pound key when you are done."
say saved    "Thank you. Your message has been saved."
say invalid  "Sorry, that is not a valid choice."
say goodbye  "Thank you for calling. Goodbye."
say not-understood "Sorry, I did not catch that."
say no-agent "Nobody is free to take your call right now. Please leave a message after the tone, and press the pound key when you are done."
say one-moment "One moment, please."

# 400 ms, 1 kHz, -12 dBFS peak (sine amplitude 10^(-12/20) = 0.251), 5 ms ramps.
sox -R -n -r 8000 -c 1 -b 16 -e signed-integer "$out/beep.wav" \
	synth 0.4 sine 1000 vol 0.2512 fade t 0.005 0.4 0.005

for f in "$out"/*.wav; do
	printf '%-14s %s s\n' "$(basename "$f")" "$(soxi -D "$f")"
done
