/* The live server's hot path in C (optional; `make hotloop` builds rlimpro/live/_hotloop.so).
 *
 * rlimpro/live/hotloop.py loads this library with ctypes and calls hl_serve() with the GIL
 * released. hl_serve() answers well-formed /rlimpro/target messages by itself: blocking recv
 * into the server's buffer, big-endian floats into the policy's target buffer, one onnxruntime
 * run through an IoBinding over the policy's own numpy buffers (so Python and C share one
 * parameter state, the knobs intent and calm, and the recurrent state; Python sets the knobs),
 * the same norm checks as Policy.decide (on params_next and any state_next), the reply packet,
 * sendto. Any other
 * datagram (reset, ping, bundles, bad counts, garbage, the stop wake-up) returns to Python,
 * which handles it exactly as the pure-Python server does. Between frames it runs the model
 * every warm_us to keep the caches warm, as Server does (a warm run never advances the recurrent
 * state); while packets stream closer together than that it waits without a timeout. Ctrl-C
 * (SIGINT) reaches it only while it waits, so it is never lost between two waits.
 *
 * onnxruntime is dlopen'ed from the path Python gives (the wheel's capi/libonnxruntime.so.*)
 * by ort_policy.h, so nothing is linked at build time; the C API headers come from
 * tools/fetch-ort-headers.sh.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include "ort_policy.h"

/* counter indices: the order of rlimpro.live.server.COUNTERS */
enum { RECEIVED, TARGETS, SENT, RESETS, PINGS, BUNDLES, MALFORMED, OVERSIZE, WRONG_COUNT,
       WRONG_TYPE, BAD_VALUE, UNKNOWN_ADDRESS, BAD_OUTPUT, SOCKET_ERRORS, WARMUPS, N_COUNTERS };


typedef struct {
    ort_policy ort;
    ort_policy_buffers b; /* the policy's buffers */
} hl_policy;

void hl_close(hl_policy *p) {
    if (p == NULL) return;
    ort_policy_close(&p->ort);
    free(p);
}

/* Load `model` with the onnxruntime at `library` and bind the caller's buffers: target [1,F],
 * params [1,N], params_next [1,N], and for a policy with the optional inputs intent [1,1], calm
 * [1,1], state [1,S] and state_next [1,S] (NULL, and n_state 0, when it has none). Returns NULL
 * with a message in `error` on failure. */
hl_policy *hl_open(const char *library, const char *model, float *target, float *params, float *output,
                   float *intent, float *calm, float *state, float *state_next, int n_features, int n_params,
                   int n_state, char *error, size_t error_size) {
    hl_policy *p = calloc(1, sizeof *p);
    if (p == NULL) { snprintf(error, error_size, "out of memory"); return NULL; }
    p->b = (ort_policy_buffers){target, params, output, intent, calm, state, state_next, n_features, n_params, n_state};
    if (ort_policy_load(&p->ort, library, model, error, error_size) != 0
        || ort_policy_bind(&p->ort, &p->b, error, error_size) != 0) {
        hl_close(p);
        return NULL;
    }
    return p;
}

/* One run of the model on the bound buffers (no state change: it writes params_next and
 * state_next only). Returns 0, or -1 on an error. */
int hl_run(hl_policy *p) { return ort_policy_run(&p->ort); }

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Copy `count` 32-bit floats between OSC (big-endian) and native order; either way round. */
static void swap_floats(void *dst, const void *src, int count) {
    for (int i = 0; i < count; i++) {
        uint32_t v;
        memcpy(&v, (const unsigned char *)src + 4 * i, 4);
        v = __builtin_bswap32(v);
        memcpy((unsigned char *)dst + 4 * i, &v, 4);
    }
}

/* Wait until a datagram is queued, at most `limit` (NULL: no limit), with the caller's signal mask
 * `deliverable` in force: a Ctrl-C that arrived while the loop was computing (blocked since) is
 * delivered here at once. Returns 1 (queued), 0 (timed out) or -errno (e.g. -EINTR). */
static int wait_readable(int fd, const struct timespec *limit, const sigset_t *deliverable) {
    struct pollfd waiting = {fd, POLLIN, 0};
    int ready = ppoll(&waiting, 1, limit, deliverable);
    return ready < 0 ? -errno : ready;
}

static long serve_loop(hl_policy *p, int fd, const struct sockaddr_in *reply, unsigned char *buffer,
                       long buffer_size, const unsigned char *prefix, long prefix_size, unsigned char *packet,
                       long packet_size, int64_t *counters, int64_t *times, int64_t ring, int64_t *n_timed,
                       int warm_us, const sigset_t *deliverable) {
    const ort_policy_buffers *b = &p->b;
    const long size = prefix_size + 4L * b->n_features;
    const int nf = b->n_features, np = b->n_params;
    unsigned char *out = packet + packet_size - 4L * np;
    const int64_t gap_ns = (int64_t)warm_us * 1000;
    const struct timespec gap = {gap_ns / 1000000000, gap_ns % 1000000000};
    int64_t last = 0;
    int streaming = 0;
    for (;;) {
        long n = recv(fd, buffer, buffer_size, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* nothing queued: wait (at most warm_us between frames, then warm the model) */
            int ready = wait_readable(fd, gap_ns && !streaming ? &gap : NULL, deliverable);
            if (ready == 0) { hl_run(p); counters[WARMUPS]++; }
            if (ready < 0) return ready;
            continue;
        }
        if (n < 0) return -errno;
        int64_t t0 = now_ns();
        if (gap_ns) { streaming = t0 - last < gap_ns; }
        last = t0;
        if (n != size || memcmp(buffer, prefix, prefix_size) != 0) return n;
        counters[RECEIVED]++;
        counters[TARGETS]++;
        swap_floats(b->target, buffer + prefix_size, nf);
        int64_t *time_slot = &times[*n_timed & (ring - 1)];
        ++*n_timed;
        if (!ort_policy_sane(b->target, nf)) {
            counters[BAD_VALUE]++;
            *time_slot = now_ns() - t0;
        } else if (hl_run(p) != 0 || !ort_policy_outputs_sane(b)) {
            counters[BAD_OUTPUT]++;
            *time_slot = now_ns() - t0;
        } else {
            ort_policy_accept(b); /* params (and any recurrent state) move on */
            swap_floats(out, b->output, np);
            *time_slot = now_ns() - t0; /* before the send: on a shared CPU it can include the host's turn */
            if (sendto(fd, packet, packet_size, 0, (const struct sockaddr *)reply, sizeof *reply) == packet_size)
                counters[SENT]++;
            else
                counters[SOCKET_ERRORS]++;
        }
    }
}

/* Serve until a datagram that is not a well-formed target arrives; return its size (it is in
 * `buffer`), or -errno when waiting or recv fails (e.g. -EINTR on a signal). `prefix`/`prefix_size`:
 * the target message's address and type tags; `packet`/`packet_size`: the preallocated reply, its
 * floats at the end; `times`: a ring of `ring` handling times in ns (ring a power of two),
 * `*n_timed` counts them; `counters`: N_COUNTERS int64s.
 *
 * SIGINT is blocked while the loop computes and deliverable (as the caller had it) only while it
 * waits, so a Ctrl-C that lands between two waits ends the next wait at once instead of being
 * handled unseen and leaving the loop asleep until the next datagram. */
long hl_serve(hl_policy *p, int fd, const struct sockaddr_in *reply, unsigned char *buffer, long buffer_size,
              const unsigned char *prefix, long prefix_size, unsigned char *packet, long packet_size,
              int64_t *counters, int64_t *times, int64_t ring, int64_t *n_timed, int warm_us) {
    sigset_t interrupt, caller;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    pthread_sigmask(SIG_BLOCK, &interrupt, &caller);
    long result = serve_loop(p, fd, reply, buffer, buffer_size, prefix, prefix_size, packet, packet_size,
                             counters, times, ring, n_timed, warm_us, &caller);
    pthread_sigmask(SIG_SETMASK, &caller, NULL); /* a Ctrl-C still pending is delivered here */
    return result;
}
