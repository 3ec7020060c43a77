#!/usr/bin/env bash
# scripts/make-test-audio.sh — regenerate the caller speech used by the tests.
#
# The files in test/audio/ are committed; run this only to change them.
# Needs espeak-ng and sox (scripts/setup.sh). espeak-ng is deliberately a
# different voice from the prompts (flite slt), so a test can tell the
# caller's audio from Hotline's own prompts.
#
#   test/audio/caller-ulaw.raw  the speech as headerless 8 kHz G.711 mu-law:
#                               what the SIPp scenarios stream
#                               (exec rtp_stream="test/audio/caller-ulaw.raw,1,0").
#                               SIPp 3.6.1 sends the file's bytes as-is, 160 per
#                               20 ms packet, WITHOUT skipping a WAV header (checked
#                               on the wire: a .wav's first packet starts with
#                               "RIFF"), so the file must be raw PCMU.
#   test/audio/caller-ulaw.wav  the same mu-law bytes in a WAV container, for
#                               players and tools that want a header (and for a
#                               SIPp that skips headers: newer versions do).
#   test/audio/caller-pcm.wav   the same speech, 8 kHz 16-bit signed PCM mono:
#                               the reference for comparisons in tests, and
#                               baresip's audio source (test/baresip/config).
#
# Usage: scripts/make-test-audio.sh [OUTDIR]   (default: test/audio/ of this repo)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/test/audio}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for t in espeak-ng sox; do
	command -v "$t" >/dev/null || { echo "make-test-audio: $t missing, run scripts/setup.sh" >&2; exit 1; }
done

text="Hello, this is a test call. I would like to check my order status please. Thank you very much."

espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "$text"
# 16-bit PCM reference: 8 kHz mono, -3 dBFS peak; -R keeps re-runs byte-identical.
sox -R "$tmp/raw.wav" -b 16 -e signed-integer "$out/caller-pcm.wav" \
	remix - rate -v 8000 norm -3
# mu-law from the PCM reference, so all hold exactly the same samples.
sox -R "$out/caller-pcm.wav" -e u-law "$out/caller-ulaw.wav"
sox -R "$out/caller-pcm.wav" -t raw -e u-law -b 8 "$out/caller-ulaw.raw"

for f in "$out"/caller-pcm.wav "$out"/caller-ulaw.wav; do
	printf '%-16s %s Hz %s %s s\n' "$(basename "$f")" "$(soxi -r "$f")" "$(soxi -e "$f")" "$(soxi -D "$f")"
done
printf '%-16s %s bytes of raw mu-law (%s s)\n' caller-ulaw.raw "$(stat -c %s "$out/caller-ulaw.raw")" \
	"$(awk -v n="$(stat -c %s "$out/caller-ulaw.raw")" 'BEGIN{printf "%.4f", n/8000}')"
