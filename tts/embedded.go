package tts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// EmbeddedVoices are the flite voices linked into the embedded provider,
// from Debian's flite1-dev. slt (US English, female, 16 kHz) is the default
// and the most intelligible on the telephone; rms (male), awb (Scottish
// English, male) and kal16 (male, diphone) are 16 kHz; kal is the 8 kHz
// diphone voice.
var EmbeddedVoices = []string{"slt", "rms", "awb", "kal16", "kal"}

// ErrEmbeddedUnavailable is returned by New for the embedded provider in a
// build without cgo.
var ErrEmbeddedUnavailable = errors.New("tts: embedded synthesizer not compiled in (built with CGO_ENABLED=0)")

// ErrUnspeakable is returned by the embedded provider for text with
// nothing it can pronounce: flite speaks English only, so Chinese text
// needs the OpenAI-compatible provider.
var ErrUnspeakable = errors.New("tts: the embedded voice speaks English only and this text has no English letters or digits")

func checkEmbeddedVoice(voice string) error {
	if !slices.Contains(EmbeddedVoices, voice) {
		return fmt.Errorf("tts: unknown embedded voice %q (have %s)", voice, strings.Join(EmbeddedVoices, ", "))
	}
	return nil
}

// fliteText prepares text for flite: valid UTF-8 without control
// characters, typographic marks replaced by the ASCII flite reads.
var fliteReplacer = strings.NewReplacer(
	"‘", "'", "’", "'", "“", `"`, "”", `"`, "—", ", ", "–", ", ", "…", "...",
	"，", ", ", "。", ". ", "！", "! ", "？", "? ", "；", "; ", "：", ": ",
)

func fliteText(text string) (string, error) {
	text = strings.ToValidUTF8(text, " ")
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.TrimSpace(fliteReplacer.Replace(text))
	for _, r := range text {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return text, nil
		}
	}
	return "", ErrUnspeakable
}
