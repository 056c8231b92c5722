/* [rlimpro_features~ sel...]: the rlimpro descriptors of a signal, one list per hop (docs/protocol.md).
 *
 * A thin Pd host over the C descriptor core (native/descriptors.c), the same code the DAG
 * analyses the corpus and the lookup tables with, so what the agent hears live is what it
 * was trained on, frame for frame. Creation arguments select descriptors with the
 * params.yaml grammar (categories and/or column names, e.g. `loudness specshape`; none:
 * all 56); each list holds the selection in table order. List i covers the samples
 * [i·512, i·512 + 1024) counted from DSP start (at 44.1 kHz; other rates of at least
 * 22.05 kHz are resampled to 44.1 kHz inside, so list i covers the same time span).
 *
 * Messages: `select sel...` changes the selection, `reset` restarts the framing at the next
 * block, `info` prints the selected names and the latency. The perform routine only pushes
 * samples into buffers allocated beforehand; the lists go out from a clock right after the
 * DSP tick (no allocation, lock or I/O in perform).
 */
#include <stdlib.h>
#include <string.h>

#include "m_pd.h"
#include "descriptors.h"

#define ERROR_SIZE 1024

static t_class *features_class;

typedef struct {
    t_object obj;
    t_float f;                  /* signal inlet's scalar */
    t_clock *clock;
    rd_analyzer *analyzer;      /* NULL until DSP starts at a supported rate */
    double rate;
    int columns[RD_N_DESCRIPTORS], n_columns;   /* the selection, table order; n_columns 0: inert */
    double *frames;             /* frames written during the last DSP tick(s), not yet sent */
    int capacity, pending;
    t_atom atoms[RD_N_DESCRIPTORS];
} t_features;

/* Resolve a Pd argument list into the selection; 0 on success, else one error line. */
static int features_select_atoms(t_features *x, int argc, t_atom *argv) {
    const char *items[RD_N_DESCRIPTORS + RD_N_CATEGORIES + 8];
    char error[ERROR_SIZE], number[32];
    int columns[RD_N_DESCRIPTORS], n;
    if (argc == 0) {   /* no selection: all 56 */
        for (int c = 0; c < RD_N_DESCRIPTORS; c++) x->columns[c] = c;
        x->n_columns = RD_N_DESCRIPTORS;
        return 0;
    }
    if (argc > (int)(sizeof items / sizeof *items)) {
        pd_error(x, "rlimpro_features~: %d feature names is too many (there are %d descriptors)", argc, RD_N_DESCRIPTORS);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (argv[i].a_type == A_SYMBOL) { items[i] = argv[i].a_w.w_symbol->s_name; continue; }
        snprintf(number, sizeof number, "%g", atom_getfloat(argv + i));
        pd_error(x, "rlimpro_features~: feature names are symbols, got the number %s; e.g. [rlimpro_features~ loudness specshape]",
                 number);
        return -1;
    }
    if ((n = rd_select(items, argc, columns, error, sizeof error)) < 0) {
        pd_error(x, "rlimpro_features~: %s", error);
        return -1;
    }
    memcpy(x->columns, columns, sizeof(int) * n);
    x->n_columns = n;
    return 0;
}

/* send the pending frames, oldest first (runs right after the DSP tick that wrote them) */
static void features_tick(t_features *x) {
    int pending = x->pending;
    x->pending = 0;
    for (int f = 0; f < pending; f++) {
        const double *frame = x->frames + (size_t)f * RD_N_DESCRIPTORS;
        for (int i = 0; i < x->n_columns; i++) SETFLOAT(x->atoms + i, (t_float)frame[x->columns[i]]);
        outlet_list(x->obj.ob_outlet, &s_list, x->n_columns, x->atoms);
    }
}

static t_int *features_perform(t_int *w) {
    t_features *x = (t_features *)w[1];
    const t_sample *in = (const t_sample *)w[2];
    int n = (int)w[3];
    if (x->analyzer == NULL || x->n_columns == 0) return w + 4;
    double *out = x->frames + (size_t)x->pending * RD_N_DESCRIPTORS;
    int written;
#if PD_FLOATSIZE == 32
    written = rd_push(x->analyzer, in, n, out, x->capacity - x->pending);
#else
    written = 0;   /* double-precision Pd: push through a float copy, a sample at a time */
    for (int i = 0; i < n; i++) {
        float s = (float)in[i];
        written += rd_push(x->analyzer, &s, 1, out + (size_t)written * RD_N_DESCRIPTORS, x->capacity - x->pending - written);
    }
#endif
    if (written > 0) {
        x->pending += written;
        clock_delay(x->clock, 0);
    }
    return w + 4;
}

static void features_free_analyzer(t_features *x) {
    rd_destroy(x->analyzer);
    x->analyzer = NULL;
    if (x->frames) freebytes(x->frames, sizeof(double) * RD_N_DESCRIPTORS * x->capacity);
    x->frames = NULL;
    x->capacity = x->pending = 0;
}

/* (re)create the analyzer for this DSP run: allocation happens here, never in perform */
static void features_dsp(t_features *x, t_signal **sp) {
    double rate = sp[0]->s_sr;
    int block = sp[0]->s_n;
    features_free_analyzer(x);
    char error[ERROR_SIZE];
    x->analyzer = rd_create(rate, RD_SR, RD_WINDOW, RD_HOP, error, sizeof error);
    x->rate = rate;
    if (x->analyzer == NULL) {
        pd_error(x, "rlimpro_features~: %s", error);
    } else {
        x->capacity = 2 * rd_max_frames(x->analyzer, block);   /* room for two ticks before the clock runs */
        x->frames = getbytes(sizeof(double) * RD_N_DESCRIPTORS * x->capacity);
    }
    dsp_add(features_perform, 3, x, sp[0]->s_vec, (t_int)block);
}

static void features_select(t_features *x, t_symbol *s, int argc, t_atom *argv) {
    (void)s;
    if (features_select_atoms(x, argc, argv) != 0) pd_error(x, "rlimpro_features~: selection unchanged");
}

static void features_reset(t_features *x) {
    if (x->analyzer) rd_reset(x->analyzer);
    x->pending = 0;
}

static void features_info(t_features *x) {
    char names[4096] = "";
    size_t used = 0;
    for (int i = 0; i < x->n_columns && used < sizeof names - 32; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? " " : "", RD_NAMES[x->columns[i]]);
    post("rlimpro_features~: %d features: %s", x->n_columns, x->n_columns ? names : "(none: bad creation arguments)");
    if (x->analyzer) {
        post("rlimpro_features~: latency %d samples: a list goes out %d samples after its frame's last sample "
             "(window %d, hop %d at %d Hz%s), then at the end of that DSP block",
             RD_WINDOW + rd_latency(x->analyzer), rd_latency(x->analyzer), RD_WINDOW, RD_HOP, RD_SR,
             rd_resampling(x->analyzer) ? "; resampled from the host rate" : "");
    } else {
        post("rlimpro_features~: not analysing (DSP off%s)", x->rate > 0 ? " or an unsupported sample rate" : "");
    }
}

static void *features_new(t_symbol *s, int argc, t_atom *argv) {
    (void)s;
    t_features *x = (t_features *)pd_new(features_class);
    x->clock = clock_new(x, (t_method)features_tick);
    outlet_new(&x->obj, &s_list);
    if (features_select_atoms(x, argc, argv) != 0) x->n_columns = 0;   /* inert, Pd keeps running */
    return x;
}

static void features_free(t_features *x) {
    clock_free(x->clock);
    features_free_analyzer(x);
}

void rlimpro_features_tilde_setup(void) {
    features_class = class_new(gensym("rlimpro_features~"), (t_newmethod)features_new, (t_method)features_free,
                               sizeof(t_features), CLASS_DEFAULT, A_GIMME, 0);
    CLASS_MAINSIGNALIN(features_class, t_features, f);
    class_addmethod(features_class, (t_method)features_dsp, gensym("dsp"), A_CANT, 0);
    class_addmethod(features_class, (t_method)features_select, gensym("select"), A_GIMME, 0);
    class_addmethod(features_class, (t_method)features_reset, gensym("reset"), 0);
    class_addmethod(features_class, (t_method)features_info, gensym("info"), 0);
}
