#!/usr/bin/env bash
# scripts/make-prompts.sh — developer tool: regenerate the shipped voice prompts.
#
# The WAVs in prompts/ are committed and embedded into the binary
# (prompts/prompts.go); run this only to change a prompt's wording or voice.
# Needs flite (voice "slt", US English female) and sox: scripts/setup.sh.
#
# Output: prompts/*.wav, 8 kHz, 16-bit signed PCM, mono, normalised to -3 dBFS.
# beep.wav is a 400 ms 1 kHz sine at -12 dBFS (the "leave a message" tone);
# hold-music.wav a quiet 16 s loop for callers waiting for an agent.
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

# Hold music: a 16 s loop of four soft chords (Cmaj7, C6, Fmaj7, G), each a
# sine pad that swells in and out under a slow arpeggio of its notes an
# octave up, low-passed and quiet (-16 dBFS peak, about -30 dBFS RMS) so it does not tire a
# caller who waits. It starts and ends in silence, so it loops without a
# click.
hold_music() {
	local chords=("261.63 329.63 392.00 493.88" "261.63 329.63 392.00 440.00"
		"349.23 440.00 523.25 659.26" "293.66 392.00 493.88 587.33")
	local parts=() i=0
	for c in "${chords[@]}"; do
		# shellcheck disable=SC2086
		set -- $c
		sox -R -n -r 8000 -c 4 -b 16 "$tmp/chord$i.wav" synth 4 sine "$1" sine "$2" sine "$3" sine "$4"
		sox -R "$tmp/chord$i.wav" -c 1 "$tmp/pad$i.wav" remix - fade h 1 4 1 vol 0.6
		local notes=() k=0
		for f in "$1" "$3" "$2" "$4" "$3" "$2" "$4" "$3"; do
			sox -R -n -r 8000 -c 1 -b 16 "$tmp/note$i-$k.wav" synth 0.5 sine "$(awk "BEGIN{print $f*2}")" \
				fade q 0.02 0.5 0.45 vol 0.35
			notes+=("$tmp/note$i-$k.wav")
			k=$((k + 1))
		done
		sox "${notes[@]}" "$tmp/arp$i.wav"
		sox -R -m "$tmp/pad$i.wav" "$tmp/arp$i.wav" "$tmp/part$i.wav"
		parts+=("$tmp/part$i.wav")
		i=$((i + 1))
	done
	sox -R "${parts[@]}" -b 16 -e signed-integer "$out/hold-music.wav" lowpass 1800 norm -16
}
hold_music

for f in "$out"/*.wav; do
	printf '%-14s %s s\n' "$(basename "$f")" "$(soxi -D "$f")"
done
