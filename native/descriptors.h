/* The rlimpro descriptor analyzer: all 56 descriptors of docs/descriptors.md, host-free and streaming.
 *
 * One object holds every buffer, allocated when it is created; rd_push() takes a block of
 * samples of any size and writes each frame that the block completes. No allocation, lock or
 * I/O after rd_create(), so hosts may call rd_push() from an audio thread. Used by the Pd
 * external [rlimpro_features~], the listening server and the Python binding
 * (rlimpro.descriptors.native), so training and live performance compute the same numbers.
 *
 *   char error[256];
 *   rd_analyzer *a = rd_create(48000, 44100, 1024, 512, error, sizeof error);   // Pd at 48 kHz
 *   double frames[RD_N_DESCRIPTORS * 4];
 *   int n = rd_push(a, block, 64, frames, 4);   // 0 or more frames of 56 values, table order
 *   rd_destroy(a);
 *
 * Framing: the analysis runs at `sr` (the policies' 44100 Hz); frame i covers analysis samples
 * [i·hop, i·hop + window) counted from creation (or rd_reset). At another host rate the
 * input is resampled to `sr` first (a Kaiser-windowed-sinc polyphase filter), so frame i
 * covers the same stretch of time as offline frame i of a file at `sr`. Frame i is written once the
 * samples it needs have arrived: its window plus RD_LOOKAHEAD samples for the true-peak
 * interpolator (plus the resampler's reach at other rates); see rd_latency().
 */
#ifndef RLIMPRO_DESCRIPTORS_H
#define RLIMPRO_DESCRIPTORS_H

#include <stddef.h>

#include "descriptor_names.h"

#ifdef __cplusplus
extern "C" {
#endif

/* analysis samples after a frame's window that its true peak reads (the interpolator's reach) */
#define RD_LOOKAHEAD 6
/* lowest host rate served (the resampler cannot invent the band above half the rate) */
#define RD_MIN_HOST_SR 22050.0

typedef struct rd_analyzer rd_analyzer;

/* A new analyzer for samples at `host_sr` Hz, analysed at `sr` Hz (RD_SR for the policies)
 * with `window`/`hop` (window even, hop <= window). NULL with a one-line reason in `error` if
 * a value is unsupported (e.g. a host rate below 22050 Hz that differs from `sr`) or memory
 * runs out. */
rd_analyzer *rd_create(double host_sr, int sr, int window, int hop, char *error, size_t error_size);

/* Free everything (NULL is fine). */
void rd_destroy(rd_analyzer *a);

/* Forget all input: the next sample pushed is sample 0 of frame 0. */
void rd_reset(rd_analyzer *a);

/* Push `n` samples. Each frame they complete is written to `out` as RD_N_DESCRIPTORS doubles
 * in table order (every value finite); returns the number written. `out` must have room for
 * rd_max_frames(a, n) frames. NaN and inf samples count as 0. */
int rd_push(rd_analyzer *a, const float *samples, int n, double *out, int max_frames);

/* An upper bound on the frames one rd_push() of `n` samples can write. */
int rd_max_frames(const rd_analyzer *a, int n);

/* Host samples from the end of a frame's window to the push that writes it. */
int rd_latency(const rd_analyzer *a);

/* The host rate, and whether the input is resampled to the analysis rate (1) or analysed as is (0). */
double rd_host_rate(const rd_analyzer *a);
int rd_resampling(const rd_analyzer *a);

/* Resolve a selection of categories and/or column names (the params.yaml grammar: a column
 * name wins, so "loudness" and "pitch" name one column) into column indices in table order,
 * each once. `items` holds `n_items` names. Returns the count, or -1 with a one-line reason
 * (listing the valid names) in `error`. `out` needs room for RD_N_DESCRIPTORS. */
int rd_select(const char *const *items, int n_items, int *out, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
