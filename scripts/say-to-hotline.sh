#!/usr/bin/env bash
# scripts/say-to-hotline.sh — call Hotline and say things to it.
#
#   scripts/say-to-hotline.sh URI PHRASE...
#   scripts/say-to-hotline.sh sip:hotline@127.0.0.1:5060 \
#       "what are your opening hours" "i want to speak to an agent"
#
# Speaks each phrase with flite (voice slt), the first 4 s after the answer
# (after the greeting) and each next one 12 s later (time for the answer),
# calls URI with baresip (scripts/baresip-call.sh: no sound card, no root),
# stays on the line 10 s after the last phrase and leaves what Hotline said
# in /tmp/hotline-say/heard.wav. Hotline's log and the call's transcript
# (recordings/<date>/<time>-<call-id>.jsonl) show what it heard and did.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
uri=${1:?usage: $0 URI PHRASE...}
shift
[ $# -gt 0 ] || { echo "say-to-hotline: no phrase to say" >&2; exit 2; }
command -v flite >/dev/null || { echo "say-to-hotline: flite not found: run scripts/setup.sh" >&2; exit 1; }
work=$(mktemp -d /tmp/say-to-hotline.XXXXXX)
trap 'rm -rf "$work"' EXIT

parts=()
at=4
for i in $(seq 1 $#); do
	phrase=${!i}
	flite -voice slt -t "$phrase" -o "$work/p$i-raw.wav"
	sox "$work/p$i-raw.wav" -r 8000 -c 1 -b 16 "$work/p$i.wav"
	len=$(soxi -D "$work/p$i.wav")
	# Silence up to this phrase's start, then the phrase.
	pad=$(awk -v a="$at" -v l="$len" 'BEGIN { printf "%.2f", (a < 0 ? 0 : a) }')
	sox -n -r 8000 -c 1 -b 16 "$work/s$i.wav" trim 0 "$pad"
	parts+=("$work/s$i.wav" "$work/p$i.wav")
	at=$(awk -v l="$len" 'BEGIN { printf "%.2f", 12 - l }')
done
sox "${parts[@]}" "$work/say.wav"
secs=$(awk -v d="$(soxi -D "$work/say.wav")" 'BEGIN { printf "%d", d + 10 }')
BARESIP_SOURCE="$work/say.wav" "$repo/scripts/baresip-call.sh" "$uri" "$secs" /tmp/hotline-say
