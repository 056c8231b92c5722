/* The rlimpro descriptor analyzer (see descriptors.h). Each descriptor follows the numpy
 * reference in rlimpro/descriptors/ line for line: the same constants, the same float32 or
 * float64 steps, so the two agree to the tolerances published in docs/descriptors.md.
 * FFT: kissfft (Debian libkissfft-dev, BSD-3), float.
 */
#include "descriptors.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiss_fftr.h>

#define N_MELS 40
#define N_MFCC 13
#define N_CHROMA 12
#define N_SINES 10
#define MAG_FLOOR 1e-5f   /* as float32, where numpy compares float32 arrays */
#define MAG_FLOOR_D 1e-5  /* as float64 */
#define MEL_FMIN 20.0
#define MEL_FMAX 20000.0
#define CHROMA_FMIN 60.0
#define CHROMA_FMAX 5000.0
#define ROLLOFF 0.95f
#define PITCH_FMIN 20.0
#define PITCH_FMAX 10000.0
#define PITCH_THRESHOLD 0.15f
#define PITCH_SILENCE 1e-10f
#define TP_TAPS 49      /* true-peak interpolator: firwin(49, 0.25) * 4, 4 phases of 13 taps */
#define TP_REACH 6
#define RS_ZEROS 16     /* resampler: sinc zero crossings either side (at the lower rate) */
#define RS_BETA 9.0     /* its Kaiser window */

/* indices of the first column of each category (descriptor_names.h order) */
enum { COL_LOUDNESS = 0, COL_TRUEPEAK = 1, COL_MFCC = 2, COL_CHROMA = 15, COL_SHAPE = 27, COL_PITCH = 34, COL_SINES = 36 };

typedef struct {   /* streaming polyphase resampler host_sr -> 44100: out m at input time m·M/L */
    int up, down, reach;        /* L, M, input samples read either side */
    float *taps;                /* [L][2·reach] */
    float *history;             /* input samples, history[0] is absolute index `start` */
    int capacity, filled;
    long long start, next_out;  /* absolute input index of history[0]; next output index */
} resampler;

struct rd_analyzer {
    double host_sr;
    int sr, window, hop, bins;
    resampler rs;               /* used when up != down */
    /* the stream: buf[0] is analysis sample next_frame·hop − TP_REACH */
    float *buf;                 /* raw samples, window + 2·TP_REACH */
    double *ksq;                /* K-weighted samples squared, same indexing */
    float *peak;                /* per-sample 4× true peak |value|, same indexing, valid below peak_done */
    float *tp_acc;              /* true-peak work, window + 2·TP_REACH */
    int filled, peak_done;
    double kw[2][6], kstate[2][2];
    float tp_phase[4][2 * TP_REACH + 1];
    /* spectral work */
    kiss_fftr_cfg fft, ifft;
    float *scaled_window, *frame, *mag, *mag_db, *power, *acf, *window_acf, *cumulative;
    kiss_fft_cpx *spectrum;
    double *freqs, *freqs_khz;
    int *mel_lo, *mel_hi;       /* bins [lo, hi) of each mel band */
    double *mel_w;              /* [N_MELS][bins] */
    double dct[N_MFCC][N_MELS];
    int chroma_lo, chroma_hi;
    double *chroma_w;           /* [N_CHROMA][bins] */
    int tau_min, tau_max;
    double scratch[RD_N_DESCRIPTORS];   /* a frame beyond the caller's room (not returned) */
};

/* ---------- set-up helpers (run once, in rd_create) ---------- */

static double sinc(double x) { return x == 0.0 ? 1.0 : sin(M_PI * x) / (M_PI * x); }

static double bessel_i0(double x) {
    double sum = 1.0, term = 1.0;
    for (int k = 1; k < 50; k++) { term *= (x / (2.0 * k)) * (x / (2.0 * k)); sum += term; }
    return sum;
}

static long gcd(long a, long b) { while (b) { long t = a % b; a = b; b = t; } return a; }

/* scipy.signal.firwin(49, 0.25) * 4: Hamming-windowed sinc, unit DC gain, times 4 */
static void truepeak_phases(float phases[4][2 * TP_REACH + 1]) {
    double h[TP_TAPS + 4] = {0}, sum = 0.0;
    for (int n = 0; n < TP_TAPS; n++) {
        double m = n - (TP_TAPS - 1) / 2.0;
        h[n] = 0.25 * sinc(0.25 * m) * (0.54 - 0.46 * cos(2.0 * M_PI * n / (TP_TAPS - 1)));
        sum += h[n];
    }
    for (int n = 0; n < TP_TAPS; n++) h[n] = h[n] / sum * 4.0;
    int centre = 4 * TP_REACH;  /* as rlimpro.descriptors.loudness._oversample4 */
    for (int p = 0; p < 4; p++)
        for (int i = 0; i <= 2 * TP_REACH; i++) phases[p][i] = (float)h[2 * centre - 4 * i + p];
}

/* BS.1770 K-weighting at `sr` (rlimpro.descriptors.loudness.k_weighting) */
static void k_weighting(double sr, double sos[2][6]) {
    double gain_db = 3.999843853973347, q1 = 0.7071752369554196, fc1 = 1681.974450955533;
    double k = tan(M_PI * fc1 / sr), vh = pow(10.0, gain_db / 20.0), vb = pow(vh, 0.4996667741545416);
    double a0 = 1 + k / q1 + k * k;
    double shelf[6] = {(vh + vb * k / q1 + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q1 + k * k) / a0,
                       1.0, 2 * (k * k - 1) / a0, (1 - k / q1 + k * k) / a0};
    double q2 = 0.5003270373238773, fc2 = 38.13547087602444;
    k = tan(M_PI * fc2 / sr);
    a0 = 1 + k / q2 + k * k;
    double highpass[6] = {1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q2 + k * k) / a0};
    memcpy(sos[0], shelf, sizeof shelf);
    memcpy(sos[1], highpass, sizeof highpass);
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }

/* 40 HTK-mel triangles 20–20000 Hz (rlimpro.descriptors.spectral.mel_filterbank) */
static void mel_filterbank(rd_analyzer *a) {
    double edges[N_MELS + 2], lo = hz_to_mel(MEL_FMIN), hi = hz_to_mel(fmin(MEL_FMAX, a->sr / 2.0));
    double step = (hi - lo) / (N_MELS + 1);
    for (int i = 0; i < N_MELS + 2; i++) {
        double m = i == N_MELS + 1 ? hi : lo + i * step;   /* numpy.linspace */
        edges[i] = 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    }
    for (int b = 0; b < N_MELS; b++) {
        a->mel_lo[b] = a->bins;
        a->mel_hi[b] = 0;
        for (int k = 0; k < a->bins; k++) {
            double f = a->freqs[k];
            double rising = (f - edges[b]) / (edges[b + 1] - edges[b]);
            double falling = (edges[b + 2] - f) / (edges[b + 2] - edges[b + 1]);
            double w = fmax(0.0, fmin(rising, falling));
            a->mel_w[b * a->bins + k] = w;
            if (w > 0.0) {
                if (k < a->mel_lo[b]) a->mel_lo[b] = k;
                a->mel_hi[b] = k + 1;
            }
        }
        if (a->mel_hi[b] == 0) a->mel_lo[b] = 0;
    }
    for (int k = 0; k < N_MFCC; k++)   /* orthonormal DCT-II */
        for (int n = 0; n < N_MELS; n++)
            a->dct[k][n] = cos(M_PI * k * (2 * n + 1) / (2.0 * N_MELS)) * sqrt((k == 0 ? 1.0 : 2.0) / N_MELS);
}

/* Gaussian pitch-class weights of 60–5000 Hz bins (rlimpro.descriptors.spectral.chroma_filterbank) */
static void chroma_filterbank(rd_analyzer *a) {
    a->chroma_lo = a->bins;
    a->chroma_hi = 0;
    for (int k = 0; k < a->bins; k++) {
        double f = a->freqs[k], w[N_CHROMA], sum = 0.0;
        int used = f >= CHROMA_FMIN && f <= CHROMA_FMAX;
        double semis = 12.0 * log2((used ? f : 440.0) / 440.0);
        for (int c = 0; c < N_CHROMA; c++) {
            double d = fmod(semis - c + 6.0, 12.0);
            if (d < 0) d += 12.0;
            d -= 6.0;
            w[c] = exp(-0.5 * (d / 0.5) * (d / 0.5));
            sum += w[c];
        }
        for (int c = 0; c < N_CHROMA; c++) a->chroma_w[c * a->bins + k] = used ? w[c] / sum : 0.0;
        if (used) {
            if (k < a->chroma_lo) a->chroma_lo = k;
            a->chroma_hi = k + 1;
        }
    }
}

/* Hann window scaled by 2/sum, and its normalised autocorrelation (YIN's taper correction) */
static int windows(rd_analyzer *a) {
    int n = a->window;
    double *w = malloc(sizeof(double) * n), sum = 0.0;
    if (w == NULL) return -1;
    for (int i = 0; i < n; i++) { w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / n); sum += w[i]; }
    for (int i = 0; i < n; i++) a->scaled_window[i] = (float)(w[i] * (2.0 / sum));
    double r0 = 0.0;
    for (int i = 0; i < n; i++) r0 += w[i] * w[i];
    for (int tau = 0; tau < n; tau++) {
        double r = 0.0;
        for (int i = 0; i + tau < n; i++) r += w[i] * w[i + tau];
        a->window_acf[tau] = (float)(r / r0);
    }
    free(w);
    return 0;
}

static int resampler_init(resampler *rs, double host_sr, int sr) {
    long g = gcd(sr, (long)host_sr);
    rs->up = (int)(sr / g);
    rs->down = (int)((long)host_sr / g);
    if (rs->up == rs->down) return 0;
    int L = rs->up, M = rs->down;
    double ratio = (double)M / L;
    rs->reach = (int)ceil(RS_ZEROS * (ratio > 1.0 ? ratio : 1.0));
    int width = 2 * rs->reach;
    rs->taps = malloc(sizeof(float) * (size_t)L * width);
    rs->capacity = 4096 + width;
    rs->history = calloc((size_t)rs->capacity, sizeof(float));
    if (!rs->taps || !rs->history) return -1;
    double cutoff = 0.97 / (ratio > 1.0 ? ratio : 1.0);  /* of the input Nyquist, below the output's */
    for (int p = 0; p < L; p++) {
        double sum = 0.0;
        for (int i = 0; i < width; i++) {
            /* input sample base − reach + 1 + i, base = floor(m·M/L); distance in input samples */
            double t = (double)p / L + (rs->reach - 1 - i);
            double x = t / rs->reach;
            double w = fabs(x) >= 1.0 ? 0.0 : bessel_i0(RS_BETA * sqrt(1.0 - x * x)) / bessel_i0(RS_BETA);
            double h = cutoff * sinc(cutoff * t) * w;
            rs->taps[p * width + i] = (float)h;
            sum += h;
        }
        for (int i = 0; i < width; i++) rs->taps[p * width + i] = (float)(rs->taps[p * width + i] / sum);
    }
    return 0;
}

static void resampler_reset(resampler *rs) {
    if (rs->up == rs->down) return;
    memset(rs->history, 0, sizeof(float) * rs->capacity);
    rs->start = -rs->reach;   /* the stream is preceded by silence */
    rs->filled = rs->reach;
    rs->next_out = 0;
}

/* An input sample as analysed: NaN/inf count as 0, and magnitudes beyond RD_SAMPLE_LIMIT (120 dB over
 * full scale, from a broken driver or patch) are clipped there, so that no power sum overflows float32
 * and every descriptor stays finite. Real audio (|x| <= 1, or a little over) passes unchanged. */
#define RD_SAMPLE_LIMIT 1e6f
static inline float sane(float x) {
    if (!isfinite(x)) return 0.0f;
    return x > RD_SAMPLE_LIMIT ? RD_SAMPLE_LIMIT : x < -RD_SAMPLE_LIMIT ? -RD_SAMPLE_LIMIT : x;
}

/* ---------- per-frame analysis ---------- */

static float db_of(float magnitude) {  /* magnitude_db: 20·log10(max(S, 1e-5)) in float32 */
    return (float)(20.0 / M_LN10) * logf(magnitude > MAG_FLOOR ? magnitude : MAG_FLOOR);
}

static double level_db(double value, double factor, double offset) {
    double level = offset + factor * log10(value);
    return isfinite(level) && level > RD_LEVEL_FLOOR ? level : RD_LEVEL_FLOOR;
}

static void analyse_mfcc_chroma(rd_analyzer *a, double *out) {
    int bins = a->bins;
    double db[N_MELS];
    for (int b = 0; b < N_MELS; b++) {
        const double *w = a->mel_w + b * bins;
        double band = 0.0;
        for (int k = a->mel_lo[b]; k < a->mel_hi[b]; k++) band += a->mag[k] * w[k];
        db[b] = (float)(20.0 / M_LN10) * log(band > MAG_FLOOR ? band : (double)MAG_FLOOR);
    }
    for (int k = 0; k < N_MFCC; k++) {
        double c = 0.0;
        for (int n = 0; n < N_MELS; n++) c += a->dct[k][n] * db[n];
        out[COL_MFCC + k] = c;
    }
    double energy[N_CHROMA] = {0}, total = 0.0;
    for (int c = 0; c < N_CHROMA; c++) {
        const double *w = a->chroma_w + c * bins;
        for (int k = a->chroma_lo; k < a->chroma_hi; k++) energy[c] += (double)a->power[k] * w[k];
        total += energy[c];
    }
    int silent = total <= MAG_FLOOR_D * MAG_FLOOR_D;
    for (int c = 0; c < N_CHROMA; c++) out[COL_CHROMA + c] = silent ? 1.0 / N_CHROMA : energy[c] / total;
}

static void analyse_shape(rd_analyzer *a, double *out) {
    int bins = a->bins;
    double raw[5] = {0};
    float cumulative = 0.0f;
    double db_sum = 0.0, floored_sum = 0.0;
    float db_max = -FLT_MAX;
    for (int k = 0; k < bins; k++) {
        double s = a->mag[k], f = a->freqs_khz[k];
        raw[0] += s; raw[1] += s * f; raw[2] += s * f * f; raw[3] += s * f * f * f; raw[4] += s * f * f * f * f;
        cumulative += a->mag[k];
        a->cumulative[k] = cumulative;
        db_sum += a->mag_db[k];
        if (a->mag_db[k] > db_max) db_max = a->mag_db[k];
        floored_sum += a->mag[k] > MAG_FLOOR ? a->mag[k] : MAG_FLOOR;
    }
    double *shape = out + COL_SHAPE;
    if (!(raw[0] > MAG_FLOOR_D)) { memset(shape, 0, sizeof(double) * 7); return; }
    double m1 = raw[1] / raw[0], m2 = raw[2] / raw[0], m3 = raw[3] / raw[0], m4 = raw[4] / raw[0];
    double var = fmax(m2 - m1 * m1, 0.0), spread = sqrt(var);
    int peaked = spread > 1e-9;
    float threshold = ROLLOFF * a->cumulative[bins - 1];
    int roll = 0;
    while (roll < bins - 1 && !(a->cumulative[roll] >= threshold)) roll++;
    double mean_db = 20.0 * log10(floored_sum / bins);
    shape[0] = 1000.0 * m1;
    shape[1] = 1000.0 * spread;
    shape[2] = peaked ? (m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1) / (spread * spread * spread) : 0.0;
    shape[3] = peaked ? (m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1) / (var * var) : 0.0;
    shape[4] = a->freqs[roll];
    shape[5] = db_sum / bins - mean_db;
    shape[6] = db_max - mean_db;
}

static void analyse_pitch(rd_analyzer *a, double *out) {
    int n = a->window, tmax = a->tau_max, tmin = a->tau_min;
    for (int k = 0; k < a->bins; k++) { a->spectrum[k].r = k == 0 ? 0.0f : a->power[k]; a->spectrum[k].i = 0.0f; }
    kiss_fftri(a->ifft, a->spectrum, a->acf);
    float scale = 1.0f / n;
    for (int t = 0; t < tmax + 2; t++) a->acf[t] = a->acf[t] * scale / a->window_acf[t];
    float *cmnd = a->frame;  /* reuse: the frame is no longer needed */
    float cumulative = 0.0f;
    cmnd[0] = 1.0f;
    for (int t = 1; t < tmax + 2; t++) {
        float diff = 2.0f * (a->acf[0] - a->acf[t]);
        cumulative += diff;
        float mean = cumulative / (float)t;
        cmnd[t] = diff / (mean > 1e-30f ? mean : 1e-30f);
    }
    int best = -1;
    for (int t = tmin; t <= tmax && best < 0; t++) if (cmnd[t] < PITCH_THRESHOLD) best = t;
    if (best < 0) {
        best = tmin;
        for (int t = tmin + 1; t <= tmax; t++) if (cmnd[t] < cmnd[best]) best = t;
    }
    while (best < tmax && cmnd[best + 1] < cmnd[best]) best++;
    float pa = cmnd[best - 1], pb = cmnd[best], pc = cmnd[best + 1];
    float denom = pa - 2.0f * pb + pc;
    float shift = denom > 0 ? 0.5f * (pa - pc) / denom : 0.0f;
    shift = shift < -1.0f ? -1.0f : shift > 1.0f ? 1.0f : shift;
    double f0 = a->sr / ((double)best + shift);
    f0 = f0 < PITCH_FMIN ? PITCH_FMIN : f0 > PITCH_FMAX ? PITCH_FMAX : f0;
    float confidence = 1.0f - (pb - 0.25f * (pa - pc) * shift);
    confidence = confidence < 0.0f ? 0.0f : confidence > 1.0f ? 1.0f : confidence;
    int silent = a->acf[0] < PITCH_SILENCE;
    out[COL_PITCH] = silent ? 0.0 : f0;
    out[COL_PITCH + 1] = silent ? 0.0 : confidence;
}

static void analyse_sines(rd_analyzer *a, double *out) {
    int top[N_SINES], found = 0;
    float score[N_SINES];
    const float *db = a->mag_db;
    for (int k = 1; k < a->bins - 1; k++) {   /* peaks, kept sorted by dB (first bin wins ties) */
        if (!(db[k] > db[k - 1] && db[k] >= db[k + 1] && a->mag[k] > MAG_FLOOR)) continue;
        if (found == N_SINES && !(db[k] > score[N_SINES - 1])) continue;
        int at = found < N_SINES ? found++ : N_SINES - 1;
        while (at > 0 && db[k] > score[at - 1]) { score[at] = score[at - 1]; top[at] = top[at - 1]; at--; }
        score[at] = db[k];
        top[at] = k;
    }
    for (int i = 0; i < N_SINES; i++) {
        if (i >= found) { out[COL_SINES + i] = 0.0; out[COL_SINES + N_SINES + i] = RD_DB_FLOOR; continue; }
        int k = top[i];
        float pa = db[k - 1], pb = db[k], pc = db[k + 1];
        float denom = pa - 2.0f * pb + pc;
        float offset = denom < 0 ? 0.5f * (pa - pc) / denom : 0.0f;
        out[COL_SINES + i] = ((double)k + offset) * a->sr / a->window;
        out[COL_SINES + N_SINES + i] = pb - 0.25f * (pa - pc) * offset;
    }
}

/* all 56 values of the frame held in buf[TP_REACH, TP_REACH + window) */
static void analyse_frame(rd_analyzer *a, double *out) {
    int n = a->window;
    const float *x = a->buf + TP_REACH;
    double ms = 0.0;
    float peak = 0.0f;
    for (int i = 0; i < n; i++) {
        ms += a->ksq[TP_REACH + i];
        if (a->peak[TP_REACH + i] > peak) peak = a->peak[TP_REACH + i];
    }
    out[COL_LOUDNESS] = level_db(ms / n, 10.0, -0.691);
    out[COL_TRUEPEAK] = level_db(peak, 20.0, 0.0);
    for (int i = 0; i < n; i++) a->frame[i] = x[i] * a->scaled_window[i];
    kiss_fftr(a->fft, a->frame, a->spectrum);
    for (int k = 0; k < a->bins; k++) {
        float re = a->spectrum[k].r, im = a->spectrum[k].i;
        a->mag[k] = sqrtf(re * re + im * im);
        a->power[k] = a->mag[k] * a->mag[k];
        a->mag_db[k] = db_of(a->mag[k]);
    }
    analyse_mfcc_chroma(a, out);
    analyse_shape(a, out);
    analyse_pitch(a, out);
    analyse_sines(a, out);
}

/* ---------- streaming ---------- */

/* the 4× true peak |value| of buf positions [from, to), each from its 13 neighbours either side
 * (loops over positions innermost, so the compiler vectorises them; same sums, same order) */
static void truepeak_block(rd_analyzer *a, int from, int to) {
    int n = to - from;
    if (n <= 0) return;
    float *acc = a->tp_acc, *peak = a->peak + from;
    const float *x = a->buf + from - TP_REACH;
    memset(peak, 0, sizeof(float) * n);
    for (int p = 0; p < 4; p++) {
        memset(acc, 0, sizeof(float) * n);
        for (int i = 0; i <= 2 * TP_REACH; i++) {
            const float c = a->tp_phase[p][i], *src = x + i;
            for (int k = 0; k < n; k++) acc[k] += c * src[k];
        }
        for (int k = 0; k < n; k++) {
            float v = fabsf(acc[k]);
            peak[k] = v > peak[k] ? v : peak[k];
        }
    }
}

/* Append up to `n` analysis-rate samples (sanitised) to the current frame; returns how many were
 * taken. When they complete the frame, it is written to `out` and *done set to 1. */
static int analysis_block(rd_analyzer *a, const float *x, int n, double *out, int *done) {
    int full = a->window + 2 * TP_REACH, take = full - a->filled;
    if (take > n) take = n;
    float *dst = a->buf + a->filled;
    double *sq = a->ksq + a->filled;
    for (int j = 0; j < take; j++) {
        float v = sane(x[j]);
        dst[j] = v;
        double y = v;   /* K-weighting: two biquads, direct form II transposed, state carried */
        for (int s = 0; s < 2; s++) {
            const double *c = a->kw[s];
            double *z = a->kstate[s];
            double w = c[0] * y + z[0];
            z[0] = c[1] * y - c[4] * w + z[1];
            z[1] = c[2] * y - c[5] * w;
            if (fabs(z[0]) < 1e-30) z[0] = 0.0;   /* no denormals in long silences */
            if (fabs(z[1]) < 1e-30) z[1] = 0.0;
            y = w;
        }
        sq[j] = y * y;
    }
    a->filled += take;
    *done = 0;
    if (a->filled < full) return take;
    truepeak_block(a, a->peak_done, a->filled - TP_REACH);
    analyse_frame(a, out);
    int keep = a->filled - a->hop;   /* slide by one hop */
    memmove(a->buf, a->buf + a->hop, sizeof(float) * keep);
    memmove(a->ksq, a->ksq + a->hop, sizeof(double) * keep);
    memmove(a->peak, a->peak + a->hop, sizeof(float) * keep);
    a->filled = keep;
    a->peak_done = a->filled - TP_REACH;
    *done = 1;
    return take;
}

/* feed `n` analysis-rate samples; returns the frames written (beyond `room`, into scratch) */
static int analysis_feed(rd_analyzer *a, const float *x, int n, double *out, int room) {
    int written = 0, done;
    while (n > 0) {
        int took = analysis_block(a, x, n, written < room ? out + (size_t)written * RD_N_DESCRIPTORS : a->scratch, &done);
        written += done;
        x += took;
        n -= took;
    }
    return written;
}

int rd_push(rd_analyzer *a, const float *samples, int n, double *out, int max_frames) {
    resampler *rs = &a->rs;
    if (max_frames < 0) max_frames = 0;   /* no room: frames go to scratch, the count is never negative */
    if (rs->up == rs->down) {
        int written = analysis_feed(a, samples, n, out, max_frames);
        return written < max_frames ? written : max_frames;
    }
    int written = 0;
    for (int j = 0; j < n; j++) {
        if (rs->filled == rs->capacity) {   /* drop input no future output reads */
            long long oldest = rs->next_out * rs->down / rs->up - rs->reach + 1;
            int drop = (int)(oldest - rs->start);
            memmove(rs->history, rs->history + drop, sizeof(float) * (rs->filled - drop));
            rs->filled -= drop;
            rs->start += drop;
        }
        rs->history[rs->filled++] = sane(samples[j]);
        long long newest = rs->start + rs->filled - 1;
        for (;;) {
            long long pos = rs->next_out * rs->down, base = pos / rs->up;
            if (base + rs->reach > newest) break;
            int phase = (int)(pos % rs->up), width = 2 * rs->reach;
            const float *taps = rs->taps + (size_t)phase * width;
            const float *src = rs->history + (base - rs->reach + 1 - rs->start);
            float v = 0.0f;
            for (int i = 0; i < width; i++) v += taps[i] * src[i];
            rs->next_out++;
            /* a pointer into `out` only while there is room: past it, analysis_feed writes to scratch */
            int room = written < max_frames ? max_frames - written : 0;
            written += analysis_feed(a, &v, 1, room > 0 ? out + (size_t)written * RD_N_DESCRIPTORS : NULL, room);
        }
    }
    return written < max_frames ? written : max_frames;
}

int rd_max_frames(const rd_analyzer *a, int n) {
    double analysis = (double)n * a->rs.up / a->rs.down + 2.0;
    return (int)(analysis / a->hop) + 2;
}

int rd_latency(const rd_analyzer *a) {
    if (a->rs.up == a->rs.down) return TP_REACH;
    return (int)ceil(TP_REACH * (double)a->rs.down / a->rs.up) + a->rs.reach;
}

double rd_host_rate(const rd_analyzer *a) { return a->host_sr; }

int rd_resampling(const rd_analyzer *a) { return a->rs.up != a->rs.down; }

void rd_reset(rd_analyzer *a) {
    int pre = TP_REACH;   /* the signal is preceded by zeros (offline: zero padding) */
    memset(a->buf, 0, sizeof(float) * (a->window + 2 * TP_REACH));
    memset(a->ksq, 0, sizeof(double) * (a->window + 2 * TP_REACH));
    memset(a->peak, 0, sizeof(float) * (a->window + 2 * TP_REACH));
    memset(a->kstate, 0, sizeof a->kstate);
    a->filled = pre;
    a->peak_done = pre;
    resampler_reset(&a->rs);
}

void rd_destroy(rd_analyzer *a) {
    if (a == NULL) return;
    kiss_fftr_free(a->fft);
    kiss_fftr_free(a->ifft);
    free(a->rs.taps); free(a->rs.history);
    free(a->buf); free(a->ksq); free(a->peak); free(a->tp_acc);
    free(a->scaled_window); free(a->frame); free(a->mag); free(a->mag_db); free(a->power);
    free(a->acf); free(a->window_acf); free(a->cumulative); free(a->spectrum);
    free(a->freqs); free(a->freqs_khz); free(a->mel_lo); free(a->mel_hi); free(a->mel_w); free(a->chroma_w);
    free(a);
}

rd_analyzer *rd_create(double host_sr, int sr, int window, int hop, char *error, size_t error_size) {
    if (sr < 8000 || sr > 768000) {
        snprintf(error, error_size, "analysis rate %d Hz is not supported (8000-768000)", sr);
        return NULL;
    }
    if (!(host_sr >= RD_MIN_HOST_SR || host_sr == sr) || host_sr > 768000.0 || host_sr != floor(host_sr)) {
        snprintf(error, error_size, "sample rate %g Hz is not supported: run Pd (or the audio interface) at a whole "
                 "rate of at least %.0f Hz, e.g. 44100 or 48000", host_sr, RD_MIN_HOST_SR);
        return NULL;
    }
    if (window < 16 || window % 2 || window > 65536 || hop < 1 || hop > window) {
        snprintf(error, error_size, "window %d / hop %d: the window must be even (16-65536) and the hop 1..window",
                 window, hop);
        return NULL;
    }
    rd_analyzer *a = calloc(1, sizeof *a);
    if (a == NULL) { snprintf(error, error_size, "out of memory"); return NULL; }
    a->host_sr = host_sr;
    a->sr = sr;
    a->window = window;
    a->hop = hop;
    a->bins = window / 2 + 1;
    int span = window + 2 * TP_REACH, bins = a->bins;
    a->buf = calloc(span, sizeof(float));
    a->ksq = calloc(span, sizeof(double));
    a->peak = calloc(span, sizeof(float));
    a->tp_acc = calloc(span, sizeof(float));
    a->scaled_window = malloc(sizeof(float) * window);
    a->frame = malloc(sizeof(float) * window);
    a->acf = malloc(sizeof(float) * window);
    a->window_acf = malloc(sizeof(float) * window);
    a->mag = malloc(sizeof(float) * bins);
    a->mag_db = malloc(sizeof(float) * bins);
    a->power = malloc(sizeof(float) * bins);
    a->cumulative = malloc(sizeof(float) * bins);
    a->spectrum = malloc(sizeof(kiss_fft_cpx) * bins);
    a->freqs = malloc(sizeof(double) * bins);
    a->freqs_khz = malloc(sizeof(double) * bins);
    a->mel_lo = malloc(sizeof(int) * N_MELS);
    a->mel_hi = malloc(sizeof(int) * N_MELS);
    a->mel_w = malloc(sizeof(double) * N_MELS * bins);
    a->chroma_w = malloc(sizeof(double) * N_CHROMA * bins);
    a->fft = kiss_fftr_alloc(window, 0, NULL, NULL);
    a->ifft = kiss_fftr_alloc(window, 1, NULL, NULL);
    if (!a->buf || !a->ksq || !a->peak || !a->tp_acc || !a->scaled_window || !a->frame || !a->acf || !a->window_acf || !a->mag
        || !a->mag_db || !a->power || !a->cumulative || !a->spectrum || !a->freqs || !a->freqs_khz || !a->mel_lo
        || !a->mel_hi || !a->mel_w || !a->chroma_w || !a->fft || !a->ifft || resampler_init(&a->rs, host_sr, sr) != 0) {
        rd_destroy(a);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    for (int k = 0; k < bins; k++) {
        a->freqs[k] = k * (double)a->sr / window;
        a->freqs_khz[k] = a->freqs[k] / 1000.0;
    }
    k_weighting(a->sr, a->kw);
    truepeak_phases(a->tp_phase);
    mel_filterbank(a);
    chroma_filterbank(a);
    if (windows(a) != 0) {
        rd_destroy(a);
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    a->tau_min = (int)floor(a->sr / PITCH_FMAX);
    if (a->tau_min < 2) a->tau_min = 2;
    a->tau_max = (int)ceil(a->sr / PITCH_FMIN);
    if (a->tau_max > window / 2 - 1) a->tau_max = window / 2 - 1;
    rd_reset(a);
    return a;
}

int rd_select(const char *const *items, int n_items, int *out, char *error, size_t error_size) {
    int wanted[RD_N_DESCRIPTORS] = {0};
    for (int i = 0; i < n_items; i++) {
        int hit = 0;
        for (int c = 0; c < RD_N_DESCRIPTORS && !hit; c++)
            if (strcmp(items[i], RD_NAMES[c]) == 0) { wanted[c] = 1; hit = 1; }   /* a column name wins */
        for (int g = 0; g < RD_N_CATEGORIES && !hit; g++)
            if (strcmp(items[i], RD_CATEGORIES[g].name) == 0) {
                for (int c = 0; c < RD_CATEGORIES[g].count; c++) wanted[RD_CATEGORIES[g].first + c] = 1;
                hit = 1;
            }
        if (!hit) {
            snprintf(error, error_size, "unknown feature '%s': use a category (loudness, mfcc, chroma, specshape, pitch, "
                     "sines) or a column name (loudness, truepeak, mfcc_0..mfcc_12, chroma_A..chroma_Gs, centroid, spread, "
                     "skewness, kurtosis, rolloff, flatness, crest, pitch, pitch_confidence, sine_freq_0..9, sine_mag_0..9)",
                     items[i]);
            return -1;
        }
    }
    int n = 0;
    for (int c = 0; c < RD_N_DESCRIPTORS; c++) if (wanted[c]) out[n++] = c;
    if (n == 0) {
        snprintf(error, error_size, "empty feature selection: name at least one category or feature");
        return -1;
    }
    return n;
}
