//go:build cgo

package asr

/*
#cgo pkg-config: pocketsphinx
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/jsgf.h>
#include <sphinxbase/fsg_model.h>

// The library logs a great deal; keep only the last error of each thread,
// for the Go side to read back within the same call.
static __thread char hl_err[512];

// On a fatal error (a corrupt model file, say) the library logs, then
// exits the process. Calls that load files set hl_fatal, and the logger
// jumps back to them instead: the objects being built leak, the process
// lives on and the caller gets an error.
static __thread jmp_buf *hl_fatal;

static void hl_log(void *user, err_lvl_t lvl, const char *fmt, ...) {
	if (lvl < ERR_ERROR) return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hl_err, sizeof hl_err, fmt, ap);
	va_end(ap);
	size_t n = strlen(hl_err);
	while (n > 0 && (hl_err[n-1] == '\n' || hl_err[n-1] == ' ')) hl_err[--n] = 0;
	if (lvl == ERR_FATAL && hl_fatal != NULL) longjmp(*hl_fatal, 1);
}

static void hl_quiet(void) {
	err_set_logfp(NULL); // also silences the configuration dump
	err_set_callback(hl_log, NULL);
}

static void hl_errcpy(char *dst, size_t n) {
	strncpy(dst, hl_err[0] ? hl_err : "unknown error", n - 1);
	dst[n-1] = 0;
}

static ps_decoder_t *hl_new(int argc, char **argv, char *errbuf, size_t n) {
	hl_err[0] = 0;
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (cfg == NULL) {
		hl_errcpy(errbuf, n);
		return NULL;
	}
	jmp_buf env;
	if (setjmp(env) != 0) {
		hl_fatal = NULL;
		hl_errcpy(errbuf, n);
		return NULL;
	}
	hl_fatal = &env;
	ps_decoder_t *ps = ps_init(cfg);
	hl_fatal = NULL;
	cmd_ln_free_r(cfg);
	if (ps == NULL) hl_errcpy(errbuf, n);
	return ps;
}

static int hl_add_word(ps_decoder_t *ps, const char *word, const char *phones, char *errbuf, size_t n) {
	hl_err[0] = 0;
	int r = ps_add_word(ps, word, phones, 0);
	if (r < 0) hl_errcpy(errbuf, n);
	return r;
}

// hl_set_grammar compiles a JSGF grammar into a search named name. The
// grammar's garbage rule is two placeholder words, the first of the garbage
// words (space-separated); each of their arcs gets the penalty (natural
// log, per word) and is copied for every other garbage word, and all of
// them loop on the state between the two.
static int hl_set_grammar(ps_decoder_t *ps, const char *name, const char *text,
		char *garbage, double penalty, char *errbuf, size_t n) {
	hl_err[0] = 0;
	jsgf_t *jsgf = jsgf_parse_string(text, NULL);
	if (jsgf == NULL) {
		hl_errcpy(errbuf, n);
		return -1;
	}
	jsgf_rule_t *rule = jsgf_get_public_rule(jsgf);
	if (rule == NULL) {
		jsgf_grammar_free(jsgf);
		snprintf(errbuf, n, "grammar has no public rule");
		return -1;
	}
	logmath_t *lmath = ps_get_logmath(ps);
	fsg_model_t *fsg = jsgf_build_fsg(jsgf, rule, lmath, cmd_ln_float32_r(ps_get_config(ps), "-lw"));
	jsgf_grammar_free(jsgf);
	if (fsg == NULL) {
		hl_errcpy(errbuf, n);
		return -1;
	}
	int32 logp = logmath_ln_to_log(lmath, penalty);
	char *save = NULL;
	char *first = strtok_r(garbage, " ", &save);
	int pw = first ? fsg_model_word_id(fsg, first) : -1;
	if (pw >= 0) {
		// Collect the placeholder's arcs before adding any.
		int cap = 16, na = 0;
		int32 *arcs = malloc(2 * cap * sizeof *arcs);
		for (int32 i = 0; i < fsg_model_n_state(fsg); i++) {
			fsg_arciter_t *it;
			for (it = fsg_model_arcs(fsg, i); it != NULL; it = fsg_arciter_next(it)) {
				fsg_link_t *l = fsg_arciter_get(it);
				if (fsg_link_wid(l) != pw) continue;
				l->logs2prob = logp;
				if (na == cap) {
					cap *= 2;
					arcs = realloc(arcs, 2 * cap * sizeof *arcs);
				}
				arcs[2*na] = fsg_link_from_state(l);
				arcs[2*na+1] = fsg_link_to_state(l);
				na++;
			}
		}
		// The rule is a chain of two placeholders, through a middle
		// state m: garbage loops there.
		int32 m = -1;
		for (int i = 0; i < na && m < 0; i++)
			for (int j = 0; j < na; j++)
				if (arcs[2*i+1] == arcs[2*j]) { m = arcs[2*i+1]; break; }
		if (m >= 0) fsg_model_trans_add(fsg, m, m, logp, pw);
		for (char *w = strtok_r(NULL, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
			int wid = fsg_model_word_add(fsg, w);
			for (int k = 0; k < na; k++) fsg_model_trans_add(fsg, arcs[2*k], arcs[2*k+1], logp, wid);
			if (m >= 0) fsg_model_trans_add(fsg, m, m, logp, wid);
		}
		free(arcs);
	}
	int r = ps_set_fsg(ps, name, fsg);
	fsg_model_free(fsg);
	if (r < 0) hl_errcpy(errbuf, n);
	return r;
}

static int hl_set_search(ps_decoder_t *ps, const char *name, char *errbuf, size_t n) {
	hl_err[0] = 0;
	int r = ps_set_search(ps, name);
	if (r < 0) hl_errcpy(errbuf, n);
	return r;
}

static int hl_process(ps_decoder_t *ps, const int16 *pcm, size_t count, char *errbuf, size_t n) {
	hl_err[0] = 0;
	int r = ps_process_raw(ps, pcm, count, FALSE, FALSE);
	if (r < 0) hl_errcpy(errbuf, n);
	return r;
}

// The cepstral mean adapts to the line between utterances. A pooled
// decoder serves other calls next, so each utterance starts again from a
// fixed mean for its kind of line (see start) rather than the last caller's.
static int hl_cepsize(ps_decoder_t *ps) { return feat_cepsize(ps_get_feat(ps)); }
static void hl_cmn_get(ps_decoder_t *ps, mfcc_t *v) { cmn_live_get(ps_get_feat(ps)->cmn_struct, v); }
static void hl_cmn_set(ps_decoder_t *ps, mfcc_t *v) { cmn_live_set(ps_get_feat(ps)->cmn_struct, v); }

// hl_span gives the first and last frames of real words in the last
// utterance, skipping silence and fillers; -1 when there are none.
static void hl_span(ps_decoder_t *ps, int *first, int *last) {
	*first = -1;
	*last = -1;
	ps_seg_t *seg;
	for (seg = ps_seg_iter(ps); seg != NULL; seg = ps_seg_next(seg)) {
		const char *w = ps_seg_word(seg);
		if (w == NULL || w[0] == '<' || w[0] == '[' || w[0] == '+' || w[0] == '_') continue;
		int sf, ef;
		ps_seg_frames(seg, &sf, &ef);
		if (*first < 0) *first = sf;
		*last = ef;
	}
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

func init() { C.hl_quiet() }

const (
	errBufLen = 512
	// maxSearches bounds the grammars kept compiled in one decoder; the
	// least recently used goes first.
	maxSearches = 32
	// frameRate is pocketsphinx's feature frames a second.
	frameRate = 100
)

// sphinxDecoder is one pocketsphinx decoder with its acoustic model loaded.
// It serves one utterance at a time; grammars used before stay compiled in
// it, so a decoder taken from the pool is usually ready at once.
type sphinxDecoder struct {
	ps       *C.ps_decoder_t
	lm       bool              // built with the n-gram model (open vocabulary)
	searches map[string]uint64 // grammar key → last use
	words    map[string]bool   // dictionary words added
	tick     uint64
	inUtt    bool
	cmn0     []C.mfcc_t // the cepstral mean each utterance starts from
	errBuf   []C.char   // for the library's error messages
}

func sphinxError(op string, buf []C.char) error {
	return fmt.Errorf("asr: pocketsphinx %s: %s", op, C.GoString(&buf[0]))
}

// newSphinxDecoder loads the acoustic model. A grammar decoder starts with
// an empty dictionary (the grammars' words are added as needed), which
// makes it quick to build: 20 ms, against 450 ms reading the whole
// dictionary. An open-vocabulary decoder loads the dictionary and the
// n-gram model.
func newSphinxDecoder(cfg EmbeddedConfig, lm bool) (*sphinxDecoder, error) {
	args := []string{
		"-hmm", cfg.ModelDir,
		"-dict", "/dev/null",
		// Noise removal takes G.711's companding noise for line noise
		// and costs recognition of telephone speech.
		"-remove_noise", "no",
	}
	if lm {
		args[3] = cfg.Dict
		args = append(args, "-lm", cfg.LM)
	}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	errBuf := make([]C.char, errBufLen)
	ps := C.hl_new(C.int(len(argv)), &argv[0], &errBuf[0], errBufLen)
	if ps == nil {
		return nil, sphinxError("init", errBuf)
	}
	d := &sphinxDecoder{ps: ps, lm: lm, searches: map[string]uint64{}, words: map[string]bool{}, errBuf: errBuf}
	d.cmn0 = make([]C.mfcc_t, int(C.hl_cepsize(ps)))
	C.hl_cmn_get(ps, &d.cmn0[0])
	return d, nil
}

// useGrammar makes g the decoder's search, compiling it the first time.
func (d *sphinxDecoder) useGrammar(g *Grammar, penalty float64) error {
	errBuf := d.errBuf
	d.tick++
	if _, ok := d.searches[g.Key]; !ok {
		for _, w := range g.Words {
			if d.words[w] {
				continue
			}
			for i, ph := range g.Pronunciations(w) {
				name := w
				if i > 0 {
					name = fmt.Sprintf("%s(%d)", w, i+1)
				}
				cn, cp := C.CString(name), C.CString(ph)
				r := C.hl_add_word(d.ps, cn, cp, &errBuf[0], errBufLen)
				C.free(unsafe.Pointer(cn))
				C.free(unsafe.Pointer(cp))
				if r < 0 {
					return sphinxError("add word "+name, errBuf)
				}
			}
			d.words[w] = true
		}
		if len(d.searches) >= maxSearches {
			d.evictOldest()
		}
		cn, cj := C.CString(g.Key), C.CString(g.JSGF)
		cg := C.CString(strings.Join(g.Garbage, " "))
		r := C.hl_set_grammar(d.ps, cn, cj, cg, C.double(-penalty), &errBuf[0], errBufLen)
		C.free(unsafe.Pointer(cn))
		C.free(unsafe.Pointer(cj))
		C.free(unsafe.Pointer(cg))
		if r < 0 {
			return sphinxError("grammar", errBuf)
		}
	}
	d.searches[g.Key] = d.tick
	return d.setSearch(g.Key)
}

func (d *sphinxDecoder) evictOldest() {
	var oldest string
	var at uint64
	for k, t := range d.searches {
		if oldest == "" || t < at {
			oldest, at = k, t
		}
	}
	cn := C.CString(oldest)
	C.ps_unset_search(d.ps, cn)
	C.free(unsafe.Pointer(cn))
	delete(d.searches, oldest)
}

// useLM makes the n-gram model the decoder's search.
func (d *sphinxDecoder) useLM() error {
	return d.setSearch("_default")
}

func (d *sphinxDecoder) setSearch(name string) error {
	errBuf := d.errBuf
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.hl_set_search(d.ps, cn, &errBuf[0], errBufLen) < 0 {
		return sphinxError("search "+name, errBuf)
	}
	return nil
}

// narrowbandCMN is the cepstral mean of speech that crossed a telephone
// line: 8 kHz G.711 upsampled to the model's 16 kHz, its upper band empty.
// It is far from the model's own initial mean (wideband microphone
// speech), and as the mean adapts only between utterances, starting a
// telephony utterance from the model's drops the menu test from 96 % of
// phrases recognized to 40 %.
// Measured on the human speech of Debian's pocketsphinx-testdata
// (librivox, goforward, something) sent through 8 kHz μ-law.
var narrowbandCMN = [...]float32{44.0, 27.9, -37.2, 41.5, -16.9, -6.6, 15.4, -28.9, 17.7, -9.1, -5.9, 12.1, -14.8}

// start begins an utterance. Its cepstral mean starts from the model's
// for wideband audio, from narrowbandCMN for audio that was 8 kHz.
func (d *sphinxDecoder) start(narrowband bool) error {
	// A new stream counts frames from zero again: segment times are
	// reported from the start of the stream, not of the utterance.
	C.ps_start_stream(d.ps)
	init := d.cmn0
	if narrowband && len(init) == len(narrowbandCMN) {
		init = make([]C.mfcc_t, len(narrowbandCMN))
		for i, v := range narrowbandCMN {
			init[i] = C.mfcc_t(v)
		}
	}
	C.hl_cmn_set(d.ps, &init[0])
	if C.ps_start_utt(d.ps) < 0 {
		return fmt.Errorf("asr: pocketsphinx: cannot start an utterance")
	}
	d.inUtt = true
	return nil
}

// process decodes 16 kHz samples.
func (d *sphinxDecoder) process(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	if C.hl_process(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), &d.errBuf[0], errBufLen) < 0 {
		return sphinxError("decode", d.errBuf)
	}
	return nil
}

// hyp is the best hypothesis so far, words separated by single spaces.
func (d *sphinxDecoder) hyp() string {
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return strings.Join(strings.Fields(C.GoString(h)), " ")
}

// end finishes the utterance and returns its hypothesis and the frames
// its words span (-1 when none). There is no confidence to return: the
// lattice posterior of a grammar search is 1 whatever was said, so
// rejection is left to the garbage model.
func (d *sphinxDecoder) end() (hyp string, first, last int, err error) {
	if !d.inUtt {
		return "", -1, -1, nil
	}
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return "", -1, -1, fmt.Errorf("asr: pocketsphinx: cannot end the utterance")
	}
	hyp = d.hyp()
	if hyp == "" {
		return "", -1, -1, nil
	}
	var f, l C.int
	C.hl_span(d.ps, &f, &l)
	return hyp, int(f), int(l), nil
}

// abort ends an utterance in progress, discarding it.
func (d *sphinxDecoder) abort() {
	if d.inUtt {
		C.ps_end_utt(d.ps)
		d.inUtt = false
	}
}

func (d *sphinxDecoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
}
