/*
 * C tests of the nvs C ABI (include/nvs.h): the whole store API, every error status with its
 * message, NULL handling for each pointer argument, nothing-changed-on-failure, and several
 * threads searching while one adds. Built and run by `cargo test --test c_tests`.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvs.h"

static int g_checks, g_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        g_checks++;                                                                  \
        if (!(cond)) {                                                               \
            g_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* `call` must return `want`; on an error the thread's message must mention `topic`. */
#define EXPECT(call, want, topic) expect_status((call), (want), (topic), #call, __LINE__)

static int contains_ci(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++) {
        size_t i = 0;
        while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static void expect_status(nvs_status got, nvs_status want, const char *topic, const char *expr, int line) {
    g_checks++;
    if (got != want) {
        g_failures++;
        fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: %s)\n", __FILE__, line, expr,
                nvs_status_name(got), nvs_status_name(want), nvs_last_error_message());
        return;
    }
    if (want == NVS_STATUS_OK) return;
    const char *msg = nvs_last_error_message();
    if (msg == NULL || msg[0] == '\0' || (topic && !contains_ci(msg, topic))) {
        g_failures++;
        fprintf(stderr, "%s:%d: %s: message \"%s\" should mention \"%s\"\n", __FILE__, line, expr,
                msg ? msg : "(null)", topic ? topic : "");
    }
}

static nvs_store *new_store(size_t dims, bool normalize) {
    nvs_store *s = NULL;
    EXPECT(nvs_store_new(dims, normalize, &s), NVS_STATUS_OK, NULL);
    if (!s) {
        fprintf(stderr, "cannot create a store\n");
        exit(1);
    }
    return s;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fmax(1.0, fabs(b)); }

/* ---- basics --------------------------------------------------------------------------- */

static void test_version_and_status_names(void) {
    CHECK(strcmp(nvs_version(), NVS_VERSION) == 0);
    static const char *names[] = {"OK", "NULL_ARGUMENT", "INVALID_ARGUMENT", "DIMENSION_MISMATCH",
                                  "NON_FINITE", "ZERO_NORM", "OUT_OF_RANGE", "NOT_FOUND",
                                  "BUFFER_TOO_SMALL", "IO", "FORMAT", "NO_BOUND_PATH",
                                  "OUT_OF_MEMORY", "INTERNAL"};
    static const nvs_status values[] = {
        NVS_STATUS_OK, NVS_STATUS_NULL_ARGUMENT, NVS_STATUS_INVALID_ARGUMENT, NVS_STATUS_DIMENSION_MISMATCH,
        NVS_STATUS_NON_FINITE, NVS_STATUS_ZERO_NORM, NVS_STATUS_OUT_OF_RANGE, NVS_STATUS_NOT_FOUND,
        NVS_STATUS_BUFFER_TOO_SMALL, NVS_STATUS_IO, NVS_STATUS_FORMAT, NVS_STATUS_NO_BOUND_PATH,
        NVS_STATUS_OUT_OF_MEMORY, NVS_STATUS_INTERNAL};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        CHECK(values[i] == i);
        CHECK(strcmp(nvs_status_name(values[i]), names[i]) == 0);
    }
    CHECK(strcmp(nvs_status_name(14), "UNKNOWN") == 0);
    CHECK(strcmp(nvs_status_name(UINT32_MAX), "UNKNOWN") == 0);
}

static void test_defaults(void) {
    nvs_search_options o = nvs_search_options_default();
    CHECK(o.size == sizeof(nvs_search_options));
    CHECK(o.top_k == 10);
    CHECK(!o.has_threshold);
    CHECK(!o.has_within_rows);
    CHECK(o.within_rows == NULL && o.within_rows_len == 0);
    CHECK(o.threads == 0);
}

static void test_create_add_get_search(void) {
    nvs_store *s = new_store(3, true);
    CHECK(nvs_store_len(s) == 0);
    CHECK(nvs_store_dimensions(s) == 3);
    CHECK(nvs_store_normalize(s));

    const float rows[] = {3, 4, 0, 0, 0, 2, 1, 0, 0};
    const uint64_t ids[] = {100, 200, UINT64_MAX};
    EXPECT(nvs_store_add(s, rows, 9, ids, 3), NVS_STATUS_OK, NULL);
    CHECK(nvs_store_len(s) == 3);
    /* NULL ids: each row's id is its row index. */
    const float more[] = {0, 1, 0};
    EXPECT(nvs_store_add(s, more, 3, NULL, 0), NVS_STATUS_OK, NULL);
    CHECK(nvs_store_len(s) == 4);

    float v[3] = {0};
    uint64_t id = 0;
    EXPECT(nvs_store_get(s, 0, v, 3, &id), NVS_STATUS_OK, NULL);
    CHECK(id == 100);
    CHECK(near(v[0], 0.6) && near(v[1], 0.8) && v[2] == 0.0f); /* stored as a unit vector */
    EXPECT(nvs_store_get(s, 3, NULL, 0, &id), NVS_STATUS_OK, NULL);
    CHECK(id == 3);
    EXPECT(nvs_store_get(s, 2, v, 3, NULL), NVS_STATUS_OK, NULL);
    CHECK(v[0] == 1.0f && v[1] == 0.0f);

    const float q[] = {1, 0, 0};
    nvs_hit hits[4];
    size_t n = 0;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, NULL, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 4);
    CHECK(hits[0].index == 2 && hits[0].id == UINT64_MAX && near(hits[0].value, 1.0));
    CHECK(hits[1].index == 0 && hits[1].id == 100 && near(hits[1].value, 0.6));
    /* Rows 1 and 3 tie at 0: ascending row index. */
    CHECK(hits[2].index == 1 && hits[3].index == 3 && hits[2].value == 0.0 && hits[3].value == 0.0);

    nvs_search_options o = nvs_search_options_default();
    o.top_k = 2;
    EXPECT(nvs_store_search(s, NVS_METRIC_EUCLIDEAN, q, 3, &o, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 2 && hits[0].index == 2 && hits[1].index == 0);
    CHECK(near(hits[0].value, 0.0) && near(hits[1].value, sqrt(0.16 + 0.64)));

    o = nvs_search_options_default();
    o.has_threshold = true;
    o.threshold = 0.5;
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q, 3, &o, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 2 && hits[0].index == 2 && hits[1].index == 0);

    const size_t within[] = {3, 0};
    o = nvs_search_options_default();
    o.has_within_rows = true;
    o.within_rows = within;
    o.within_rows_len = 2;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 2 && hits[0].index == 0 && hits[1].index == 3);
    /* An empty prefilter gives no hits; within_rows may then be NULL. */
    o.within_rows = NULL;
    o.within_rows_len = 0;
    n = 99;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 0);
    /* A NULL hits buffer works when nothing is found... */
    n = 99;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, NULL, 0, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 0);
    nvs_store_free(s);
}

static void test_raw_store(void) {
    nvs_store *s = new_store(2, false);
    CHECK(!nvs_store_normalize(s));
    const float rows[] = {3, 4, 0, 0, 1e30f, 1e30f};
    EXPECT(nvs_store_add(s, rows, 6, NULL, 0), NVS_STATUS_OK, NULL);
    float v[2];
    EXPECT(nvs_store_get(s, 0, v, 2, NULL), NVS_STATUS_OK, NULL);
    CHECK(v[0] == 3.0f && v[1] == 4.0f); /* raw stores keep the original values */
    nvs_hit hits[3];
    size_t n;
    const float zero[] = {0, 0};
    EXPECT(nvs_store_search(s, NVS_METRIC_EUCLIDEAN, zero, 2, NULL, hits, 3, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 3 && hits[0].index == 1 && hits[1].index == 0 && near(hits[1].value, 5.0));
    CHECK(near(hits[2].value, sqrt(2.0) * 1e30));
    const float q[] = {1e30f, 1e30f};
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q, 2, NULL, hits, 3, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 3 && hits[0].index == 2 && isfinite(hits[0].value) && near(hits[0].value, 2e60));
    nvs_store_free(s);
}

static void test_clear_and_read_rows(void) {
    nvs_store *s = new_store(2, false);
    const float rows[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint64_t ids[] = {10, 11, 12, 13};
    EXPECT(nvs_store_add(s, rows, 8, ids, 4), NVS_STATUS_OK, NULL);

    float v[8] = {0};
    uint64_t got_ids[4] = {0};
    EXPECT(nvs_store_read_rows(s, 1, 2, v, 8, got_ids, 4), NVS_STATUS_OK, NULL);
    CHECK(v[0] == 3 && v[1] == 4 && v[2] == 5 && v[3] == 6 && v[4] == 0);
    CHECK(got_ids[0] == 11 && got_ids[1] == 12 && got_ids[2] == 0);
    EXPECT(nvs_store_read_rows(s, 0, 4, NULL, 0, got_ids, 4), NVS_STATUS_OK, NULL);
    CHECK(got_ids[3] == 13);
    EXPECT(nvs_store_read_rows(s, 4, 0, v, 0, got_ids, 0), NVS_STATUS_OK, NULL);

    /* Errors write nothing. */
    memset(v, 0, sizeof v);
    EXPECT(nvs_store_read_rows(s, 3, 2, v, 8, NULL, 0), NVS_STATUS_OUT_OF_RANGE, "outside");
    EXPECT(nvs_store_read_rows(s, 5, 0, v, 8, NULL, 0), NVS_STATUS_OUT_OF_RANGE, "outside");
    EXPECT(nvs_store_read_rows(s, SIZE_MAX, 2, v, 8, NULL, 0), NVS_STATUS_OUT_OF_RANGE, "outside");
    EXPECT(nvs_store_read_rows(s, 0, 3, v, 5, NULL, 0), NVS_STATUS_BUFFER_TOO_SMALL, "vectors");
    EXPECT(nvs_store_read_rows(s, 0, 3, v, 6, got_ids, 2), NVS_STATUS_BUFFER_TOO_SMALL, "ids");
    CHECK(v[0] == 0 && v[5] == 0);

    EXPECT(nvs_store_clear(s), NVS_STATUS_OK, NULL);
    CHECK(nvs_store_len(s) == 0);
    CHECK(nvs_store_dimensions(s) == 2 && !nvs_store_normalize(s));
    EXPECT(nvs_store_get(s, 0, v, 2, NULL), NVS_STATUS_NOT_FOUND, "not found");
    /* Row-index ids start again at 0 after a clear. */
    EXPECT(nvs_store_add(s, rows, 4, NULL, 0), NVS_STATUS_OK, NULL);
    uint64_t id = 99;
    EXPECT(nvs_store_get(s, 1, NULL, 0, &id), NVS_STATUS_OK, NULL);
    CHECK(id == 1);
    nvs_store_free(s);
}

static void test_batch_search(void) {
    nvs_store *s = new_store(2, true);
    const float rows[] = {1, 0, 0, 1, 1, 1, -1, 0};
    EXPECT(nvs_store_add(s, rows, 8, NULL, 0), NVS_STATUS_OK, NULL);
    const float queries[] = {1, 0, 0, 1, -1, 0.25f};
    nvs_search_options o = nvs_search_options_default();
    o.top_k = 2;
    nvs_hit hits[6];
    size_t lens[3] = {9, 9, 9};
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, hits, 6, 2, lens), NVS_STATUS_OK, NULL);
    CHECK(lens[0] == 2 && lens[1] == 2 && lens[2] == 2);
    for (size_t qi = 0; qi < 3; qi++) {
        nvs_hit one[2];
        size_t n;
        EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, queries + 2 * qi, 2, &o, one, 2, &n), NVS_STATUS_OK, NULL);
        CHECK(n == lens[qi]);
        for (size_t i = 0; i < n; i++)
            CHECK(one[i].index == hits[qi * 2 + i].index && one[i].value == hits[qi * 2 + i].value);
    }
    /* Zero queries: nothing to do. */
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, NULL, 0, &o, NULL, 0, 2, NULL), NVS_STATUS_OK, NULL);
    /* Errors. */
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 5, &o, hits, 6, 2, lens),
           NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, hits, 5, 2, lens),
           NVS_STATUS_BUFFER_TOO_SMALL, "hits_capacity");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, hits, 6, 1, lens),
           NVS_STATUS_BUFFER_TOO_SMALL, "hits_per_query");
    const float zero_query[] = {1, 0, 0, 0, 1, 1};
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, zero_query, 6, &o, hits, 6, 2, lens), NVS_STATUS_ZERO_NORM, "query 1");
    /* Every query is validated (finite values) before any is normalized. */
    const float nan_query[] = {1, 0, 0, 0, NAN, 1};
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, nan_query, 6, &o, hits, 6, 2, lens), NVS_STATUS_NON_FINITE, "query 2");
    EXPECT(nvs_store_search_batch(s, 7, queries, 6, &o, hits, 6, 2, lens), NVS_STATUS_INVALID_ARGUMENT, "metric");
    /* A bad query reports its own status even when the hit buffer is also too small. */
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 5, &o, hits, 0, 2, lens),
           NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, nan_query, 6, &o, hits, 0, 2, lens), NVS_STATUS_NON_FINITE, "query 2");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, zero_query, 6, &o, hits, 0, 2, lens), NVS_STATUS_ZERO_NORM, "query 1");
    /* BUFFER_TOO_SMALL still tells each query's hit count. */
    size_t need[3] = {0, 0, 0};
    o.top_k = 3;
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, hits, 6, 2, need),
           NVS_STATUS_BUFFER_TOO_SMALL, "hits_per_query");
    CHECK(need[0] == 3 && need[1] == 3 && need[2] == 3);
    /* A sizing call (NULL hits, capacity 0) gets the counts too... */
    size_t sizing[3] = {0, 0, 0};
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, NULL, 0, 3, sizing),
           NVS_STATUS_BUFFER_TOO_SMALL, "hits_capacity");
    CHECK(sizing[0] == 3 && sizing[1] == 3 && sizing[2] == 3);
    /* ...but a hit buffer that is given and unusable fails before any output is written. */
    size_t untouched[3] = {7, 7, 7};
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, NULL, 9, 3, untouched),
           NVS_STATUS_NULL_ARGUMENT, "hits");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, queries, 6, &o, (nvs_hit *)((char *)hits + 1), 9, 3,
                                  untouched),
           NVS_STATUS_INVALID_ARGUMENT, "aligned");
    CHECK(untouched[0] == 7 && untouched[1] == 7 && untouched[2] == 7);
    nvs_store_free(s);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_null_arguments(void) {
    nvs_store *s = new_store(2, true);
    const float row[] = {1, 2};
    EXPECT(nvs_store_add(s, row, 2, NULL, 0), NVS_STATUS_OK, NULL);
    float v[2];
    uint64_t id;
    nvs_hit hits[2];
    size_t n, lens[1];
    nvs_search_options o = nvs_search_options_default();

    EXPECT(nvs_store_new(2, true, NULL), NVS_STATUS_NULL_ARGUMENT, "out");
    EXPECT(nvs_store_add(NULL, row, 2, NULL, 0), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_add(s, NULL, 2, NULL, 0), NVS_STATUS_NULL_ARGUMENT, "vectors");
    EXPECT(nvs_store_get(NULL, 0, v, 2, &id), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_clear(NULL), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_read_rows(NULL, 0, 1, v, 2, NULL, 0), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_search(NULL, 0, row, 2, NULL, hits, 2, &n), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_search(s, 0, NULL, 2, NULL, hits, 2, &n), NVS_STATUS_NULL_ARGUMENT, "query");
    EXPECT(nvs_store_search(s, 0, row, 2, NULL, NULL, 2, &n), NVS_STATUS_NULL_ARGUMENT, "hits");
    EXPECT(nvs_store_search(s, 0, row, 2, NULL, hits, 2, NULL), NVS_STATUS_NULL_ARGUMENT, "hits_len");
    o.has_within_rows = true;
    o.within_rows_len = 1;
    EXPECT(nvs_store_search(s, 0, row, 2, &o, hits, 2, &n), NVS_STATUS_NULL_ARGUMENT, "within_rows");
    EXPECT(nvs_store_search_batch(NULL, 0, row, 2, NULL, hits, 2, 2, lens), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_search_batch(s, 0, NULL, 2, NULL, hits, 2, 2, lens), NVS_STATUS_NULL_ARGUMENT, "queries");
    EXPECT(nvs_store_search_batch(s, 0, row, 2, NULL, NULL, 2, 2, lens), NVS_STATUS_NULL_ARGUMENT, "hits");
    EXPECT(nvs_store_search_batch(s, 0, row, 2, NULL, hits, 2, 2, NULL), NVS_STATUS_NULL_ARGUMENT, "hits_lens");
    EXPECT(nvs_store_search_batch(s, 0, row, 2, &o, hits, 2, 2, lens), NVS_STATUS_NULL_ARGUMENT, "within_rows");
    EXPECT(nvs_store_open(NULL, &s), NVS_STATUS_NULL_ARGUMENT, "path");
    EXPECT(nvs_store_open("x.npz", NULL), NVS_STATUS_NULL_ARGUMENT, "out");
    EXPECT(nvs_store_open_with_flags(NULL, 0, &s), NVS_STATUS_NULL_ARGUMENT, "path");
    EXPECT(nvs_store_open_bytes(NULL, 10, 0, &s), NVS_STATUS_NULL_ARGUMENT, "bytes");
    EXPECT(nvs_store_open_bytes((const uint8_t *)"PK", 2, 0, NULL), NVS_STATUS_NULL_ARGUMENT, "out");
    EXPECT(nvs_store_save(NULL, "x.npz"), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_save_with_flags(NULL, "x.npz", 0), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_reload(NULL), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_reload_with_flags(NULL, 0), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_file_path(NULL, NULL, 0, &n), NVS_STATUS_NULL_ARGUMENT, "store");
    EXPECT(nvs_store_file_path(s, NULL, 0, NULL), NVS_STATUS_NULL_ARGUMENT, "len");

    /* Value-returning functions and free accept NULL. */
    CHECK(nvs_store_len(NULL) == 0);
    CHECK(nvs_store_dimensions(NULL) == 0);
    CHECK(!nvs_store_normalize(NULL));
    nvs_store_free(NULL);
    /* None of the failures above touched the store. */
    CHECK(nvs_store_len(s) == 1);
    nvs_store_free(s);
}

static void test_argument_errors(void) {
    nvs_store *s = NULL;
    EXPECT(nvs_store_new(0, true, &s), NVS_STATUS_INVALID_ARGUMENT, "dimensions");
    CHECK(s == NULL);
    EXPECT(nvs_store_new(0, false, &s), NVS_STATUS_INVALID_ARGUMENT, "dimensions");
    CHECK(s == NULL);

    s = new_store(3, true);
    const float rows[] = {1, 0, 0, 0, 1, 0};
    EXPECT(nvs_store_add(s, rows, 6, NULL, 0), NVS_STATUS_OK, NULL);
    const float q[] = {1, 1, 0};
    nvs_hit hits[4];
    size_t n = 0;
    nvs_search_options o = nvs_search_options_default();

    o.top_k = 0;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "top_k");

    o = nvs_search_options_default();
    o.size = sizeof o - 1;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "size");
    o.size = 0;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "size");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "size");

    /* A larger size (a caller built against a newer header) is fine while the unknown tail is
     * zero, and refused once any byte of it is set or the size is implausible. */
    struct {
        nvs_search_options o;
        unsigned char tail[24];
    } bigger;
    memset(&bigger, 0, sizeof bigger);
    bigger.o = nvs_search_options_default();
    bigger.o.size = sizeof bigger;
    bigger.o.top_k = 1;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &bigger.o, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 1);
    size_t lens1[1];
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, q, 3, &bigger.o, hits, 4, 4, lens1), NVS_STATUS_OK, NULL);
    CHECK(lens1[0] == 1);
    bigger.tail[23] = 1;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &bigger.o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "byte");
    EXPECT(nvs_store_search_batch(s, NVS_METRIC_COSINE, q, 3, &bigger.o, hits, 4, 4, lens1), NVS_STATUS_INVALID_ARGUMENT, "byte");
    bigger.o.size = NVS_SEARCH_OPTIONS_MAX_SIZE + 1;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &bigger.o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "size");

    /* The query width is checked first, for every length (SIZE_MAX included). */
    o = nvs_search_options_default();
    o.size = 0;
    EXPECT(nvs_store_search(s, 99, q, SIZE_MAX, &o, hits, 4, &n), NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
    EXPECT(nvs_store_search(s, 99, NULL, 0, &o, hits, 4, &n), NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
    EXPECT(nvs_store_search_batch(s, 99, q, SIZE_MAX - 1, &o, hits, 4, 4, lens1), NVS_STATUS_DIMENSION_MISMATCH, "whole number");

    o = nvs_search_options_default();
    EXPECT(nvs_store_search(s, 3, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "metric");
    EXPECT(nvs_store_search(s, UINT32_MAX, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "metric");

    const size_t dup[] = {1, 0, 1};
    o.has_within_rows = true;
    o.within_rows = dup;
    o.within_rows_len = 3;
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q, 3, &o, hits, 4, &n), NVS_STATUS_INVALID_ARGUMENT, "unique");
    const size_t outside[] = {0, 2};
    o.within_rows = outside;
    o.within_rows_len = 2;
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q, 3, &o, hits, 4, &n), NVS_STATUS_OUT_OF_RANGE, "within_rows");

    o = nvs_search_options_default();
    const float q2[] = {1, 1};
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q2, 2, &o, hits, 4, &n), NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
    const float qnan[] = {1, NAN, 0};
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, qnan, 3, &o, hits, 4, &n), NVS_STATUS_NON_FINITE, "finite");
    const float qinf[] = {1, 0, -INFINITY};
    EXPECT(nvs_store_search(s, NVS_METRIC_EUCLIDEAN, qinf, 3, &o, hits, 4, &n), NVS_STATUS_NON_FINITE, "finite");
    o.has_threshold = true;
    o.threshold = NAN;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 4, &n), NVS_STATUS_NON_FINITE, "min_value");
    o.threshold = INFINITY;
    EXPECT(nvs_store_search(s, NVS_METRIC_EUCLIDEAN, q, 3, &o, hits, 4, &n), NVS_STATUS_NON_FINITE, "max_value");

    o = nvs_search_options_default();
    const float zero[] = {0, 0, 0};
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, zero, 3, &o, hits, 4, &n), NVS_STATUS_ZERO_NORM, "zero");
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, zero, 3, &o, hits, 4, &n), NVS_STATUS_ZERO_NORM, "zero");

    /* BUFFER_TOO_SMALL writes the number of hits needed. */
    n = 0;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 1, &n), NVS_STATUS_BUFFER_TOO_SMALL, "hits_capacity");
    CHECK(n == 2);
    n = 0;
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, NULL, 0, &n), NVS_STATUS_BUFFER_TOO_SMALL, "hits_capacity");
    CHECK(n == 2);
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q, 3, &o, hits, 2, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 2);

    float v[3];
    EXPECT(nvs_store_get(s, 0, v, 2, NULL), NVS_STATUS_BUFFER_TOO_SMALL, "vector");
    EXPECT(nvs_store_get(s, 2, v, 3, NULL), NVS_STATUS_NOT_FOUND, "2");
    EXPECT(nvs_store_get(s, SIZE_MAX, v, 3, NULL), NVS_STATUS_NOT_FOUND, "not found");
    nvs_store_free(s);

    /* Raw cosine over a stored zero row. */
    s = new_store(2, false);
    const float with_zero[] = {1, 0, 0, 0};
    EXPECT(nvs_store_add(s, with_zero, 4, NULL, 0), NVS_STATUS_OK, NULL);
    const float q3[] = {1, 1};
    EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, q3, 2, NULL, hits, 4, &n), NVS_STATUS_ZERO_NORM, "zero-norm");
    EXPECT(nvs_store_search(s, NVS_METRIC_DOT, q3, 2, NULL, hits, 4, &n), NVS_STATUS_OK, NULL);
    CHECK(n == 2);
    nvs_store_free(s);
}

static void test_persistence_statuses(void) {
    nvs_store *s = new_store(2, true);
    size_t len = 0;
    EXPECT(nvs_store_save(s, NULL), NVS_STATUS_NO_BOUND_PATH, "path");
    EXPECT(nvs_store_reload(s), NVS_STATUS_NO_BOUND_PATH, "path");
    EXPECT(nvs_store_file_path(s, NULL, 0, &len), NVS_STATUS_NO_BOUND_PATH, "path");
    EXPECT(nvs_store_save_with_flags(s, "x.npz", 0x80000000u), NVS_STATUS_INVALID_ARGUMENT, "flags");
    nvs_store *opened = NULL;
    EXPECT(nvs_store_open("/nonexistent-nvs-test-dir/store.npz", &opened), NVS_STATUS_IO, "nonexistent-nvs-test-dir");
    CHECK(opened == NULL);
    const uint8_t junk[] = "this is not a zip archive";
    EXPECT(nvs_store_open_bytes(junk, sizeof junk, 0, &opened), NVS_STATUS_FORMAT, NULL);
    CHECK(opened == NULL);
    nvs_store_free(s);
}

/* ---- nothing lost on failure ----------------------------------------------------------- */

typedef struct {
    size_t len;
    float vectors[64];
    uint64_t ids[32];
} snapshot;

static void take(nvs_store *s, snapshot *out) {
    memset(out, 0, sizeof *out);
    out->len = nvs_store_len(s);
    EXPECT(nvs_store_read_rows(s, 0, out->len, out->vectors, 64, out->ids, 32), NVS_STATUS_OK, NULL);
}

static void same_as(nvs_store *s, const snapshot *before, int line) {
    snapshot now;
    take(s, &now);
    g_checks++;
    if (now.len != before->len || memcmp(now.vectors, before->vectors, sizeof now.vectors) != 0 ||
        memcmp(now.ids, before->ids, sizeof now.ids) != 0) {
        g_failures++;
        fprintf(stderr, "%s:%d: a failed call changed the store (len %zu -> %zu)\n", __FILE__, line, before->len, now.len);
    }
}

static void test_failed_adds_change_nothing(void) {
    for (int normalize = 0; normalize <= 1; normalize++) {
        nvs_store *s = new_store(2, normalize);
        const float good[] = {1, 2, 3, 4};
        const uint64_t good_ids[] = {7, 8};
        EXPECT(nvs_store_add(s, good, 4, good_ids, 2), NVS_STATUS_OK, NULL);
        snapshot before;
        take(s, &before);

        const float odd[] = {1, 2, 3};
        EXPECT(nvs_store_add(s, odd, 3, NULL, 0), NVS_STATUS_DIMENSION_MISMATCH, "dimensions");
        same_as(s, &before, __LINE__);
        EXPECT(nvs_store_add(s, good, 4, good_ids, 1), NVS_STATUS_INVALID_ARGUMENT, "ids");
        same_as(s, &before, __LINE__);
        EXPECT(nvs_store_add(s, good, 4, good_ids, 3), NVS_STATUS_INVALID_ARGUMENT, "ids");
        same_as(s, &before, __LINE__);
        const float late_nan[] = {1, 1, 2, 2, 3, NAN};
        EXPECT(nvs_store_add(s, late_nan, 6, NULL, 0), NVS_STATUS_NON_FINITE, "row 2");
        same_as(s, &before, __LINE__);
        const float late_inf[] = {1, 1, INFINITY, 2};
        EXPECT(nvs_store_add(s, late_inf, 4, NULL, 0), NVS_STATUS_NON_FINITE, "finite");
        same_as(s, &before, __LINE__);
        const float late_zero[] = {1, 1, 0, 0};
        if (normalize) {
            EXPECT(nvs_store_add(s, late_zero, 4, NULL, 0), NVS_STATUS_ZERO_NORM, "row 1");
            same_as(s, &before, __LINE__);
        }
        EXPECT(nvs_store_add(NULL, late_zero, 4, NULL, 0), NVS_STATUS_NULL_ARGUMENT, "store");
        EXPECT(nvs_store_add(s, NULL, 4, NULL, 0), NVS_STATUS_NULL_ARGUMENT, "vectors");
        same_as(s, &before, __LINE__);
        /* NULL ids mean "row indexes" only with ids_len 0. */
        EXPECT(nvs_store_add(s, good, 4, NULL, 2), NVS_STATUS_NULL_ARGUMENT, "ids");
        same_as(s, &before, __LINE__);
        /* Widths are checked before spans, whatever the length. */
        EXPECT(nvs_store_add(s, good, SIZE_MAX, NULL, 0), NVS_STATUS_DIMENSION_MISMATCH, "whole number");
        same_as(s, &before, __LINE__);
        /* Failed searches and reads do not change it either. */
        nvs_hit hits[2];
        size_t n;
        EXPECT(nvs_store_search(s, NVS_METRIC_COSINE, late_zero + 2, 2, NULL, hits, 2, &n), NVS_STATUS_ZERO_NORM, "zero");
        same_as(s, &before, __LINE__);
        nvs_store_free(s);
    }
}

static void test_error_message_is_thread_local(void);

/* ---- threads -------------------------------------------------------------------------- */

enum { DIMS = 8, BATCH = 7, BATCHES = 300, SEARCHERS = 4 };

typedef struct {
    nvs_store *store;
    atomic_int done;
    atomic_int bad;
    atomic_long searches;
} shared;

/* Row 0 matches the query exactly; every added row is worse, so every consistent snapshot
 * has row 0 first, and a search sees whole batches only: 1 + 7k rows. */
static void *searcher(void *arg) {
    shared *sh = arg;
    float q[DIMS] = {1};
    nvs_search_options o = nvs_search_options_default();
    o.top_k = 1 + BATCH * BATCHES;
    nvs_hit *hits = malloc(o.top_k * sizeof *hits);
    size_t last = 0;
    int metric = 0;
    while (!atomic_load(&sh->done) || metric < 3) {
        size_t n = 0;
        nvs_status st = nvs_store_search(sh->store, (nvs_metric)(metric % 3), q, DIMS, &o, hits, o.top_k, &n);
        metric++;
        if (st != NVS_STATUS_OK || n < last || (n - 1) % BATCH != 0 || hits[0].index != 0 || hits[0].id != 0) {
            atomic_fetch_add(&sh->bad, 1);
            fprintf(stderr, "inconsistent search: status %s, %zu hits (before %zu), first row %zu\n",
                    nvs_status_name(st), n, last, n ? hits[0].index : 0);
        }
        for (size_t i = 1; i < n; i++)
            if (hits[i].id != hits[i].index * 3) atomic_fetch_add(&sh->bad, 1);
        last = n;
        atomic_fetch_add(&sh->searches, 1);
    }
    free(hits);
    return NULL;
}

static void *adder(void *arg) {
    shared *sh = arg;
    for (int b = 0; b < BATCHES; b++) {
        float rows[BATCH * DIMS];
        uint64_t ids[BATCH];
        for (int r = 0; r < BATCH; r++) {
            size_t index = 1 + (size_t)b * BATCH + r;
            ids[r] = index * 3;
            for (int d = 0; d < DIMS; d++) rows[r * DIMS + d] = (float)((index * 7 + d * 3) % 11) - 5.0f;
            rows[r * DIMS] = -1.0f - (float)r; /* keeps every added row away from the query */
        }
        if (nvs_store_add(sh->store, rows, BATCH * DIMS, ids, BATCH) != NVS_STATUS_OK) atomic_fetch_add(&sh->bad, 1);
    }
    atomic_store(&sh->done, 1);
    return NULL;
}

static void test_threads(void) {
    for (int normalize = 0; normalize <= 1; normalize++) {
        shared sh;
        sh.store = new_store(DIMS, normalize);
        atomic_init(&sh.done, 0);
        atomic_init(&sh.bad, 0);
        atomic_init(&sh.searches, 0);
        const float first[DIMS] = {1};
        const uint64_t first_id = 0;
        EXPECT(nvs_store_add(sh.store, first, DIMS, &first_id, 1), NVS_STATUS_OK, NULL);
        pthread_t readers[SEARCHERS], writer;
        for (int i = 0; i < SEARCHERS; i++) CHECK(pthread_create(&readers[i], NULL, searcher, &sh) == 0);
        CHECK(pthread_create(&writer, NULL, adder, &sh) == 0);
        pthread_join(writer, NULL);
        for (int i = 0; i < SEARCHERS; i++) pthread_join(readers[i], NULL);
        CHECK(atomic_load(&sh.bad) == 0);
        CHECK(atomic_load(&sh.searches) >= SEARCHERS * 3);
        CHECK(nvs_store_len(sh.store) == 1 + BATCH * BATCHES);
        nvs_store_free(sh.store);
    }
    test_error_message_is_thread_local();
}

static void *fail_on_other_thread(void *arg) {
    (void)arg;
    /* A new thread has no message yet; its failure does not change the main thread's. */
    int fresh = nvs_last_error_message()[0] == '\0';
    nvs_store *s = NULL;
    nvs_store_new(0, true, &s);
    return (void *)(intptr_t)(fresh && contains_ci(nvs_last_error_message(), "dimensions"));
}

static void test_error_message_is_thread_local(void) {
    nvs_store *s = new_store(2, true);
    EXPECT(nvs_store_get(s, 5, NULL, 0, NULL), NVS_STATUS_NOT_FOUND, "5");
    char before[256];
    snprintf(before, sizeof before, "%s", nvs_last_error_message());
    pthread_t t;
    void *ok = NULL;
    CHECK(pthread_create(&t, NULL, fail_on_other_thread, NULL) == 0);
    pthread_join(t, &ok);
    CHECK(ok != NULL);
    CHECK(strcmp(before, nvs_last_error_message()) == 0);
    /* Successful calls leave the message alone. */
    CHECK(nvs_store_len(s) == 0);
    const float row[] = {1, 1};
    EXPECT(nvs_store_add(s, row, 2, NULL, 0), NVS_STATUS_OK, NULL);
    CHECK(strcmp(before, nvs_last_error_message()) == 0);
    nvs_store_free(s);
}

int main(void) {
    test_version_and_status_names();
    test_defaults();
    test_create_add_get_search();
    test_raw_store();
    test_clear_and_read_rows();
    test_batch_search();
    test_null_arguments();
    test_argument_errors();
    test_persistence_statuses();
    test_failed_adds_change_nothing();
    test_threads();
    printf("%d checks, %d failed\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
