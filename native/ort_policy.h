/* A policy.onnx (docs/protocol.md) in onnxruntime's C API, bound to the caller's float buffers.
 *
 * Shared by the live server's C hot path (hotloop.c) and the Pd external
 * (pd_externals/rlimpro_policy.c). onnxruntime is dlopen'ed from a path the caller gives, so
 * nothing is linked at build time. Header-only: each user compiles its own copy.
 *
 *   ort_policy p = {0};
 *   ort_policy_load(&p, library, model, error, sizeof error);   // session, live options
 *   ort_policy_metadata(&p, "n_params", text, sizeof text);     // metadata_props
 *   ort_policy_buffers b = {target, params, output, intent, calm, state, state_next, F, N, S};
 *   ort_policy_bind(&p, &b, error, sizeof error);               // IoBinding over the buffers
 *   ort_policy_run(&p);                                         // a warm-up: writes output (, state_next) only
 *   if (ort_policy_sane(b.target, F) && ort_policy_run(&p) == 0 && ort_policy_outputs_sane(&b))
 *       ort_policy_accept(&b);                                  // one decision: params (, state) move on
 *   ort_policy_close(&p);
 *
 * The optional inputs, the knobs `intent` [1, 1] and `calm` [1, 1] and the recurrent `state` [1, S]
 * (with the output `state_next`: give both or neither), are bound only when the caller gives
 * their buffers; a policy without them costs nothing more per run.
 */
#ifndef RLIMPRO_ORT_POLICY_H
#define RLIMPRO_ORT_POLICY_H

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "onnxruntime_c_api.h"

/* each user compiles its own copy and may leave some functions unused */
#define ORT_POLICY_API static __attribute__((unused))

/* the tensors a policy binds, in the order of ort_policy_buffers' pointers, and their names */
enum { ORT_TARGET, ORT_PARAMS, ORT_PARAMS_NEXT, ORT_INTENT, ORT_CALM, ORT_STATE, ORT_STATE_NEXT, ORT_N_TENSORS };
static const char *const ORT_POLICY_TENSORS[ORT_N_TENSORS] __attribute__((unused)) = {
    "target", "params", "params_next", "intent", "calm", "state", "state_next",
};

typedef struct {
    void *library;
    const OrtApi *api;
    OrtEnv *env;
    OrtSession *session;
    OrtIoBinding *binding;
    OrtRunOptions *run_options;
    OrtValue *values[ORT_N_TENSORS];
} ort_policy;

/* The caller's buffers, each one row of a [1, columns] tensor: target F, params N, output
 * (params_next) N, and for a policy with the optional inputs intent 1, calm 1, state S and
 * state_next S (NULL, and n_state 0, when it has none). */
typedef struct {
    float *target, *params, *output, *intent, *calm, *state, *state_next;
    int n_features, n_params, n_state;
} ort_policy_buffers;

ORT_POLICY_API int ort_policy_failed(const OrtApi *api, OrtStatus *status, char *error, size_t error_size) {
    if (status == NULL) return 0;
    snprintf(error, error_size, "%s", api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return 1;
}

/* Release everything (safe on a partly opened or zeroed policy); leaves it zeroed. */
ORT_POLICY_API void ort_policy_close(ort_policy *p) {
    if (p->api != NULL) {
        for (int i = 0; i < ORT_N_TENSORS; i++) if (p->values[i]) p->api->ReleaseValue(p->values[i]);
        if (p->binding) p->api->ReleaseIoBinding(p->binding);
        if (p->run_options) p->api->ReleaseRunOptions(p->run_options);
        if (p->session) p->api->ReleaseSession(p->session);
        if (p->env) p->api->ReleaseEnv(p->env);
    }
    if (p->library) dlclose(p->library);
    memset(p, 0, sizeof *p);
}

/* Load `model` with the onnxruntime library at `library`: one intra/inter-op thread, no
 * spinning, all graph optimisations (as rlimpro.live.policy.session_options). 0 on success;
 * else a message in `error`, `p` closed, and -2 if the library itself cannot be used, -1 if
 * the model cannot. */
ORT_POLICY_API int ort_policy_load(ort_policy *p, const char *library, const char *model, char *error, size_t error_size) {
    memset(p, 0, sizeof *p);
    p->library = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (p->library == NULL) {
        snprintf(error, error_size, "%s", dlerror());
        return -2;
    }
    const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(p->library, "OrtGetApiBase");
    if (get_base == NULL || (p->api = get_base()->GetApi(ORT_API_VERSION)) == NULL) {
        snprintf(error, error_size, "%s has no onnxruntime C API version %d", library, ORT_API_VERSION);
        ort_policy_close(p);
        return -2;
    }
    const OrtApi *api = p->api;
    OrtSessionOptions *options = NULL;
    int bad = ort_policy_failed(api, api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "rlimpro", &p->env), error, error_size)
        || ort_policy_failed(api, api->CreateSessionOptions(&options), error, error_size)
        || ort_policy_failed(api, api->SetIntraOpNumThreads(options, 1), error, error_size)
        || ort_policy_failed(api, api->SetInterOpNumThreads(options, 1), error, error_size)
        || ort_policy_failed(api, api->SetSessionExecutionMode(options, ORT_SEQUENTIAL), error, error_size)
        || ort_policy_failed(api, api->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL), error, error_size)
        || ort_policy_failed(api, api->AddSessionConfigEntry(options, "session.intra_op.allow_spinning", "0"), error, error_size)
        || ort_policy_failed(api, api->AddSessionConfigEntry(options, "session.inter_op.allow_spinning", "0"), error, error_size)
        || ort_policy_failed(api, api->CreateSession(p->env, model, options, &p->session), error, error_size)
        || ort_policy_failed(api, api->CreateRunOptions(&p->run_options), error, error_size);
    if (options) api->ReleaseSessionOptions(options);
    if (bad) ort_policy_close(p);
    return bad ? -1 : 0;
}

/* The metadata_props value of `key` into `out` (empty if absent). 0 if found, else -1. */
ORT_POLICY_API int ort_policy_metadata(ort_policy *p, const char *key, char *out, size_t out_size) {
    const OrtApi *api = p->api;
    OrtModelMetadata *meta = NULL;
    OrtAllocator *allocator = NULL;
    char *value = NULL, ignored[8];
    out[0] = '\0';
    if (ort_policy_failed(api, api->SessionGetModelMetadata(p->session, &meta), ignored, sizeof ignored)) return -1;
    int found = !ort_policy_failed(api, api->GetAllocatorWithDefaultOptions(&allocator), ignored, sizeof ignored)
        && !ort_policy_failed(api, api->ModelMetadataLookupCustomMetadataMap(meta, allocator, key, &value), ignored,
                              sizeof ignored)
        && value != NULL;
    if (found) {
        snprintf(out, out_size, "%s", value);
        OrtStatus *freed = api->AllocatorFree(allocator, value);
        if (freed) api->ReleaseStatus(freed);
    }
    api->ReleaseModelMetadata(meta);
    return found ? 0 : -1;
}

/* Bind every buffer `b` gives (target, params and params_next; intent, calm, state and state_next
 * when not NULL) as a [1, columns] tensor of the caller's memory: inputs by name (an optional input
 * the file backs with an initializer is overridden), outputs by name. 0 on success; else -1 and
 * a message in `error` (the session stays loaded). */
ORT_POLICY_API int ort_policy_bind(ort_policy *p, const ort_policy_buffers *b, char *error, size_t error_size) {
    const OrtApi *api = p->api;
    OrtMemoryInfo *memory = NULL;
    float *const buffers[ORT_N_TENSORS] = {b->target, b->params, b->output, b->intent, b->calm, b->state, b->state_next};
    const int columns[ORT_N_TENSORS] = {b->n_features, b->n_params, b->n_params, 1, 1, b->n_state, b->n_state};
    int bad = ort_policy_failed(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory), error, error_size)
        || ort_policy_failed(api, api->CreateIoBinding(p->session, &p->binding), error, error_size);
    for (int i = 0; i < ORT_N_TENSORS && !bad; i++) {
        if (buffers[i] == NULL) continue;
        int64_t shape[2] = {1, columns[i]};
        OrtValue **value = &p->values[i];
        __typeof__(api->BindInput) bind = i == ORT_PARAMS_NEXT || i == ORT_STATE_NEXT ? api->BindOutput : api->BindInput;
        bad = ort_policy_failed(api, api->CreateTensorWithDataAsOrtValue(memory, buffers[i], sizeof(float) * columns[i], shape,
                                                                          2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, value),
                                error, error_size)
            || ort_policy_failed(api, bind(p->binding, ORT_POLICY_TENSORS[i], *value), error, error_size);
    }
    if (memory) api->ReleaseMemoryInfo(memory);
    return bad ? -1 : 0;
}

/* Whether a frame of `count` values is usable: finite, with a Euclidean norm of at most 1e7
 * (rlimpro.live.policy.TARGET_LIMIT; NaN compares false). Checks targets and outputs alike. */
ORT_POLICY_API int ort_policy_sane(const float *values, int count) {
    double sum = 0.0;
    for (int i = 0; i < count; i++) sum += (double)values[i] * values[i];
    return sqrt(sum) <= 1e7;
}

/* Whether a run's outputs are usable: params_next and (if bound) state_next each sane. */
ORT_POLICY_API int ort_policy_outputs_sane(const ort_policy_buffers *b) {
    return ort_policy_sane(b->output, b->n_params) && (b->state_next == NULL || ort_policy_sane(b->state_next, b->n_state));
}

/* Take a decision's outputs as the new state: params = params_next (, state = state_next). */
ORT_POLICY_API void ort_policy_accept(const ort_policy_buffers *b) {
    memcpy(b->params, b->output, sizeof(float) * b->n_params);
    if (b->state != NULL) memcpy(b->state, b->state_next, sizeof(float) * b->n_state);
}

/* One run on the bound buffers. 0, or -1 on an onnxruntime error. */
ORT_POLICY_API int ort_policy_run(ort_policy *p) {
    OrtStatus *status = p->api->RunWithBinding(p->session, p->run_options, p->binding);
    if (status == NULL) return 0;
    p->api->ReleaseStatus(status);
    return -1;
}

#endif
