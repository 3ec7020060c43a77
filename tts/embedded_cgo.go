//go:build cgo

package tts

/*
#cgo LDFLAGS: -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_cmu_us_kal16 -lflite_cmu_us_kal -lflite_usenglish -lflite_cmulex -lflite -lm
#include <stdlib.h>
#include <flite/flite.h>

// The voice libraries ship no headers.
cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);

static cst_voice *hl_register(int id) {
	switch (id) {
	case 0: return register_cmu_us_slt(NULL);
	case 1: return register_cmu_us_rms(NULL);
	case 2: return register_cmu_us_awb(NULL);
	case 3: return register_cmu_us_kal16(NULL);
	case 4: return register_cmu_us_kal(NULL);
	}
	return NULL;
}
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/hotline-cc/hotline/media"
)

// flite is used as follows, from what was measured on Debian's flite 2.2:
//
//   - Registering a voice and flite_init touch shared tables (the lexicon,
//     the language list) and flite documents them as not thread-safe, so
//     they run once per voice under fliteMu's write lock, with a warm-up
//     synthesis so nothing is initialized lazily on a first concurrent call.
//   - flite_text_to_wave on registered voices runs concurrently: six threads
//     synthesizing four texts with three voices 180 times gave bit-identical
//     output to a serial run once libc's rand (which the clunits voices use
//     for unvoiced excitation, so their output varies run to run) was made
//     deterministic per thread; TestEmbeddedConcurrent checks the same from
//     Go. Synthesis holds fliteMu's read lock only, and at most GOMAXPROCS
//     run at once since each is pure CPU.
//   - flite's fatal errors call exit() unless a global jmp_buf is set, which
//     concurrent callers cannot share; no input reached one in 1500 fuzzed
//     texts (abbreviations, numbers, URLs, Chinese, random bytes), and text is
//     cleaned to valid UTF-8 without control characters before it is passed.
var (
	fliteMu     sync.RWMutex
	fliteInited bool
	fliteVoices = map[string]*fliteVoice{}
	fliteSlots  = make(chan struct{}, runtime.GOMAXPROCS(0))
)

type fliteVoice struct {
	v    *C.cst_voice
	rate int
}

// loadFliteVoice registers a voice the first time it is asked for.
func loadFliteVoice(name string) (*fliteVoice, error) {
	if err := checkEmbeddedVoice(name); err != nil {
		return nil, err
	}
	fliteMu.RLock()
	fv := fliteVoices[name]
	fliteMu.RUnlock()
	if fv != nil {
		return fv, nil
	}
	fliteMu.Lock()
	defer fliteMu.Unlock()
	if fv := fliteVoices[name]; fv != nil {
		return fv, nil
	}
	if !fliteInited {
		C.flite_init()
		fliteInited = true
	}
	v := C.hl_register(C.int(slices.Index(EmbeddedVoices, name)))
	if v == nil {
		return nil, fmt.Errorf("tts: flite could not register voice %s", name)
	}
	fv = &fliteVoice{v: v}
	_, rate, err := fv.synth("Hello.")
	if err != nil {
		return nil, err
	}
	fv.rate = rate
	fliteVoices[name] = fv
	return fv, nil
}

// synth runs flite on one utterance and returns its samples and rate.
func (fv *fliteVoice) synth(text string) ([]int16, int, error) {
	cs := C.CString(text)
	defer C.free(unsafe.Pointer(cs))
	w := C.flite_text_to_wave(cs, fv.v)
	if w == nil {
		return nil, 0, fmt.Errorf("tts: flite produced no wave")
	}
	defer C.delete_wave(w)
	n, rate := int(w.num_samples), int(w.sample_rate)
	if w.num_channels != 1 || rate <= 0 || n < 0 {
		return nil, 0, fmt.Errorf("tts: flite produced %d channels at %d Hz", int(w.num_channels), rate)
	}
	var pcm []int16
	if n > 0 {
		pcm = make([]int16, n)
		copy(pcm, unsafe.Slice((*int16)(unsafe.Pointer(w.samples)), n))
	}
	return pcm, rate, nil
}

type embedded struct {
	voice string
	fv    *fliteVoice
}

func newEmbedded(voice string, _ *slog.Logger) (Synthesizer, error) {
	fv, err := loadFliteVoice(voice)
	if err != nil {
		return nil, err
	}
	return &embedded{voice: voice, fv: fv}, nil
}

func (e *embedded) Name() string { return "embedded/" + e.voice }

// Close does nothing: voices stay registered for the process's life.
func (e *embedded) Close() error { return nil }

// Synthesize speaks text whole: flite makes an utterance at once, in tens
// of milliseconds for a sentence (Speak gives the streaming). The audio is
// resampled from the voice's rate to rate.
func (e *embedded) Synthesize(ctx context.Context, text string, rate int) (Stream, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("tts: invalid rate %d Hz", rate)
	}
	text, err := fliteText(text)
	if err != nil {
		return nil, err
	}
	select {
	case fliteSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	fliteMu.RLock()
	pcm, from, err := e.fv.synth(text)
	fliteMu.RUnlock()
	<-fliteSlots
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if from != rate {
		pcm = media.Resample(pcm, from, rate)
	}
	return newPCMStream(pcm, rate), nil
}
