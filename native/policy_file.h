/* The rules of a policy.onnx file (docs/protocol.md) for every C host: where onnxruntime is,
 * which metadata_props a policy must carry and what its inputs and output must look like.
 *
 * The same rules, as strictly, as rlimpro.live.policy (`_parse_metadata`, `_check_io`): a file
 * one refuses, the other refuses too. Errors are one line naming what is wrong, ending
 * "; re-export it with `rlimpro export`"; the host puts the file's name in front. Header-only
 * (each user compiles its own copy), on top of ort_policy.h and descriptor_names.h.
 *
 *   ort_policy ort;
 *   policy_file_info info;
 *   if (policy_file_open(&ort, &info, RLIMPRO_ORT_LIBRARY, path, error, sizeof error) != 0)
 *       complain("%s: %s", name, error);                       // nothing left open
 *   ... buffers of info.n_features and info.n_params floats (and 1 intent = info.intent_default
 *       if info.has_intent, 1 calm = info.calm_default if info.has_calm, info.n_state state
 *       floats, zeros, and as many state_next if n_state); params = info.initial ...
 *   ort_policy_buffers b = {target, params, output, intent, calm, state, state_next, F, N, S};
 *   policy_file_knob(asked, b.intent);                         // a knob the host is asked to set
 *   policy_file_bind(&ort, &info, &b, error, sizeof error);    // + one warm-up run
 *   ort_policy_run(&ort);                                      // one decision (ort_policy.h)
 *   ort_policy_close(&ort); policy_file_info_free(&info);
 */
#ifndef RLIMPRO_POLICY_FILE_H
#define RLIMPRO_POLICY_FILE_H

#include <ctype.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "descriptor_names.h"
#include "ort_policy.h"

/* each user compiles its own copy and may leave some functions unused; PF_PRIVATE marks the
 * helpers (pf_*) a host need not call */
#define POLICY_FILE_API static __attribute__((unused))
#define PF_PRIVATE static __attribute__((unused))

/* the onnxruntime library a host was built against (its full path), "" if none */
#ifndef RLIMPRO_ORT_LIBRARY
#define RLIMPRO_ORT_LIBRARY ""
#endif

#define POLICY_FILE_FIX "re-export it with `rlimpro export`"

/* metadata_props every policy carries, then the optional ones (rlimpro.live.policy.REQUIRED_METADATA) */
enum { PF_VERSION, PF_SYNTH, PF_N_PARAMS, PF_PARAM_NAMES, PF_FEATURES, PF_ANALYSIS, PF_ALGO, PF_ACTION_SPACE,
       PF_STEP, PF_CORPUS, PF_N_REQUIRED, PF_INITIAL_PARAMS = PF_N_REQUIRED, PF_INTENT_DEFAULT, PF_CALM_DEFAULT,
       PF_STATE_SIZE, PF_N_KEYS };
static const char *const POLICY_FILE_KEYS[PF_N_KEYS] __attribute__((unused)) = {
    "rlimpro_version", "synth", "n_params", "param_names", "features", "analysis", "algo", "action_space",
    "step", "corpus", "initial_params", "intent_default", "calm_default", "state_size",
};

/* The knobs (rlimpro.live.policy.KNOBS): optional [batch, 1] inputs, one value in [-1, 1] each
 * that a host keeps (starting at metadata <knob>_default; a reset keeps it), in the order of
 * their inputs and metadata keys. */
enum { PF_INTENT, PF_CALM, PF_N_KNOBS };
static const char *const POLICY_FILE_KNOBS[PF_N_KNOBS] __attribute__((unused)) = {"intent", "calm"};

/* What a policy file says about itself, parsed and checked (rlimpro.live.policy.PolicyInfo). */
typedef struct {
    char *synth;                      /* metadata synth */
    char *features;                   /* the F descriptor names, comma-joined, in table order */
    int columns[RD_N_DESCRIPTORS];    /* where each of them sits in RD_NAMES */
    int n_features, n_params;         /* F and N */
    int sr, window, hop;              /* metadata analysis */
    double step;                      /* metadata step */
    float *initial;                   /* N params in [0, 1] to start from (0.5 each if the file has none) */
    int has_intent;                   /* an `intent` input [batch, 1] (metadata intent_default) */
    float intent_default;             /* where the intent starts, in [-1, 1] */
    int has_calm;                     /* a `calm` input [batch, 1] (metadata calm_default) */
    float calm_default;               /* where the calm starts, in [-1, 1] */
    int n_state;                      /* S of a recurrent `state` input [batch, S] (metadata state_size), else 0 */
} policy_file_info;

/* --- small helpers ------------------------------------------------------------------------- */

/* A one-line error "what; re-export it with `rlimpro export`" into `error`. Always -1. */
static int pf_fail(char *error, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4), unused));
static int pf_fail(char *error, size_t size, const char *format, ...) {
    va_list args;
    va_start(args, format);
    int n = vsnprintf(error, size, format, args);
    va_end(args);
    if (n >= 0 && (size_t)n < size) snprintf(error + n, size - (size_t)n, "; %s", POLICY_FILE_FIX);
    return -1;
}

/* Append `text` to the string in `out` (truncating at `size`). */
PF_PRIVATE void pf_append(char *out, size_t size, const char *text) {
    size_t used = strlen(out);
    if (used + 1 < size) snprintf(out + used, size - used, "%s", text);
}

/* `value` quoted as Python's repr() quotes a str, on one line, into `out`. Returns `out`. */
PF_PRIVATE char *pf_repr(const char *value, char *out, size_t size) {
    char quote = strchr(value, '\'') && !strchr(value, '"') ? '"' : '\'', piece[8];
    snprintf(out, size, "%c", quote);
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == quote || *c == '\\') snprintf(piece, sizeof piece, "\\%c", *c);
        else if (*c == '\n') snprintf(piece, sizeof piece, "\\n");
        else if (*c == '\r') snprintf(piece, sizeof piece, "\\r");
        else if (*c == '\t') snprintf(piece, sizeof piece, "\\t");
        else if (*c < 0x20 || *c == 0x7f) snprintf(piece, sizeof piece, "\\x%02x", *c);
        else snprintf(piece, sizeof piece, "%c", *c);
        pf_append(out, size, piece);
    }
    snprintf(piece, sizeof piece, "%c", quote);
    pf_append(out, size, piece);
    return out;
}

/* A malloc'ed copy of `text` (strdup, which strict C11 lacks); NULL if out of memory. */
PF_PRIVATE char *pf_copy(const char *text) {
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);
    return copy ? memcpy(copy, text, size) : NULL;
}

/* A stretch of text (not 0-terminated). */
typedef struct { const char *start; size_t length; } pf_span;

/* `span` without white space at either end (as Python's str.strip). */
PF_PRIVATE pf_span pf_strip(pf_span span) {
    while (span.length > 0 && isspace((unsigned char)span.start[0])) span.start++, span.length--;
    while (span.length > 0 && isspace((unsigned char)span.start[span.length - 1])) span.length--;
    return span;
}

/* The next comma-separated field of *at (as Python's str.split(",")), stripped; *at becomes
 * NULL after the last one. 0 when there was no field left. */
PF_PRIVATE int pf_field(const char **at, pf_span *field) {
    if (*at == NULL) return 0;
    const char *comma = strchr(*at, ',');
    pf_span raw = {*at, comma ? (size_t)(comma - *at) : strlen(*at)};
    *field = pf_strip(raw);
    *at = comma ? comma + 1 : NULL;
    return 1;
}

/* An integer as Python's int(str) reads one: white space around, a sign, digits with single
 * underscores between them. 0 on success (clamped to the range of long long), else -1. */
PF_PRIVATE int pf_int(pf_span text, long long *value) {
    pf_span s = pf_strip(text);
    size_t i = 0;
    int negative = 0, digits = 0;
    if (i < s.length && (s.start[i] == '+' || s.start[i] == '-')) negative = s.start[i++] == '-';
    long long v = 0;
    for (; i < s.length; i++) {
        char c = s.start[i];
        if (c == '_' && digits && i + 1 < s.length && isdigit((unsigned char)s.start[i + 1])) continue;
        if (!isdigit((unsigned char)c)) return -1;
        v = v > (LLONG_MAX - 9) / 10 ? LLONG_MAX : v * 10 + (c - '0');
        digits++;
    }
    if (!digits) return -1;
    *value = negative ? -v : v;
    return 0;
}

/* A number as Python's float(str) reads one (decimal, inf, nan; no hexadecimal). 0 on success,
 * else -1 (also for a field of more than 63 characters). */
PF_PRIVATE int pf_float(pf_span text, double *value) {
    pf_span s = pf_strip(text);
    char copy[64], *end;
    size_t n = 0;
    if (s.length == 0 || s.length >= sizeof copy) return -1;
    for (size_t i = 0; i < s.length; i++) {
        char c = s.start[i];
        if (c == 'x' || c == 'X' || c == '(') return -1;  /* strtod would take 0x1p3 and nan(...) */
        if (c == '_') {  /* Python allows single underscores between digits */
            if (i == 0 || i + 1 == s.length || !isdigit((unsigned char)s.start[i - 1])
                || !isdigit((unsigned char)s.start[i + 1])) return -1;
            continue;
        }
        copy[n++] = c;
    }
    copy[n] = '\0';
    *value = strtod(copy, &end);
    return end != copy && *end == '\0' ? 0 : -1;
}

/* --- JSON, as much as the analysis object needs (read as Python's json.loads reads it) --- */

typedef struct { const char *at; int depth; } pf_json;

PF_PRIVATE void pf_json_space(pf_json *j) {
    while (*j->at == ' ' || *j->at == '\t' || *j->at == '\n' || *j->at == '\r') j->at++;
}

/* A JSON string into `out` (escapes decoded; a non-ASCII \u escape becomes 0x80). 0 or -1. */
PF_PRIVATE int pf_json_string(pf_json *j, char *out, size_t size) {
    static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    if (*j->at != '"') return -1;
    for (j->at++;;) {
        unsigned char c = (unsigned char)*j->at++;
        if (c == '"') break;
        if (c < 0x20) return -1;  /* the end of the text, or a control character */
        if (c == '\\') {
            char e = *j->at++;
            if (e == 'u') {
                unsigned code = 0;
                for (int k = 0; k < 4; k++, j->at++) {
                    if (!isxdigit((unsigned char)*j->at)) return -1;
                    code = code * 16 + (unsigned)(isdigit((unsigned char)*j->at) ? *j->at - '0' : (tolower(*j->at) - 'a' + 10));
                }
                c = code > 0 && code < 0x80 ? (unsigned char)code : 0x80;
            } else if (e != '\0' && strchr(escapes, e)) {
                c = (unsigned char)decoded[strchr(escapes, e) - escapes];
            } else {
                return -1;
            }
        }
        if (n + 1 < size) out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/* A JSON number (Python also takes NaN, Infinity, -Infinity). 0 or -1. */
PF_PRIVATE int pf_json_number(pf_json *j, double *value) {
    const char *c = j->at + (*j->at == '-');
    if (strncmp(c, "Infinity", 8) == 0 || strncmp(j->at, "NaN", 3) == 0) {
        *value = *j->at == 'N' ? NAN : *j->at == '-' ? -INFINITY : INFINITY;
        j->at = *j->at == 'N' ? j->at + 3 : c + 8;
        return 0;
    }
    if (*c == '0') c++;
    else if (isdigit((unsigned char)*c)) while (isdigit((unsigned char)*c)) c++;
    else return -1;
    if (*c == '.' && isdigit((unsigned char)c[1])) for (c++; isdigit((unsigned char)*c);) c++;
    if (*c == 'e' || *c == 'E') {
        const char *e = c + 1 + (c[1] == '+' || c[1] == '-');
        if (isdigit((unsigned char)*e)) for (c = e; isdigit((unsigned char)*c);) c++;
    }
    /* strtod may read further than the JSON number ends (1.e5), but then the text is no JSON */
    *value = strtod(j->at, NULL);
    j->at = c;
    return 0;
}

static int pf_json_value(pf_json *j, int *kind, double *number, char *text, size_t size);

/* A JSON array or object, skipped. 0 or -1. */
PF_PRIVATE int pf_json_container(pf_json *j) {
    char close = *j->at == '[' ? ']' : '}', key[8];
    int kind;
    double number;
    if (++j->depth > 64) return -1;
    j->at++;
    pf_json_space(j);
    if (*j->at == close) { j->at++; j->depth--; return 0; }
    for (;;) {
        if (close == '}') {
            if (pf_json_string(j, key, sizeof key) != 0) return -1;
            pf_json_space(j);
            if (*j->at++ != ':') return -1;
            pf_json_space(j);
        }
        if (pf_json_value(j, &kind, &number, NULL, 0) != 0) return -1;
        pf_json_space(j);
        if (*j->at == close) { j->at++; j->depth--; return 0; }
        if (*j->at++ != ',') return -1;
        pf_json_space(j);
    }
}

/* One JSON value: `kind` is 'n' (a number, in `number`), 's' (a string, in `text` if given),
 * 't', 'f', 'z' (true, false, null) or 'c' (an array or object, skipped). 0 or -1. */
PF_PRIVATE int pf_json_value(pf_json *j, int *kind, double *number, char *text, size_t size) {
    static const char *const words[] = {"true", "false", "null"};
    char ignored[8];
    for (int w = 0; w < 3; w++) {
        if (strncmp(j->at, words[w], strlen(words[w])) == 0) {
            j->at += strlen(words[w]);
            *kind = "tfz"[w];
            return 0;
        }
    }
    if (*j->at == '"') {
        *kind = 's';
        return text ? pf_json_string(j, text, size) : pf_json_string(j, ignored, sizeof ignored);
    }
    if (*j->at == '[' || *j->at == '{') {
        *kind = 'c';
        return pf_json_container(j);
    }
    *kind = 'n';
    return pf_json_number(j, number);
}

/* A JSON value as Python's int() of it: a finite number (truncated), a string holding an
 * integer, true or false. 0 with the value in `out`, else -1. */
PF_PRIVATE int pf_json_int(pf_json *j, int *out) {
    char text[64];
    int kind;
    double number = 0.0;
    long long whole;
    if (pf_json_value(j, &kind, &number, text, sizeof text) != 0) return -2;  /* not JSON at all */
    if (kind == 't' || kind == 'f') { *out = kind == 't'; return 0; }
    if (kind == 's') {
        pf_span span = {text, strlen(text)};
        if (pf_int(span, &whole) != 0) return -1;
        number = (double)whole;
    } else if (kind != 'n' || !isfinite(number)) {
        return -1;
    }
    number = trunc(number);
    if (number < INT_MIN || number > INT_MAX) return -1;
    *out = (int)number;
    return 0;
}

/* The analysis object's integer sr, window and hop (values[0..2]). 0 if it is JSON with all
 * three (other keys are skipped, the last of a repeated key counts), else -1. */
PF_PRIVATE int pf_analysis(const char *text, int values[3]) {
    static const char *const keys[3] = {"sr", "window", "hop"};
    pf_json j = {text, 0};
    int found[3] = {0, 0, 0};
    char key[16];
    pf_json_space(&j);
    if (*j.at != '{') return -1;
    for (j.at++, pf_json_space(&j); *j.at != '}';) {
        if (pf_json_string(&j, key, sizeof key) != 0) return -1;
        pf_json_space(&j);
        if (*j.at++ != ':') return -1;
        pf_json_space(&j);
        int k = 0, value = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0) k++;
        if (k < 3) {
            int status = pf_json_int(&j, &value);
            if (status == -2) return -1;
            found[k] = status == 0;
            values[k] = value;
        } else {
            int kind;
            double ignored;
            if (pf_json_value(&j, &kind, &ignored, NULL, 0) != 0) return -1;
        }
        pf_json_space(&j);
        if (*j.at == ',') { j.at++; pf_json_space(&j); if (*j.at == '}') return -1; }
        else if (*j.at != '}') return -1;
    }
    j.at++;
    pf_json_space(&j);
    return *j.at == '\0' && found[0] && found[1] && found[2] ? 0 : -1;
}

/* --- metadata ------------------------------------------------------------------------------ */

/* The index of descriptor `name` in RD_NAMES, or -1. */
PF_PRIVATE int pf_descriptor(pf_span name) {
    for (int i = 0; i < RD_N_DESCRIPTORS; i++)
        if (strlen(RD_NAMES[i]) == name.length && memcmp(RD_NAMES[i], name.start, name.length) == 0) return i;
    return -1;
}

/* n_params and param_names into `info`. 0, or -1 with the error. */
PF_PRIVATE int pf_check_params(const char *const meta[], policy_file_info *info, char *error, size_t size) {
    char quoted[256];
    long long n;
    pf_span text = {meta[PF_N_PARAMS], strlen(meta[PF_N_PARAMS])}, field;
    if (pf_int(text, &n) != 0)
        return pf_fail(error, size, "metadata n_params=%s is not an integer", pf_repr(meta[PF_N_PARAMS], quoted, sizeof quoted));
    if (n < 1) return pf_fail(error, size, "metadata n_params=%lld must be at least 1", n);
    long long names = 0;
    for (const char *at = meta[PF_PARAM_NAMES]; pf_field(&at, &field);) names++;
    if (names != n) return pf_fail(error, size, "metadata param_names has %lld names, n_params says %lld", names, n);
    info->n_params = (int)n;  /* fits: there are as many names in the text */
    return 0;
}

/* features into `info` (names, columns, F). 0, or -1 with the error. */
PF_PRIVATE int pf_check_features(const char *features, policy_file_info *info, char *error, size_t size) {
    char unknown[512] = "";
    int n_unknown = 0, in_order = 1, last = -1;
    pf_span field;
    info->n_features = 0;
    for (const char *at = features; pf_field(&at, &field);) {
        int column = pf_descriptor(field);
        if (column < 0) {
            char name[128];
            snprintf(name, sizeof name, "%s%.*s", n_unknown++ ? ", " : "", (int)field.length, field.start);
            pf_append(unknown, sizeof unknown, name);
        } else if (column <= last) {
            in_order = 0;
        } else {
            info->columns[info->n_features++] = last = column;
        }
    }
    if (n_unknown) return pf_fail(error, size, "metadata features has unknown descriptor(s) %s", unknown);
    if (!in_order) return pf_fail(error, size, "metadata features are not unique names in table order (docs/descriptors.md)");
    size_t length = 1;
    for (int i = 0; i < info->n_features; i++) length += strlen(RD_NAMES[info->columns[i]]) + 1;
    if ((info->features = calloc(length, 1)) == NULL) return pf_fail(error, size, "out of memory");
    for (int i = 0; i < info->n_features; i++) {
        if (i) strcat(info->features, ",");
        strcat(info->features, RD_NAMES[info->columns[i]]);
    }
    return 0;
}

/* analysis and step into `info`. 0, or -1 with the error. */
PF_PRIVATE int pf_check_analysis(const char *const meta[], policy_file_info *info, char *error, size_t size) {
    char quoted[256];
    int values[3];
    pf_span step = {meta[PF_STEP], strlen(meta[PF_STEP])};
    if (pf_analysis(meta[PF_ANALYSIS], values) != 0)
        return pf_fail(error, size, "metadata analysis=%s is not JSON with sr, window, hop",
                       pf_repr(meta[PF_ANALYSIS], quoted, sizeof quoted));
    if (values[0] < 1 || values[1] < 1 || values[2] < 1)
        return pf_fail(error, size, "metadata analysis=%s has a non-positive value", pf_repr(meta[PF_ANALYSIS], quoted, sizeof quoted));
    info->sr = values[0], info->window = values[1], info->hop = values[2];
    if (pf_float(step, &info->step) != 0)
        return pf_fail(error, size, "metadata step=%s is not a number", pf_repr(meta[PF_STEP], quoted, sizeof quoted));
    return 0;
}

/* initial_params (optional) into `info`. 0, or -1 with the error. */
PF_PRIVATE int pf_check_initial(const char *text, policy_file_info *info, char *error, size_t size) {
    char quoted[256];
    int n = info->n_params, count = 0, in_range = 1;
    pf_span field;
    info->initial = malloc(sizeof(float) * (size_t)n);
    if (info->initial == NULL) return pf_fail(error, size, "out of memory");
    for (int i = 0; i < n; i++) info->initial[i] = 0.5f;
    if (text == NULL || pf_strip((pf_span){text, strlen(text)}).length == 0) return 0;
    for (const char *at = text; pf_field(&at, &field); count++) {
        double v;
        if (pf_float(field, &v) != 0)
            return pf_fail(error, size, "metadata initial_params=%s is not comma-joined numbers", pf_repr(text, quoted, sizeof quoted));
        in_range = in_range && v >= 0.0 && v <= 1.0;  /* NaN is out */
        if (count < n) info->initial[count] = (float)v;
    }
    if (count != n || !in_range)
        return pf_fail(error, size, "metadata initial_params needs %d values in [0, 1], got %s", n, pf_repr(text, quoted, sizeof quoted));
    return 0;
}

/* intent_default, calm_default and state_size (optional; the inputs they describe are checked
 * with the session's inputs) into `info`. 0, or -1 with the error. */
PF_PRIVATE int pf_check_optional(const char *const meta[], policy_file_info *info, char *error, size_t size) {
    char quoted[256];
    const int keys[PF_N_KNOBS] = {PF_INTENT_DEFAULT, PF_CALM_DEFAULT};
    int *const has[PF_N_KNOBS] = {&info->has_intent, &info->has_calm};
    float *const defaults[PF_N_KNOBS] = {&info->intent_default, &info->calm_default};
    long long state;
    for (int k = 0; k < PF_N_KNOBS; k++) {  /* in the order of rlimpro.live.policy.KNOBS */
        const char *value = meta[keys[k]];
        double number;
        if (value == NULL) continue;
        pf_span text = {value, strlen(value)};
        if (pf_float(text, &number) != 0 || !(number >= -1.0 && number <= 1.0))  /* NaN is out */
            return pf_fail(error, size, "metadata %s=%s is not a number in [-1, 1]", POLICY_FILE_KEYS[keys[k]],
                           pf_repr(value, quoted, sizeof quoted));
        *has[k] = 1;
        *defaults[k] = (float)number;
    }
    if (meta[PF_STATE_SIZE] != NULL) {  /* digits only (Python: str.strip().isdigit()), at least 1 */
        pf_span text = pf_strip((pf_span){meta[PF_STATE_SIZE], strlen(meta[PF_STATE_SIZE])});
        int digits = text.length > 0;
        for (size_t i = 0; i < text.length; i++) digits = digits && isdigit((unsigned char)text.start[i]);
        if (!digits || pf_int(text, &state) != 0 || state < 1)
            return pf_fail(error, size, "metadata state_size=%s is not a positive integer",
                           pf_repr(meta[PF_STATE_SIZE], quoted, sizeof quoted));
        info->n_state = state > INT_MAX ? INT_MAX : (int)state;  /* then no state input has as many columns */
    }
    return 0;
}

/* The value a host keeps for a knob (intent, calm) after being asked for `value`
 * (rlimpro.live.policy.Policy.set_knob): clipped to [-1, 1] into *knob; -1 (and *knob unchanged)
 * for NaN or inf. */
POLICY_FILE_API int policy_file_knob(double value, float *knob) {
    if (!isfinite(value)) return -1;
    *knob = (float)(value < -1.0 ? -1.0 : value > 1.0 ? 1.0 : value);
    return 0;
}

/* Free what `info` holds (safe on a zeroed or partly filled one); leaves it zeroed. */
POLICY_FILE_API void policy_file_info_free(policy_file_info *info) {
    free(info->synth);
    free(info->features);
    free(info->initial);
    memset(info, 0, sizeof *info);
}

/* Check the metadata_props in `meta` (indexed as POLICY_FILE_KEYS, NULL where absent) and fill
 * `info`, as rlimpro.live.policy._parse_metadata. 0, or -1 with `info` freed and the error. */
POLICY_FILE_API int policy_file_parse_metadata(const char *const meta[PF_N_KEYS], policy_file_info *info, char *error, size_t size) {
    char missing[512] = "";
    memset(info, 0, sizeof *info);
    for (int k = 0; k < PF_N_REQUIRED; k++) {
        if (meta[k] != NULL) continue;
        if (*missing) pf_append(missing, sizeof missing, ", ");
        pf_append(missing, sizeof missing, POLICY_FILE_KEYS[k]);
    }
    if (*missing) return pf_fail(error, size, "metadata_props lacks %s (not an rlimpro policy?)", missing);
    int bad = pf_check_params(meta, info, error, size) || pf_check_features(meta[PF_FEATURES], info, error, size)
        || pf_check_analysis(meta, info, error, size) || pf_check_initial(meta[PF_INITIAL_PARAMS], info, error, size)
        || pf_check_optional(meta, info, error, size);
    if (!bad && (info->synth = pf_copy(meta[PF_SYNTH])) == NULL) bad = pf_fail(error, size, "out of memory");
    if (bad) policy_file_info_free(info);
    return bad ? -1 : 0;
}

/* --- the session: metadata_props, inputs and output --------------------------------------- */

/* The metadata_props value of `key`, as a malloc'ed copy; NULL if absent. */
PF_PRIVATE char *pf_lookup(ort_policy *ort, OrtModelMetadata *meta, OrtAllocator *allocator, const char *key) {
    const OrtApi *api = ort->api;
    char *value = NULL, *copy = NULL, ignored[8];
    if (ort_policy_failed(api, api->ModelMetadataLookupCustomMetadataMap(meta, allocator, key, &value), ignored, sizeof ignored)
        || value == NULL) return NULL;
    copy = pf_copy(value);
    OrtStatus *freed = api->AllocatorFree(allocator, value);
    if (freed) api->ReleaseStatus(freed);
    return copy;
}

/* Read and check the session's metadata_props into `info`. 0, or -1 with the error. */
POLICY_FILE_API int policy_file_read_metadata(ort_policy *ort, policy_file_info *info, char *error, size_t size) {
    const OrtApi *api = ort->api;
    OrtModelMetadata *meta = NULL;
    OrtAllocator *allocator = NULL;
    char *values[PF_N_KEYS] = {0};
    memset(info, 0, sizeof *info);
    if (ort_policy_failed(api, api->GetAllocatorWithDefaultOptions(&allocator), error, size)
        || ort_policy_failed(api, api->SessionGetModelMetadata(ort->session, &meta), error, size))
        return -1;
    for (int k = 0; k < PF_N_KEYS; k++) values[k] = pf_lookup(ort, meta, allocator, POLICY_FILE_KEYS[k]);
    api->ReleaseModelMetadata(meta);
    int status = policy_file_parse_metadata((const char *const *)values, info, error, size);
    for (int k = 0; k < PF_N_KEYS; k++) free(values[k]);
    return status;
}

/* One input or output of the session, as _check_io sees it. */
typedef struct {
    char name[128];
    int tensor;        /* a tensor at all */
    int element;       /* ONNXTensorElementDataType */
    size_t rank;
    int64_t dims[8];   /* the first 8; -1 where dynamic */
    char symbols[8][32];
} pf_arg;

/* Element type names as onnxruntime's Python API prints them (tensor(...)). */
static const char *const PF_ELEMENTS[] __attribute__((unused)) = {
    "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool", "float16",
    "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
};

/* Where a session lists what a policy's graph takes and gives: its inputs, the initializers a
 * caller may override (an optional input the file backs with its default, as `rlimpro export`
 * writes intent and state), its outputs. */
enum { PF_INPUT, PF_OVERRIDABLE, PF_OUTPUT, PF_N_KINDS };

/* Describe `index` of the session's list `kind` (PF_INPUT...) into `arg`. 0, or -1 with the error. */
PF_PRIVATE int pf_describe(ort_policy *ort, int kind, size_t index, pf_arg *arg, char *error, size_t size) {
    const OrtApi *api = ort->api;
    __typeof__(api->SessionGetInputName) const get_name[PF_N_KINDS] = {
        api->SessionGetInputName, api->SessionGetOverridableInitializerName, api->SessionGetOutputName};
    __typeof__(api->SessionGetInputTypeInfo) const get_type[PF_N_KINDS] = {
        api->SessionGetInputTypeInfo, api->SessionGetOverridableInitializerTypeInfo, api->SessionGetOutputTypeInfo};
    OrtAllocator *allocator = NULL;
    OrtTypeInfo *type = NULL;
    const OrtTensorTypeAndShapeInfo *tensor = NULL;
    char *name = NULL;
    enum ONNXType onnx_type = ONNX_TYPE_UNKNOWN;
    const char *symbols[8] = {0};
    memset(arg, 0, sizeof *arg);
    int bad = ort_policy_failed(api, api->GetAllocatorWithDefaultOptions(&allocator), error, size)
        || ort_policy_failed(api, get_name[kind](ort->session, index, allocator, &name), error, size)
        || ort_policy_failed(api, get_type[kind](ort->session, index, &type), error, size)
        || ort_policy_failed(api, api->GetOnnxTypeFromTypeInfo(type, &onnx_type), error, size);
    if (name) {
        snprintf(arg->name, sizeof arg->name, "%s", name);
        OrtStatus *freed = api->AllocatorFree(allocator, name);
        if (freed) api->ReleaseStatus(freed);
    }
    arg->tensor = !bad && onnx_type == ONNX_TYPE_TENSOR;
    if (arg->tensor) {
        enum ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
        bad = ort_policy_failed(api, api->CastTypeInfoToTensorInfo(type, &tensor), error, size) || tensor == NULL
            || ort_policy_failed(api, api->GetTensorElementType(tensor, &element), error, size)
            || ort_policy_failed(api, api->GetDimensionsCount(tensor, &arg->rank), error, size);
        size_t kept = arg->rank < 8 ? arg->rank : 8;
        bad = bad || ort_policy_failed(api, api->GetDimensions(tensor, arg->dims, kept), error, size)
            || ort_policy_failed(api, api->GetSymbolicDimensions(tensor, symbols, kept), error, size);
        for (size_t d = 0; !bad && d < kept; d++) snprintf(arg->symbols[d], sizeof arg->symbols[d], "%s", symbols[d] ? symbols[d] : "");
        arg->element = (int)element;
    }
    if (type) api->ReleaseTypeInfo(type);
    return bad ? -1 : 0;
}

/* Dimension `d` of `arg` as Python prints it: the number, else the symbol (in quotes if
 * `quoted`, as in a list), else None. */
PF_PRIVATE const char *pf_dim(const pf_arg *arg, size_t d, int quoted, char *out, size_t size) {
    if (arg->dims[d] >= 0) snprintf(out, size, "%lld", (long long)arg->dims[d]);
    else if (arg->symbols[d][0]) snprintf(out, size, quoted ? "'%s'" : "%s", arg->symbols[d]);
    else snprintf(out, size, "None");
    return out;
}

/* The checks of _check_io on one tensor that should be float [batch, columns]. 0 or -1. */
PF_PRIVATE int pf_check_tensor(const pf_arg *arg, int columns, char *error, size_t size) {
    char shape[256] = "[", dim[48];
    if (!arg->tensor) return pf_fail(error, size, "'%s' is not a tensor, expected tensor(float)", arg->name);
    if (arg->element != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        int known = arg->element >= 0 && arg->element < (int)(sizeof PF_ELEMENTS / sizeof *PF_ELEMENTS);
        return pf_fail(error, size, "'%s' is tensor(%s), expected tensor(float)", arg->name, known ? PF_ELEMENTS[arg->element] : "?");
    }
    if (arg->rank != 2) {
        for (size_t d = 0; d < arg->rank && d < 8; d++) {
            if (d) pf_append(shape, sizeof shape, ", ");
            pf_append(shape, sizeof shape, pf_dim(arg, d, 1, dim, sizeof dim));
        }
        pf_append(shape, sizeof shape, arg->rank > 8 ? ", ...]" : "]");
        return pf_fail(error, size, "'%s' has shape %s, expected [batch, %d]", arg->name, shape, columns);
    }
    if (arg->dims[1] != columns)
        return pf_fail(error, size, "'%s' has %s columns, metadata says %d", arg->name, pf_dim(arg, 1, 0, dim, sizeof dim), columns);
    if (arg->dims[0] >= 0 && arg->dims[0] != 1 && strcmp(arg->name, "target") == 0)
        return pf_fail(error, size, "'%s' has a fixed batch of %lld, expected a dynamic batch or 1", arg->name, (long long)arg->dims[0]);
    return 0;
}

PF_PRIVATE int pf_by_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* `names` as Python prints a list of str: ['a', 'b']. */
PF_PRIVATE char *pf_list(const char *const names[], size_t count, char *out, size_t size) {
    snprintf(out, size, "[");
    for (size_t i = 0; i < count; i++) {
        pf_append(out, size, i ? ", '" : "'");
        pf_append(out, size, names[i]);
        pf_append(out, size, "'");
    }
    pf_append(out, size, "]");
    return out;
}

/* Whether `name` is one of `names` (count of them). */
PF_PRIVATE int pf_among(const char *name, const char *const names[], size_t count) {
    for (size_t i = 0; i < count; i++) if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

/* Whether the names of `args` are all the `required` ones and any of the `optional` ones (in any
 * order; a session's names are unique); else -1 and the error "<what> are ['a', 'b'], expected
 * <expected>". */
PF_PRIVATE int pf_check_names(const pf_arg *args, size_t count, const char *const required[], size_t n_required,
                              const char *const optional[], size_t n_optional, const char *expected, const char *what,
                              char *error, size_t size) {
    char got[512];
    size_t found = 0;
    int known = 1;
    for (size_t i = 0; i < count; i++) {
        if (pf_among(args[i].name, required, n_required)) found++;
        else known = known && pf_among(args[i].name, optional, n_optional);
    }
    if (known && found == n_required) return 0;
    const char **names = malloc(sizeof *names * (count + 1));
    if (names == NULL) return pf_fail(error, size, "out of memory");
    for (size_t i = 0; i < count; i++) names[i] = args[i].name;
    qsort(names, count, sizeof *names, pf_by_name);
    pf_list(names, count, got, sizeof got);
    free(names);
    return pf_fail(error, size, "%s are %s, expected %s", what, got, expected);
}

/* Every input (the session's inputs, then its overridable initializers: counts[0] and counts[1]
 * of them), then every output (counts[2]); NULL with the error. The caller frees the array. */
PF_PRIVATE pf_arg *pf_describe_all(ort_policy *ort, size_t counts[PF_N_KINDS], char *error, size_t size) {
    const OrtApi *api = ort->api;
    if (ort_policy_failed(api, api->SessionGetInputCount(ort->session, &counts[PF_INPUT]), error, size)
        || ort_policy_failed(api, api->SessionGetOverridableInitializerCount(ort->session, &counts[PF_OVERRIDABLE]), error, size)
        || ort_policy_failed(api, api->SessionGetOutputCount(ort->session, &counts[PF_OUTPUT]), error, size))
        return NULL;
    pf_arg *args = calloc(counts[0] + counts[1] + counts[2] + 1, sizeof *args);  /* + 1: never calloc(0) */
    if (args == NULL) { pf_fail(error, size, "out of memory"); return NULL; }
    pf_arg *arg = args;
    for (int kind = 0; kind < PF_N_KINDS; kind++)
        for (size_t i = 0; i < counts[kind]; i++, arg++)
            if (pf_describe(ort, kind, i, arg, error, size) != 0) { free(args); return NULL; }
    return args;
}

/* Whether `name` is among the first `count` of `args`. */
PF_PRIVATE int pf_has(const pf_arg *args, size_t count, const char *name) {
    for (size_t i = 0; i < count; i++) if (strcmp(args[i].name, name) == 0) return 1;
    return 0;
}

/* The columns tensor `name` must have: F for target, N for params and params_next, 1 for
 * a knob (intent, calm), S for state and state_next. */
PF_PRIVATE int pf_columns(const char *name, const policy_file_info *info) {
    if (strcmp(name, "target") == 0) return info->n_features;
    if (pf_among(name, POLICY_FILE_KNOBS, PF_N_KNOBS)) return 1;
    if (strcmp(name, "state") == 0 || strcmp(name, "state_next") == 0) return info->n_state;
    return info->n_params;
}

/* Inputs target, params and optionally intent, calm and state (plain inputs or overridable
 * initializers alike), each knob iff its metadata <knob>_default, state iff metadata state_size;
 * outputs exactly params_next, and state_next iff state is an input; all float [batch,
 * F|N|1|1|S|N|S] with target's batch dynamic or 1; as rlimpro.live.policy._check_io. 0, or -1
 * with the error. */
POLICY_FILE_API int policy_file_check_io(ort_policy *ort, const policy_file_info *info, char *error, size_t size) {
    static const char *const required[] = {"target", "params"}, *const optional[] = {"intent", "calm", "state"},
                      *const outputs[] = {"params_next", "state_next"};
    const int has_knob[PF_N_KNOBS] = {info->has_intent, info->has_calm};
    char expected[128];
    size_t counts[PF_N_KINDS] = {0, 0, 0};
    pf_arg *args = pf_describe_all(ort, counts, error, size);
    if (args == NULL) return -1;
    size_t n_inputs = counts[PF_INPUT] + counts[PF_OVERRIDABLE], n_outputs = counts[PF_OUTPUT];
    int state = pf_has(args, n_inputs, "state");
    int bad = pf_check_names(args, n_inputs, required, 2, optional, 3,
                             "target, params (and optionally intent, calm, state)", "inputs", error, size)
        || pf_check_names(args + n_inputs, n_outputs, outputs, state ? 2 : 1, NULL, 0,
                          pf_list(outputs, state ? 2 : 1, expected, sizeof expected), "outputs", error, size);
    for (int k = 0; k < PF_N_KNOBS && !bad; k++) {  /* in the order of rlimpro.live.policy.KNOBS */
        const char *knob = POLICY_FILE_KNOBS[k];
        if (pf_has(args, n_inputs, knob) != has_knob[k])
            bad = pf_fail(error, size, "an input '%s' needs metadata %s_default, and only such an input has it", knob,
                          knob);
    }
    if (!bad && state != (info->n_state > 0))
        bad = pf_fail(error, size, "a state input needs metadata state_size, and only a state input has it");
    for (size_t i = 0; i < n_inputs + n_outputs && !bad; i++)  /* in the session's order, as _check_io */
        bad = pf_check_tensor(args + i, pf_columns(args[i].name, info), error, size);
    free(args);
    return bad ? -1 : 0;
}

/* --- opening a policy --------------------------------------------------------------------- */

/* Load `model` with the first usable onnxruntime: `library` (a host's built-in path, may be ""
 * or NULL), then $VIRTUAL_ENV's onnxruntime wheel, then the system's loader. 0 on success;
 * else `ort` closed, the error, and -2 if no onnxruntime could be loaded, -1 if the model could
 * not ("not a loadable ONNX model (...)"). */
POLICY_FILE_API int policy_file_load(ort_policy *ort, const char *library, const char *model, char *error, size_t size) {
    char pattern[4096];
    const char *candidates[64];
    int n = 0, status = -2;
    const char *venv = getenv("VIRTUAL_ENV");
    glob_t found = {0};
    if (library != NULL && *library) candidates[n++] = library;
    if (venv != NULL && *venv) {
        snprintf(pattern, sizeof pattern, "%s/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*", venv);
        if (glob(pattern, 0, NULL, &found) == 0)  /* the highest version first */
            for (size_t i = found.gl_pathc; i-- > 0 && n < 60;) candidates[n++] = found.gl_pathv[i];
    }
    candidates[n++] = "libonnxruntime.so";
    candidates[n++] = "libonnxruntime.so.1";
    for (int i = 0; i < n && status == -2; i++) status = ort_policy_load(ort, candidates[i], model, error, size);
    globfree(&found);
    if (status == -2)
        snprintf(error, size, "cannot find onnxruntime (not at the path built in, not under $VIRTUAL_ENV, not in "
                 "the system's library paths)");
    if (status == -1) {  /* as rlimpro.live.policy: the first line of onnxruntime's message, 160 characters */
        char first[161];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(error, "\r\n"), error);
        snprintf(error, size, "not a loadable ONNX model (%s)", first);
    }
    return status;
}

/* Open the policy file at `path` and check it all (see policy_file_load for `library`): on
 * success 0, a session in `ort` and the file's details in `info`; else nothing left open (`ort`
 * and `info` zeroed), a one-line error, and -2 if no onnxruntime could be loaded (the host may
 * add how to point it at one), else -1. */
POLICY_FILE_API int policy_file_open(ort_policy *ort, policy_file_info *info, const char *library, const char *path,
                                     char *error, size_t size) {
    struct stat st;
    memset(ort, 0, sizeof *ort);
    memset(info, 0, sizeof *info);
    int status = -1;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        snprintf(error, size, "no such policy file; export one with `rlimpro export`");
    else if ((status = policy_file_load(ort, library, path, error, size)) == 0
             && (policy_file_read_metadata(ort, info, error, size) != 0 || policy_file_check_io(ort, info, error, size) != 0)) {
        policy_file_info_free(info);
        ort_policy_close(ort);
        status = -1;
    }
    for (char *c = error; status != 0 && *c; c++) if (*c == '\n' || *c == '\r') *c = ' ';
    return status;
}

/* Bind the caller's buffers `b` (target [1, F], params [1, N] and params_next [1, N]; intent
 * [1, 1] if info->has_intent; calm [1, 1] if info->has_calm; state and state_next [1, S] if
 * info->n_state; ort_policy_bind) and run once (a warm-up, so that the first live decision is
 * not slower than the rest; it writes `output` and `state_next` only). 0, or -1 with the error
 * (the session stays open). */
POLICY_FILE_API int policy_file_bind(ort_policy *ort, const policy_file_info *info, const ort_policy_buffers *b,
                                     char *error, size_t size) {
    char why[512];
    const OrtApi *api = ort->api;
    if (ort_policy_bind(ort, b, why, sizeof why) != 0
        || ort_policy_failed(api, api->RunWithBinding(ort->session, ort->run_options, ort->binding), why, sizeof why)) {
        why[strcspn(why, "\r\n")] = '\0';
        return pf_fail(error, size, "a first decision on target [1, %d] and params [1, %d] failed (%.160s)",
                       info->n_features, info->n_params, why);
    }
    return 0;
}

#endif
