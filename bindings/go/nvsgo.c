/* Go-side shims over include/nvs.h; see nvsgo.h for why they exist. */
#include <stdlib.h>
#include <string.h>

#include "nvsgo.h"

static char *copy_string(const char *s) {
    if (s == NULL) s = "";
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (out != NULL) memcpy(out, s, n + 1);
    return out;
}

static nvsgo_result finish(nvs_status status) {
    nvsgo_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    if (status != NVS_STATUS_OK) r.message = copy_string(nvs_last_error_message());
    return r;
}

static nvs_search_options options_from(nvsgo_search_args a, const size_t *within_rows) {
    nvs_search_options o = nvs_search_options_default();
    o.top_k = a.top_k;
    o.threshold = a.threshold;
    o.has_threshold = a.has_threshold;
    o.has_within_rows = a.has_within_rows;
    o.within_rows = within_rows;
    o.within_rows_len = a.within_rows_len;
    o.threads = a.threads;
    return o;
}

size_t nvsgo_default_top_k(void) { return nvs_search_options_default().top_k; }

nvsgo_result nvsgo_new(size_t dimensions, bool normalize, uint32_t storage) {
    nvs_store *store = NULL;
    nvsgo_result r = finish(nvs_store_new_with_storage(dimensions, normalize, storage, &store));
    r.store = store;
    return r;
}

nvsgo_result nvsgo_open(const char *path, uint32_t flags) {
    nvs_store *store = NULL;
    nvsgo_result r = finish(nvs_store_open_with_flags(path, flags, &store));
    r.store = store;
    return r;
}

nvsgo_result nvsgo_open_bytes(const uint8_t *bytes, size_t len, uint32_t flags) {
    nvs_store *store = NULL;
    nvsgo_result r = finish(nvs_store_open_bytes(bytes, len, flags, &store));
    r.store = store;
    return r;
}

nvsgo_result nvsgo_add(nvs_store *store, const float *vectors, size_t vectors_len,
                       const uint64_t *ids, size_t ids_len) {
    return finish(nvs_store_add(store, vectors, vectors_len, ids, ids_len));
}

nvsgo_result nvsgo_get(const nvs_store *store, size_t index, float *vector, size_t vector_len) {
    uint64_t id = 0;
    nvsgo_result r = finish(nvs_store_get(store, index, vector, vector_len, &id));
    r.id = id;
    return r;
}

nvsgo_result nvsgo_clear(nvs_store *store) { return finish(nvs_store_clear(store)); }

nvsgo_result nvsgo_read_rows(const nvs_store *store, size_t start, size_t count, float *vectors,
                             size_t vectors_len, uint64_t *ids, size_t ids_len) {
    return finish(nvs_store_read_rows(store, start, count, vectors, vectors_len, ids, ids_len));
}

nvsgo_result nvsgo_search(const nvs_store *store, uint32_t metric, const float *query,
                          size_t query_len, nvsgo_search_args args, const size_t *within_rows,
                          nvs_hit *hits, size_t hits_capacity) {
    nvs_search_options o = options_from(args, within_rows);
    size_t n = 0;
    nvsgo_result r =
        finish(nvs_store_search(store, metric, query, query_len, &o, hits, hits_capacity, &n));
    r.count = n;
    return r;
}

nvsgo_result nvsgo_search_batch(const nvs_store *store, uint32_t metric, const float *queries,
                                size_t queries_len, nvsgo_search_args args,
                                const size_t *within_rows, nvs_hit *hits, size_t hits_capacity,
                                size_t hits_per_query, size_t *hits_lens) {
    nvs_search_options o = options_from(args, within_rows);
    return finish(nvs_store_search_batch(store, metric, queries, queries_len, &o, hits,
                                         hits_capacity, hits_per_query, hits_lens));
}

nvsgo_result nvsgo_save(const nvs_store *store, const char *path, uint32_t flags) {
    return finish(nvs_store_save_with_flags(store, path, flags));
}

nvsgo_result nvsgo_reload(nvs_store *store, uint32_t flags) {
    return finish(nvs_store_reload_with_flags(store, flags));
}

nvsgo_result nvsgo_file_path(const nvs_store *store) {
    /* NVS_PATH_CAPACITY holds any bound path with its NUL: one call. */
    char *buf = malloc(NVS_PATH_CAPACITY);
    if (buf == NULL) {
        nvsgo_result r = finish(NVS_STATUS_OUT_OF_MEMORY);
        free(r.message);
        r.message = copy_string("cannot allocate a buffer for the bound path");
        return r;
    }
    size_t len = 0;
    nvs_status st = nvs_store_file_path(store, buf, NVS_PATH_CAPACITY, &len);
    if (st != NVS_STATUS_OK) {
        free(buf);
        return finish(st);
    }
    nvsgo_result r = finish(st);
    r.text = buf;
    r.count = len;
    return r;
}
