/* A policy.onnx (DESIGN.md §6) in onnxruntime's C API, bound to the caller's float buffers.
 *
 * Shared by the live server's C hot path (hotloop.c) and the Pd external
 * (pd_externals/rlimpro_policy.c). onnxruntime is dlopen'ed from a path the caller gives, so
 * nothing is linked at build time. Header-only: each user compiles its own copy.
 *
 *   ort_policy p = {0};
 *   ort_policy_load(&p, library, model, error, sizeof error);   // session, live options
 *   ort_policy_metadata(&p, "n_params", text, sizeof text);     // metadata_props
 *   ort_policy_bind(&p, target, params, output, F, N, ...);     // IoBinding over the buffers
 *   ort_policy_run(&p);                                         // output = model(target, params)
 *   ort_policy_close(&p);
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

typedef struct {
    void *library;
    const OrtApi *api;
    OrtEnv *env;
    OrtSession *session;
    OrtIoBinding *binding;
    OrtRunOptions *run_options;
    OrtValue *values[3];
} ort_policy;

ORT_POLICY_API int ort_policy_failed(const OrtApi *api, OrtStatus *status, char *error, size_t error_size) {
    if (status == NULL) return 0;
    snprintf(error, error_size, "%s", api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return 1;
}

/* Release everything (safe on a partly opened or zeroed policy); leaves it zeroed. */
ORT_POLICY_API void ort_policy_close(ort_policy *p) {
    if (p->api != NULL) {
        for (int i = 0; i < 3; i++) if (p->values[i]) p->api->ReleaseValue(p->values[i]);
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

/* Bind target [1,F], params [1,N] and params_next [1,N] to the caller's buffers. 0 on success;
 * else -1 and a message in `error` (the session stays loaded). */
ORT_POLICY_API int ort_policy_bind(ort_policy *p, float *target, float *params, float *output, int n_features, int n_params,
                           char *error, size_t error_size) {
    const OrtApi *api = p->api;
    OrtMemoryInfo *memory = NULL;
    int64_t target_shape[2] = {1, n_features}, params_shape[2] = {1, n_params};
    int bad = ort_policy_failed(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory), error, error_size)
        || ort_policy_failed(api, api->CreateTensorWithDataAsOrtValue(memory, target, sizeof(float) * n_features, target_shape, 2,
                                                                       ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &p->values[0]), error, error_size)
        || ort_policy_failed(api, api->CreateTensorWithDataAsOrtValue(memory, params, sizeof(float) * n_params, params_shape, 2,
                                                                       ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &p->values[1]), error, error_size)
        || ort_policy_failed(api, api->CreateTensorWithDataAsOrtValue(memory, output, sizeof(float) * n_params, params_shape, 2,
                                                                       ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &p->values[2]), error, error_size)
        || ort_policy_failed(api, api->CreateIoBinding(p->session, &p->binding), error, error_size)
        || ort_policy_failed(api, api->BindInput(p->binding, "target", p->values[0]), error, error_size)
        || ort_policy_failed(api, api->BindInput(p->binding, "params", p->values[1]), error, error_size)
        || ort_policy_failed(api, api->BindOutput(p->binding, "params_next", p->values[2]), error, error_size);
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

/* One run on the bound buffers. 0, or -1 on an onnxruntime error. */
ORT_POLICY_API int ort_policy_run(ort_policy *p) {
    OrtStatus *status = p->api->RunWithBinding(p->session, p->run_options, p->binding);
    if (status == NULL) return 0;
    p->api->ReleaseStatus(status);
    return -1;
}

#endif
