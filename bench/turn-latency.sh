#!/usr/bin/env bash
# Turn latency on the wire: a SIPp caller speaks 16 phrases to Hotline, whose
# speech recognition, speech synthesis and LLM are OpenAI-compatible
# providers with fixed latency (ASR 100 ms, LLM 150 ms, TTS 50 ms). For each
# turn it measures the caller's last voiced packet to Hotline's first reply
# packet, subtracts the end-of-turn silence (600 ms) and the providers, and
# reports the distribution of what Hotline adds, with the rule brain and
# with the LLM brain. Needs root (SIPp replays RTP through a raw socket).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
HOTLINE_BENCH=1 go test -count=1 -run 'TestTurnLatency' -v -timeout 10m ./test/e2e |
	grep -E 'latency_test.go|^(---|ok|FAIL)'
