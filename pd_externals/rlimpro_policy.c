/* [rlimpro_policy path/policy.onnx]: an rlimpro policy (docs/protocol.md) inside Pd, no Python.
 *
 * Left inlet: a list of F floats (the musician's descriptors, in the order of the policy's
 * `features`) -> the next N params out of the left outlet, as a list. The object keeps the
 * params between lists, as the live server does, and for a policy with the optional inputs
 * (docs/protocol.md) its knobs (intent, calm) and recurrent state. Messages: `set f...` sets the
 * params (clipped to [0, 1]), `reset` restores `initial_params` and zeroes the recurrent state,
 * `intent f` and `calm f` set a knob (clipped to [-1, 1]; each starts at the policy's
 * intent_default / calm_default, a reset keeps it; NaN/inf refused), `load path` swaps in another
 * policy (only if it loads; it starts afresh, its knobs at its defaults), `info` sends `synth`,
 * `n_params`, `features`, `intent` and `calm` (the value, or none), `state_size` (0: none) and
 * `path` lines out of the right outlet. A list with the wrong count, a NaN/inf or a frame whose
 * norm exceeds 1e7 is refused with an error in the Pd window; a non-finite output (params or
 * state) is never taken.
 *
 * The policy-file rules (where onnxruntime is, the metadata and inputs a policy must have) are
 * native/policy_file.h, shared with every C host; this file is only the Pd side.
 */
#include <math.h>
#include <stdlib.h>

#include "m_pd.h"
#include "policy_file.h"

static t_class *rlimpro_policy_class;

typedef struct {
    ort_policy ort;
    policy_file_info info;
    ort_policy_buffers b; /* one allocation, from b.target; intent, calm and state(_next) NULL if the policy has none */
    char path[MAXPDSTRING];
} policy;

typedef struct {
    t_object obj;
    t_outlet *info_out;
    t_canvas *canvas;
    policy *policy;
    t_atom *atoms;  /* the outgoing list, n_params long */
} t_rlimpro_policy;

static void policy_free(policy *p) {
    if (p == NULL) return;
    ort_policy_close(&p->ort);
    policy_file_info_free(&p->info);
    free(p->b.target);
    free(p);
}

/* Load and check a policy (policy_file.h) and bind its buffers; NULL with a message in
 * `error` when anything is wrong. */
static policy *policy_open(const char *path, char *error, size_t size) {
    policy *p = calloc(1, sizeof *p);
    if (p == NULL) { snprintf(error, size, "out of memory"); return NULL; }
    snprintf(p->path, sizeof p->path, "%s", path);
    int status = policy_file_open(&p->ort, &p->info, RLIMPRO_ORT_LIBRARY, path, error, size);
    if (status != 0) {
        if (status == -2) pf_append(error, size, "; rebuild with `make externals` or start Pd from the activated venv");
        free(p);
        return NULL;
    }
    int f = p->info.n_features, n = p->info.n_params, s = p->info.n_state;
    /* one allocation: target F, params N, params_next N, intent 1, calm 1, state S, state_next S (zeros) */
    float *all = calloc((size_t)(f + 2 * n + 2 + 2 * s), sizeof(float));
    if (all == NULL) { snprintf(error, size, "out of memory"); policy_free(p); return NULL; }
    float *optional = all + f + 2 * n;
    p->b = (ort_policy_buffers){all, all + f, all + f + n, NULL, NULL, NULL, NULL, f, n, s};
    if (p->info.has_intent) { p->b.intent = optional; *p->b.intent = p->info.intent_default; }
    if (p->info.has_calm) { p->b.calm = optional + 1; *p->b.calm = p->info.calm_default; }
    if (s) { p->b.state = optional + 2; p->b.state_next = optional + 2 + s; }
    memcpy(p->b.params, p->info.initial, sizeof(float) * n);
    if (policy_file_bind(&p->ort, &p->info, &p->b, error, size) != 0) {
        policy_free(p);
        return NULL;
    }
    return p;
}

static void rlimpro_policy_load(t_rlimpro_policy *x, t_symbol *name) {
    char path[MAXPDSTRING], error[1024];
    if (name->s_name[0] == '/') snprintf(path, sizeof path, "%s", name->s_name);
    else snprintf(path, sizeof path, "%s/%s", canvas_getdir(x->canvas)->s_name, name->s_name);
    policy *p = policy_open(path, error, sizeof error);
    if (p == NULL) {
        pd_error(x, "rlimpro_policy: %s: %s%s", name->s_name, error, x->policy ? " (keeping the loaded policy)" : "");
        return;
    }
    if (x->policy) {
        freebytes(x->atoms, sizeof(t_atom) * x->policy->info.n_params);
        policy_free(x->policy);
    }
    x->policy = p;
    x->atoms = getbytes(sizeof(t_atom) * p->info.n_params);
}

static int all_floats(int argc, const t_atom *argv) {
    for (int i = 0; i < argc; i++) if (argv[i].a_type != A_FLOAT) return 0;
    return 1;
}

static int loaded(t_rlimpro_policy *x) {
    if (x->policy == NULL) pd_error(x, "rlimpro_policy: no policy loaded; send it `load path/policy.onnx`");
    return x->policy != NULL;
}

/* a list of F descriptors -> one decision -> the N params out */
static void rlimpro_policy_list(t_rlimpro_policy *x, t_symbol *s, int argc, t_atom *argv) {
    (void)s;
    if (!loaded(x)) return;
    policy *p = x->policy;
    if (argc != p->info.n_features || !all_floats(argc, argv)) {
        pd_error(x, "rlimpro_policy: a target needs %d floats (%s), got %d atoms", p->info.n_features, p->info.features, argc);
        return;
    }
    for (int i = 0; i < argc; i++) p->b.target[i] = atom_getfloat(argv + i);
    if (!ort_policy_sane(p->b.target, p->info.n_features)) {
        pd_error(x, "rlimpro_policy: target refused (NaN, inf or absurdly large)");
        return;
    }
    if (ort_policy_run(&p->ort) != 0 || !ort_policy_outputs_sane(&p->b)) {
        pd_error(x, "rlimpro_policy: the model gave no finite output; params kept");
        return;
    }
    ort_policy_accept(&p->b); /* params (and any recurrent state) move on */
    for (int i = 0; i < p->info.n_params; i++) SETFLOAT(x->atoms + i, p->b.params[i]);
    outlet_list(x->obj.ob_outlet, &s_list, p->info.n_params, x->atoms);
}

static void rlimpro_policy_set(t_rlimpro_policy *x, t_symbol *s, int argc, t_atom *argv) {
    (void)s;
    if (!loaded(x)) return;
    policy *p = x->policy;
    if (argc != p->info.n_params || !all_floats(argc, argv)) {
        pd_error(x, "rlimpro_policy: set needs %d floats, got %d atoms", p->info.n_params, argc);
        return;
    }
    for (int i = 0; i < argc; i++) {
        if (!isfinite(atom_getfloat(argv + i))) { pd_error(x, "rlimpro_policy: set ignored (NaN or inf)"); return; }
    }
    for (int i = 0; i < argc; i++) {
        float v = atom_getfloat(argv + i);
        p->b.params[i] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
}

/* params back to initial_params, the recurrent state to zeros; the knobs stay */
static void rlimpro_policy_reset(t_rlimpro_policy *x) {
    if (!loaded(x)) return;
    policy *p = x->policy;
    memcpy(p->b.params, p->info.initial, sizeof(float) * p->info.n_params);
    if (p->b.state) memset(p->b.state, 0, sizeof(float) * p->info.n_state);
}

/* intent f, calm f (the selector `s` says which knob): the policy's input from now on, clipped
 * to [-1, 1]; NaN/inf refused */
static void rlimpro_policy_knob(t_rlimpro_policy *x, t_symbol *s, int argc, t_atom *argv) {
    if (!loaded(x)) return;
    policy *p = x->policy;
    float *knob = strcmp(s->s_name, POLICY_FILE_KNOBS[PF_CALM]) == 0 ? p->b.calm : p->b.intent;
    if (knob == NULL)
        pd_error(x, "rlimpro_policy: this policy has no %s input", s->s_name);
    else if (argc != 1 || argv->a_type != A_FLOAT)
        pd_error(x, "rlimpro_policy: %s needs 1 float, got %d atoms", s->s_name, argc);
    else if (policy_file_knob(atom_getfloat(argv), knob) != 0)
        pd_error(x, "rlimpro_policy: %s ignored (NaN or inf)", s->s_name);
}

/* synth, n_params, features (as symbols), intent and calm (or none), state_size and path out of the right outlet */
static void rlimpro_policy_info(t_rlimpro_policy *x) {
    if (!loaded(x)) return;
    policy *p = x->policy;
    t_atom atom;
    SETSYMBOL(&atom, gensym(p->info.synth));
    outlet_anything(x->info_out, gensym("synth"), 1, &atom);
    SETFLOAT(&atom, p->info.n_params);
    outlet_anything(x->info_out, gensym("n_params"), 1, &atom);
    int n = p->info.n_features;
    t_atom *names = getbytes(sizeof(t_atom) * n);
    for (int i = 0; i < n; i++) SETSYMBOL(names + i, gensym(RD_NAMES[p->info.columns[i]]));
    outlet_anything(x->info_out, gensym("features"), n, names);
    freebytes(names, sizeof(t_atom) * n);
    float *const knobs[PF_N_KNOBS] = {p->b.intent, p->b.calm};
    for (int k = 0; k < PF_N_KNOBS; k++) {
        if (knobs[k]) SETFLOAT(&atom, *knobs[k]);
        else SETSYMBOL(&atom, gensym("none"));
        outlet_anything(x->info_out, gensym(POLICY_FILE_KNOBS[k]), 1, &atom);
    }
    SETFLOAT(&atom, p->info.n_state);
    outlet_anything(x->info_out, gensym("state_size"), 1, &atom);
    SETSYMBOL(&atom, gensym(p->path));
    outlet_anything(x->info_out, gensym("path"), 1, &atom);
}

static void *rlimpro_policy_new(t_symbol *name) {
    t_rlimpro_policy *x = (t_rlimpro_policy *)pd_new(rlimpro_policy_class);
    x->canvas = canvas_getcurrent();
    outlet_new(&x->obj, &s_list);
    x->info_out = outlet_new(&x->obj, &s_anything);
    if (name && *name->s_name) rlimpro_policy_load(x, name);
    return x;
}

static void rlimpro_policy_free(t_rlimpro_policy *x) {
    if (x->policy) {
        freebytes(x->atoms, sizeof(t_atom) * x->policy->info.n_params);
        policy_free(x->policy);
    }
}

void rlimpro_policy_setup(void) {
    rlimpro_policy_class = class_new(gensym("rlimpro_policy"), (t_newmethod)rlimpro_policy_new,
                                     (t_method)rlimpro_policy_free, sizeof(t_rlimpro_policy), CLASS_DEFAULT, A_DEFSYM, 0);
    class_addlist(rlimpro_policy_class, rlimpro_policy_list);
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_set, gensym("set"), A_GIMME, 0);
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_reset, gensym("reset"), 0);
    for (int k = 0; k < PF_N_KNOBS; k++)
        class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_knob, gensym(POLICY_FILE_KNOBS[k]), A_GIMME, 0);
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_load, gensym("load"), A_SYMBOL, 0);
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_info, gensym("info"), 0);
}
