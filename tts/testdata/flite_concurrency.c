/*
 * flite_concurrency.c: does flite_text_to_wave give the same audio when
 * called from several threads at once as when called alone?
 *
 * The clunits voices (slt, rms, awb) draw on libc's rand() for unvoiced
 * excitation, so their output differs from run to run. This program
 * replaces rand() with a per-thread generator reseeded before each call, so
 * every synthesis of a text is bit-identical unless threads corrupt each
 * other's state. Voices are registered and warmed up on one thread first,
 * as the tts package does.
 *
 *   gcc -O2 flite_concurrency.c -o fc -lflite_cmu_us_slt -lflite_cmu_us_kal \
 *       -lflite_cmu_us_rms -lflite_usenglish -lflite_cmulex -lflite -lm -lpthread
 *   ./fc THREADS ITERATIONS
 *
 * Prints "mismatches=N of M" and exits 1 if N > 0. Run by
 * TestEmbeddedConcurrentC.
 */
#include <flite/flite.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

cst_voice *register_cmu_us_slt(const char *);
cst_voice *register_cmu_us_kal(const char *);
cst_voice *register_cmu_us_rms(const char *);

static __thread unsigned int seed = 1;
int rand(void) { seed = seed * 1103515245u + 12345u; return (seed >> 1) & 0x7fffffff; }
void srand(unsigned int s) { seed = s; }

#define NV 3
#define NT 4
static cst_voice *voices[NV];
static const char *texts[NT] = {
	"Thank you for calling Hotline.",
	"Your balance is 42 dollars and 17 cents.",
	"Please hold while I transfer you to an agent, Dr. Smith.",
	"Press one for sales, two for support, or say representative.",
};
static unsigned long want[NV][NT];
static int iterations, mismatches;

static unsigned long synth(int v, int t) {
	srand(1);
	cst_wave *w = flite_text_to_wave(texts[t], voices[v]);
	unsigned long h = 1469598103934665603UL;
	for (int i = 0; i < w->num_samples; i++) {
		h ^= (unsigned short)w->samples[i];
		h *= 1099511628211UL;
	}
	h ^= (unsigned long)w->num_samples;
	delete_wave(w);
	return h;
}

static void *worker(void *arg) {
	long id = (long)arg;
	for (int i = 0; i < iterations; i++) {
		int v = (id + i) % NV, t = (id * 7 + i) % NT;
		if (synth(v, t) != want[v][t])
			__sync_fetch_and_add(&mismatches, 1);
	}
	return NULL;
}

int main(int argc, char **argv) {
	int threads = argc > 1 ? atoi(argv[1]) : 6;
	iterations = argc > 2 ? atoi(argv[2]) : 30;
	flite_init();
	voices[0] = register_cmu_us_slt(NULL);
	voices[1] = register_cmu_us_kal(NULL);
	voices[2] = register_cmu_us_rms(NULL);
	for (int v = 0; v < NV; v++)
		for (int t = 0; t < NT; t++)
			want[v][t] = synth(v, t);
	for (int v = 0; v < NV; v++)
		for (int t = 0; t < NT; t++)
			if (synth(v, t) != want[v][t]) {
				printf("not deterministic even serially: voice %d text %d\n", v, t);
				return 2;
			}
	pthread_t th[64];
	if (threads > 64)
		threads = 64;
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("mismatches=%d of %d\n", mismatches, threads * iterations);
	return mismatches > 0;
}
