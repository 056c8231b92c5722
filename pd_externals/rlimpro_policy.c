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
 * onnxruntime is the library of the venv's onnxruntime wheel: its path is baked in at build
 * time (RLIMPRO_ORT_LIBRARY), then looked up under $VIRTUAL_ENV, then by the system's loader.
 */
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "m_pd.h"
#include "ort_policy.h"

#ifndef RLIMPRO_ORT_LIBRARY
#define RLIMPRO_ORT_LIBRARY ""
#endif
#define TEXT 4096

static t_class *rlimpro_policy_class;

typedef struct {
    ort_policy ort;
    int n_features, n_params;
    float *target, *params, *output, *initial; /* one allocation */
    char synth[256], features[TEXT], path[MAXPDSTRING];
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
    free(p->target);
    free(p);
}

/* Load `model` with the first usable onnxruntime: the baked-in library, then $VIRTUAL_ENV's
 * wheel, then the system's loader. 0 on success, else -1 and a message in `error`. */
static int load_session(ort_policy *ort, const char *model, char *error, size_t size) {
    char pattern[MAXPDSTRING];
    const char *candidates[64];
    int n = 0, status = -2;
    const char *venv = getenv("VIRTUAL_ENV");
    glob_t found = {0};
    if (*RLIMPRO_ORT_LIBRARY) candidates[n++] = RLIMPRO_ORT_LIBRARY;
    if (venv != NULL) {
        snprintf(pattern, sizeof pattern, "%s/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*", venv);
        if (glob(pattern, 0, NULL, &found) == 0)
            for (size_t i = found.gl_pathc; i-- > 0 && n < 60;) candidates[n++] = found.gl_pathv[i];
    }
    candidates[n++] = "libonnxruntime.so";
    candidates[n++] = "libonnxruntime.so.1";
    for (int i = 0; i < n && status == -2; i++) status = ort_policy_load(ort, candidates[i], model, error, size);
    globfree(&found);
    if (status == -2)
        snprintf(error, size, "cannot find onnxruntime (not at the path built in, not under $VIRTUAL_ENV, not in "
                 "the system's library paths); rebuild with `make externals` or start Pd from the activated venv");
    return status == 0 ? 0 : -1;
}

/* Parse comma-joined floats into `out` (n values); 0 if exactly n numbers were found. */
static int parse_floats(const char *text, float *out, int n) {
    const char *at = text;
    for (int i = 0; i < n; i++) {
        char *end;
        out[i] = strtof(at, &end);
        if (end == at) return -1;
        at = end;
        while (*at == ' ') at++;
        if (i < n - 1) { if (*at != ',') return -1; at++; }
    }
    while (*at == ' ') at++;
    return *at == '\0' ? 0 : -1;
}

/* Load and check a policy; NULL with a message in `error` when anything is wrong. */
static policy *policy_open(const char *path, char *error, size_t size) {
    policy *p = calloc(1, sizeof *p);
    char text[TEXT];
    if (p == NULL) { snprintf(error, size, "out of memory"); return NULL; }
    snprintf(p->path, sizeof p->path, "%s", path);
    if (access(path, R_OK) != 0) {
        snprintf(error, size, "no such policy file; export one with `rlimpro export`");
        free(p);
        return NULL;
    }
    if (load_session(&p->ort, path, error, size) != 0) { free(p); return NULL; }
    if (ort_policy_metadata(&p->ort, "n_params", text, sizeof text) != 0 || (p->n_params = atoi(text)) < 1
        || ort_policy_metadata(&p->ort, "features", p->features, sizeof p->features) != 0) {
        snprintf(error, size, "not an rlimpro policy (metadata lacks n_params or features); re-export it with `rlimpro export`");
        policy_free(p);
        return NULL;
    }
    ort_policy_metadata(&p->ort, "synth", p->synth, sizeof p->synth);
    p->n_features = 1;
    for (const char *c = p->features; *c; c++) p->n_features += *c == ',';
    int f = p->n_features, n = p->n_params;
    p->target = calloc((size_t)(f + 3 * n), sizeof(float));
    if (p->target == NULL) { snprintf(error, size, "out of memory"); policy_free(p); return NULL; }
    p->params = p->target + f;
    p->output = p->params + n;
    p->initial = p->output + n;
    for (int i = 0; i < n; i++) p->initial[i] = 0.5f;
    if (ort_policy_metadata(&p->ort, "initial_params", text, sizeof text) == 0 && *text
        && parse_floats(text, p->initial, n) != 0) {
        snprintf(error, size, "metadata initial_params is not %d comma-joined numbers; re-export it with `rlimpro export`", n);
        policy_free(p);
        return NULL;
    }
    memcpy(p->params, p->initial, sizeof(float) * n);
    if (ort_policy_bind(&p->ort, p->target, p->params, p->output, f, n, error, size) != 0 || ort_policy_run(&p->ort) != 0) {
        snprintf(error, size, "its inputs are not target [batch, %d] and params [batch, %d] -> params_next; "
                 "re-export it with `rlimpro export`", f, n);
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
        freebytes(x->atoms, sizeof(t_atom) * x->policy->n_params);
        policy_free(x->policy);
    }
    x->policy = p;
    x->atoms = getbytes(sizeof(t_atom) * p->n_params);
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
    if (argc != p->n_features || !all_floats(argc, argv)) {
        pd_error(x, "rlimpro_policy: a target needs %d floats (%s), got %d atoms", p->n_features, p->features, argc);
        return;
    }
    for (int i = 0; i < argc; i++) p->target[i] = atom_getfloat(argv + i);
    if (!ort_policy_sane(p->target, p->n_features)) {
        pd_error(x, "rlimpro_policy: target refused (NaN, inf or absurdly large)");
        return;
    }
    if (ort_policy_run(&p->ort) != 0 || !ort_policy_sane(p->output, p->n_params)) {
        pd_error(x, "rlimpro_policy: the model gave no finite output; params kept");
        return;
    }
    memcpy(p->params, p->output, sizeof(float) * p->n_params);
    for (int i = 0; i < p->n_params; i++) SETFLOAT(x->atoms + i, p->params[i]);
    outlet_list(x->obj.ob_outlet, &s_list, p->n_params, x->atoms);
}

static void rlimpro_policy_set(t_rlimpro_policy *x, t_symbol *s, int argc, t_atom *argv) {
    (void)s;
    if (!loaded(x)) return;
    policy *p = x->policy;
    if (argc != p->n_params || !all_floats(argc, argv)) {
        pd_error(x, "rlimpro_policy: set needs %d floats, got %d atoms", p->n_params, argc);
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
    if (loaded(x)) memcpy(x->policy->params, x->policy->initial, sizeof(float) * x->policy->n_params);
}

/* synth, n_params, features (as symbols) and path out of the right outlet */
static void rlimpro_policy_info(t_rlimpro_policy *x) {
    if (!loaded(x)) return;
    policy *p = x->policy;
    t_atom atom;
    SETSYMBOL(&atom, gensym(p->synth));
    outlet_anything(x->info_out, gensym("synth"), 1, &atom);
    SETFLOAT(&atom, p->n_params);
    outlet_anything(x->info_out, gensym("n_params"), 1, &atom);
    int n = p->n_features;
    t_atom *names = getbytes(sizeof(t_atom) * n);
    char copy[TEXT], *save = NULL, *name = strtok_r(strcpy(copy, p->features), ",", &save);
    for (int i = 0; i < n && name; i++, name = strtok_r(NULL, ",", &save)) SETSYMBOL(names + i, gensym(name));
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
        freebytes(x->atoms, sizeof(t_atom) * x->policy->n_params);
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
