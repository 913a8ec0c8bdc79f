/*
 * Runs the shared conformance cases (the .cases files in tests/conformance, format in
 * tests/conformance/README.md) through the C ABI.
 *
 * Usage: conformance DIR_OR_FILE...
 * Prints one line per failing case and "N passed, M failed"; exits non-zero on any failure.
 *
 * Values are compared as tests/conformance/README.md ("Comparing") says: hit values within the
 * bound on their line (near ties in either order), a normalize store's rows within one float32
 * ulp, a raw store's rows exactly. Every OK search is also repeated as a one-query
 * nvs_store_search_batch and with two worker threads: nvs computes all three, so they must give
 * bit-identical hits.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nvs.h"

/* A `hit` line: the row, id and value the reference returned, and the value's bound. */
typedef struct {
    size_t index;
    uint64_t id;
    double value;
    double bound;
} expected_hit;

typedef struct {
    const char *file;
    long line;
    char name[256];
    nvs_store *store;
    int failed;
    int open;
    /* The last OK search and the `hit` lines that follow it, compared when they end. */
    nvs_hit *hits;
    size_t hits_len;
    expected_hit *want;
    size_t want_len, want_cap;
    long search_line;
    int in_search;
} runner;

static size_t g_passed, g_failed;

static void fail(runner *r, const char *fmt, ...) {
    if (r->failed) return; /* report the first problem of a case only */
    r->failed = 1;
    fprintf(stderr, "FAIL %s:%ld case %s: ", r->file, r->line, r->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- token helpers ------------------------------------------------------------------ */

typedef struct {
    char **tok;
    size_t n, pos;
} tokens;

static const char *next(runner *r, tokens *t) {
    if (t->pos >= t->n) {
        fail(r, "line ends early");
        return NULL;
    }
    return t->tok[t->pos++];
}

static int parse_u64(runner *r, tokens *t, uint64_t *out) {
    const char *s = next(r, t);
    if (!s) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-') {
        fail(r, "bad integer '%s'", s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

static int parse_size(runner *r, tokens *t, size_t *out) {
    uint64_t v;
    if (!parse_u64(r, t, &v)) return 0;
    if ((uint64_t)(size_t)v != v) {
        fail(r, "integer %llu does not fit in size_t", (unsigned long long)v);
        return 0;
    }
    *out = (size_t)v;
    return 1;
}

static int parse_double(runner *r, tokens *t, double *out) {
    const char *s = next(r, t);
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end); /* accepts nan, inf, -inf */
    if (*end || end == s) {
        fail(r, "bad number '%s'", s);
        return 0;
    }
    *out = v;
    return 1;
}

/* Parse COUNT floats into a fresh buffer (never NULL, even for COUNT 0). */
static float *parse_floats(runner *r, tokens *t, size_t count) {
    float *v = malloc((count ? count : 1) * sizeof *v);
    if (!v) {
        fail(r, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        double d;
        if (!parse_double(r, t, &d)) {
            free(v);
            return NULL;
        }
        v[i] = (float)d;
    }
    return v;
}

/* A float's position among all floats (-0 and +0 share one), so that two floats are
 * |ordered(a) - ordered(b)| ulps apart. */
static int64_t ordered(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

/* A stored value: exact in a raw store; within one ulp in a normalize store, where the unit
 * row float32(x / |x|) may round its last bit either way. */
static int same_stored_value(float got, float want, int normalize) {
    if (isnan(got) || isnan(want)) return 0;
    int64_t d = ordered(got) - ordered(want);
    return (d < 0 ? -d : d) <= (normalize ? 1 : 0);
}

/* Compare a returned status with the expected name; on an error also require a message. */
static int check_status(runner *r, const char *what, nvs_status got, const char *want) {
    const char *name = nvs_status_name(got);
    if (strcmp(name, want) != 0) {
        fail(r, "%s returned %s (%s), expected %s", what, name,
             got == NVS_STATUS_OK ? "" : nvs_last_error_message(), want);
        return 0;
    }
    if (got != NVS_STATUS_OK && nvs_last_error_message()[0] == '\0') {
        fail(r, "%s returned %s without an error message", what, name);
        return 0;
    }
    return 1;
}

static int need_store(runner *r) {
    if (!r->store) fail(r, "no store (missing or failed `store` line)");
    return r->store != NULL;
}

/* ---- line handlers ------------------------------------------------------------------ */

/* The search must return exactly the expected rows, with their ids, each value within its
 * bound; two hits may come in the other order only when they are a near tie: a positive sum of
 * bounds, and listed values at most that far apart. */
static void check_hits(runner *r) {
    size_t n = r->want_len;
    if (r->hits_len != n) {
        fail(r, "search returned %zu hits, expected %zu", r->hits_len, n);
        return;
    }
    size_t *pos = malloc((n ? n : 1) * sizeof *pos); /* expected position of each hit */
    unsigned char *used = calloc(n ? n : 1, 1);
    for (size_t k = 0; k < n && !r->failed; k++) {
        const nvs_hit *h = &r->hits[k];
        size_t j = 0;
        while (j < n && (used[j] || r->want[j].index != h->index)) j++;
        if (j == n) {
            fail(r, "hit %zu is row %zu, which is not expected (or comes twice)", k, h->index);
            break;
        }
        used[j] = 1;
        pos[k] = j;
        const expected_hit *w = &r->want[j];
        if (h->id != w->id)
            fail(r, "row %zu has id %llu, expected %llu", h->index, (unsigned long long)h->id,
                 (unsigned long long)w->id);
        else if (!(fabs(h->value - w->value) <= w->bound))
            fail(r, "row %zu has value %.17g, expected %.17g within %g", h->index, h->value, w->value, w->bound);
    }
    for (size_t a = 0; a < n && !r->failed; a++) {
        for (size_t b = a + 1; b < n && !r->failed; b++) {
            if (pos[b] > pos[a]) continue;
            const expected_hit *first = &r->want[pos[b]], *later = &r->want[pos[a]];
            double slack = first->bound + later->bound;
            if (!(slack > 0 && fabs(first->value - later->value) <= slack))
                fail(r, "row %zu came before row %zu, and they are not a near tie", later->index, first->index);
        }
    }
    free(pos);
    free(used);
}

static void finish_search(runner *r) {
    if (r->in_search && !r->failed) {
        long line = r->line;
        r->line = r->search_line; /* report at the search */
        check_hits(r);
        r->line = line;
    }
    r->in_search = 0;
    r->want_len = 0;
}

static void do_store(runner *r, tokens *t) {
    size_t dims, normalize;
    if (!parse_size(r, t, &dims) || !parse_size(r, t, &normalize)) return;
    const char *want = next(r, t);
    if (!want) return;
    nvs_store_free(r->store);
    nvs_store *s = NULL;
    nvs_status st = nvs_store_new(dims, normalize != 0, &s);
    if (!check_status(r, "nvs_store_new", st, want)) return;
    if (st != NVS_STATUS_OK && s != NULL) fail(r, "failed nvs_store_new wrote a handle");
    r->store = s;
    if (s && nvs_store_dimensions(s) != dims) fail(r, "dimensions %zu, expected %zu", nvs_store_dimensions(s), dims);
    if (s && nvs_store_normalize(s) != (normalize != 0)) fail(r, "normalize flag differs");
}

static void do_add(runner *r, tokens *t) {
    const char *want = next(r, t);
    size_t n;
    if (!want || !parse_size(r, t, &n) || !need_store(r)) return;
    float *v = parse_floats(r, t, n);
    if (!v) return;
    const char *ids_tok = next(r, t);
    uint64_t *ids = NULL;
    size_t n_ids = 0;
    if (ids_tok && strcmp(ids_tok, "-") != 0) {
        t->pos--;
        if (!parse_size(r, t, &n_ids)) goto out;
        ids = malloc((n_ids ? n_ids : 1) * sizeof *ids); /* non-NULL even when empty */
        for (size_t i = 0; i < n_ids; i++)
            if (!parse_u64(r, t, &ids[i])) goto out;
    }
    if (!ids_tok) goto out;
    size_t before = nvs_store_len(r->store);
    nvs_status st = nvs_store_add(r->store, v, n, ids, n_ids);
    if (check_status(r, "nvs_store_add", st, want) && st != NVS_STATUS_OK &&
        nvs_store_len(r->store) != before)
        fail(r, "failed add changed the length from %zu to %zu", before, nvs_store_len(r->store));
out:
    free(v);
    free(ids);
}

static void do_len(runner *r, tokens *t) {
    size_t want;
    if (!parse_size(r, t, &want) || !need_store(r)) return;
    size_t got = nvs_store_len(r->store);
    if (got != want) fail(r, "len is %zu, expected %zu", got, want);
}

static void do_get(runner *r, tokens *t) {
    size_t index;
    const char *want;
    if (!parse_size(r, t, &index) || !(want = next(r, t)) || !need_store(r)) return;
    size_t dims = nvs_store_dimensions(r->store);
    float *v = calloc(dims, sizeof *v);
    uint64_t id = 0;
    nvs_status st = nvs_store_get(r->store, index, v, dims, &id);
    if (check_status(r, "nvs_store_get", st, want) && st == NVS_STATUS_OK) {
        uint64_t want_id;
        if (parse_u64(r, t, &want_id) && id != want_id)
            fail(r, "get(%zu) id %llu, expected %llu", index, (unsigned long long)id, (unsigned long long)want_id);
        int normalize = nvs_store_normalize(r->store);
        for (size_t i = 0; i < dims && !r->failed; i++) {
            double w;
            if (parse_double(r, t, &w) && !same_stored_value(v[i], (float)w, normalize))
                fail(r, "get(%zu)[%zu] = %.9g, expected %.9g%s", index, i, v[i], w,
                     normalize ? " within one ulp" : " exactly");
        }
    }
    free(v);
}

static int metric_of(runner *r, const char *s, nvs_metric *m) {
    if (!strcmp(s, "cosine")) *m = NVS_METRIC_COSINE;
    else if (!strcmp(s, "dot")) *m = NVS_METRIC_DOT;
    else if (!strcmp(s, "euclidean")) *m = NVS_METRIC_EUCLIDEAN;
    else {
        fail(r, "unknown metric '%s'", s);
        return 0;
    }
    return 1;
}

static int same_hits(const nvs_hit *a, size_t na, const nvs_hit *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].index != b[i].index || a[i].id != b[i].id || a[i].value != b[i].value) return 0;
    return 1;
}

static void do_search(runner *r, tokens *t) {
    const char *metric_tok = next(r, t);
    const char *want = metric_tok ? next(r, t) : NULL;
    nvs_metric metric;
    nvs_search_options o = nvs_search_options_default();
    size_t *within = NULL, qlen = 0;
    float *q = NULL;
    nvs_hit *again = NULL;
    if (!want || !metric_of(r, metric_tok, &metric) || !parse_size(r, t, &o.top_k)) goto out;
    const char *thr = next(r, t);
    if (!thr) goto out;
    if (strcmp(thr, "-") != 0) {
        t->pos--;
        if (!parse_double(r, t, &o.threshold)) goto out;
        o.has_threshold = true;
    }
    const char *w = next(r, t);
    if (!w) goto out;
    if (strcmp(w, "-") != 0) {
        t->pos--;
        if (!parse_size(r, t, &o.within_rows_len)) goto out;
        within = malloc((o.within_rows_len ? o.within_rows_len : 1) * sizeof *within);
        for (size_t i = 0; i < o.within_rows_len; i++)
            if (!parse_size(r, t, &within[i])) goto out;
        o.has_within_rows = true;
        o.within_rows = within;
    }
    if (!parse_size(r, t, &qlen) || !(q = parse_floats(r, t, qlen)) || !need_store(r)) goto out;

    size_t cap = nvs_store_len(r->store) + 1; /* a search never returns more hits than rows */
    free(r->hits);
    r->hits = calloc(cap, sizeof *r->hits);
    r->hits_len = 0;
    nvs_status st = nvs_store_search(r->store, metric, q, qlen, &o, r->hits, cap, &r->hits_len);
    if (!check_status(r, "nvs_store_search", st, want)) goto out;
    if (st != NVS_STATUS_OK) goto out;
    r->in_search = 1;
    r->search_line = r->line;
    r->want_len = 0;

    /* The same search as a batch of one query, and spread over two threads. */
    again = calloc(cap, sizeof *again);
    size_t again_len = 0;
    if (qlen == nvs_store_dimensions(r->store)) {
        st = nvs_store_search_batch(r->store, metric, q, qlen, &o, again, cap, cap, &again_len);
        if (st != NVS_STATUS_OK || !same_hits(r->hits, r->hits_len, again, again_len))
            fail(r, "nvs_store_search_batch (%s) disagrees with nvs_store_search", nvs_status_name(st));
    }
    o.threads = 2;
    again_len = 0;
    st = nvs_store_search(r->store, metric, q, qlen, &o, again, cap, &again_len);
    if (st != NVS_STATUS_OK || !same_hits(r->hits, r->hits_len, again, again_len))
        fail(r, "the search with threads = 2 (%s) disagrees with threads = 0", nvs_status_name(st));
out:
    free(within);
    free(q);
    free(again);
}

static void do_hit(runner *r, tokens *t) {
    expected_hit h;
    if (!r->in_search) {
        fail(r, "`hit` without a preceding OK search");
        return;
    }
    if (!parse_size(r, t, &h.index) || !parse_u64(r, t, &h.id) || !parse_double(r, t, &h.value) ||
        !parse_double(r, t, &h.bound))
        return;
    if (t->pos != t->n) {
        fail(r, "extra tokens on the line");
        return;
    }
    if (!(h.bound >= 0)) {
        fail(r, "bad bound %g", h.bound);
        return;
    }
    if (r->want_len == r->want_cap) {
        size_t cap = r->want_cap ? r->want_cap * 2 : 16;
        expected_hit *grown = realloc(r->want, cap * sizeof *grown);
        if (!grown) {
            fail(r, "out of memory");
            return;
        }
        r->want = grown;
        r->want_cap = cap;
    }
    r->want[r->want_len++] = h;
}

static void end_case(runner *r) {
    finish_search(r);
    if (r->open) {
        if (r->failed) g_failed++;
        else g_passed++;
    }
    nvs_store_free(r->store);
    r->store = NULL;
    r->open = 0;
    r->failed = 0;
}

/* ---- files -------------------------------------------------------------------------- */

static int run_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    runner r = {0};
    r.file = path;
    char *line = NULL;
    size_t line_cap = 0;
    tokens t = {0};
    size_t tok_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) != -1) {
        r.line++;
        t.n = t.pos = 0;
        for (char *save = NULL, *s = strtok_r(line, " \t\r\n", &save); s; s = strtok_r(NULL, " \t\r\n", &save)) {
            if (t.n == tok_cap) {
                tok_cap = tok_cap ? tok_cap * 2 : 64;
                t.tok = realloc(t.tok, tok_cap * sizeof *t.tok);
            }
            t.tok[t.n++] = s;
        }
        if (t.n == 0 || t.tok[0][0] == '#') continue;
        const char *op = t.tok[0];
        t.pos = 1;
        if (!strcmp(op, "hit")) {
            if (!r.failed) do_hit(&r, &t);
            continue;
        }
        finish_search(&r);
        if (!strcmp(op, "case")) {
            if (r.open) {
                fail(&r, "case without `end`");
                end_case(&r);
            }
            snprintf(r.name, sizeof r.name, "%s", t.n > 1 ? t.tok[1] : "?");
            r.open = 1;
            continue;
        }
        if (!strcmp(op, "end")) {
            end_case(&r);
            continue;
        }
        if (!r.open) {
            fprintf(stderr, "%s:%ld: '%s' outside a case\n", path, r.line, op);
            g_failed++;
            continue;
        }
        if (r.failed) continue; /* skip the rest of a failed case */
        if (!strcmp(op, "store")) do_store(&r, &t);
        else if (!strcmp(op, "add")) do_add(&r, &t);
        else if (!strcmp(op, "len")) do_len(&r, &t);
        else if (!strcmp(op, "get")) do_get(&r, &t);
        else if (!strcmp(op, "search")) do_search(&r, &t);
        else fail(&r, "unknown line '%s'", op);
        if (!r.failed && t.pos != t.n) fail(&r, "extra tokens on the line");
    }
    if (r.open) {
        fail(&r, "file ends inside a case");
        end_case(&r);
    }
    free(r.hits);
    free(r.want);
    free(t.tok);
    free(line);
    fclose(f);
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cannot stat %s: %s\n", path, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    DIR *d = opendir(path);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 6 && !strcmp(e->d_name + len - 6, ".cases")) {
            names = realloc(names, (n + 1) * sizeof *names);
            names[n] = malloc(strlen(path) + len + 2);
            sprintf(names[n++], "%s/%s", path, e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int ok = n > 0;
    if (n == 0) fprintf(stderr, "no .cases files in %s\n", path);
    for (size_t i = 0; i < n; i++) {
        ok &= run_file(names[i]);
        free(names[i]);
    }
    free(names);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    int ok = 1;
    for (int i = 1; i < argc; i++) ok &= run_path(argv[i]);
    printf("%zu passed, %zu failed\n", g_passed, g_failed);
    return ok && g_failed == 0 && g_passed > 0 ? 0 : 1;
}
