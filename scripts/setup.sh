#!/usr/bin/env bash
# scripts/setup.sh — idempotent system set-up for Hotline development and tests.
#
# Installs the Debian packages Hotline and its test tools need, only when missing:
#   sip-tester   SIPp 3.6 (SIP/RTP scenarios in test/sipp/)
#   baresip-core baresip softphone (headless client in test/baresip/)
#   flite        TTS used by scripts/make-prompts.sh
#   espeak-ng    TTS used by scripts/make-test-audio.sh
#   sox          audio conversion and measurement
#   tcpdump      captures the RTP Hotline sends in the SIPp tests (test/e2e)
#   flite1-dev   the embedded speech synthesizer (tts/, cgo)
#   libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
#                the embedded speech recognizer and its US English model (asr/, cgo)
#   pkg-config   finds those libraries for cgo
#   pocketsphinx-testdata  recorded speech the recognizer's tests decode
#   postgresql   the shared store of a cluster and the store tests (internal/pgtest)
#   kamailio     the SIP front of a cluster (deploy/): dispatcher, pike, ratelimit
#
# A second run does no apt work and needs no network (checked with dpkg -s).
# Runs apt-get directly as root, or through sudo otherwise.
# Extra packages may be passed as arguments: scripts/setup.sh tshark
set -euo pipefail

PKGS=(sip-tester baresip-core flite espeak-ng sox tcpdump flite1-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us pkg-config pocketsphinx-testdata postgresql chromium nodejs kamailio "$@")

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all present (${PKGS[*]}), nothing to do"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
	echo "setup: missing ${missing[*]} and not root (no sudo available)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
