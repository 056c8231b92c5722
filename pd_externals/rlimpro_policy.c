/* [rlimpro_policy path/policy.onnx]: an rlimpro policy (DESIGN.md §6, §7) inside Pd, no Python.
 *
 * Left inlet: a list of F floats (the musician's descriptors, in the order of the policy's
 * `features`) -> the next N params out of the left outlet, as a list. The object keeps the
 * params between lists, as the live server does. Messages: `set f...` sets the params
 * (clipped to [0, 1]), `reset` restores `initial_params`, `load path` swaps in another policy
 * (only if it loads), `info` sends `synth`, `n_params`, `features` and `path` lines out of the
 * right outlet. A list with the wrong count, a NaN/inf or a frame whose norm exceeds 1e7 is
 * refused with an error in the Pd window; a non-finite output is never sent.
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
    float *target, *params, *output; /* one allocation */
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
    free(p->target);
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
    int f = p->info.n_features, n = p->info.n_params;
    p->target = calloc((size_t)(f + 2 * n), sizeof(float));
    if (p->target == NULL) { snprintf(error, size, "out of memory"); policy_free(p); return NULL; }
    p->params = p->target + f;
    p->output = p->params + n;
    memcpy(p->params, p->info.initial, sizeof(float) * n);
    if (policy_file_bind(&p->ort, &p->info, p->target, p->params, p->output, error, size) != 0) {
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
    for (int i = 0; i < argc; i++) p->target[i] = atom_getfloat(argv + i);
    if (!ort_policy_sane(p->target, p->info.n_features)) {
        pd_error(x, "rlimpro_policy: target refused (NaN, inf or absurdly large)");
        return;
    }
    if (ort_policy_run(&p->ort) != 0 || !ort_policy_sane(p->output, p->info.n_params)) {
        pd_error(x, "rlimpro_policy: the model gave no finite output; params kept");
        return;
    }
    memcpy(p->params, p->output, sizeof(float) * p->info.n_params);
    for (int i = 0; i < p->info.n_params; i++) SETFLOAT(x->atoms + i, p->params[i]);
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
        p->params[i] = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
}

static void rlimpro_policy_reset(t_rlimpro_policy *x) {
    if (loaded(x)) memcpy(x->policy->params, x->policy->info.initial, sizeof(float) * x->policy->info.n_params);
}

/* synth, n_params, features (as symbols) and path out of the right outlet */
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
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_load, gensym("load"), A_SYMBOL, 0);
    class_addmethod(rlimpro_policy_class, (t_method)rlimpro_policy_info, gensym("info"), 0);
}
