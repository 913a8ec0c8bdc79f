/*
 * Go-side shims over include/nvs.h. Each shim makes one C API call and, on failure, copies
 * nvs_last_error_message() before returning. The message is thread-local in the library and
 * Go may move a goroutine to another OS thread between two cgo calls, so reading it in a
 * second cgo call could return another call's message; doing both inside one cgo call cannot.
 *
 * Results come back by value so that Go never has to pass the address of a local variable
 * (which would make it escape to the heap on every call).
 */
#ifndef NVSGO_H
#define NVSGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvs.h"

typedef struct nvsgo_result {
    uint32_t status;
    /* On failure: a malloc'd copy of the library's message (free with free()); else NULL. */
    char *message;
    /* Hits written (or needed, with BUFFER_TOO_SMALL), or a path's length. */
    size_t count;
    /* The id read by nvsgo_get. */
    uint64_t id;
    /* The handle made by nvsgo_new / nvsgo_open*. */
    nvs_store *store;
    /* The bound path from nvsgo_file_path: malloc'd, NUL-terminated. */
    char *text;
} nvsgo_result;

/* Search options as plain arguments: a Go struct holding a pointer to Go memory may not be
 * passed to C, so the shim builds nvs_search_options on the C side. */
typedef struct nvsgo_search_args {
    size_t top_k;
    double threshold;
    bool has_threshold;
    bool has_within_rows;
    size_t within_rows_len;
    size_t threads;
} nvsgo_search_args;

nvsgo_result nvsgo_new(size_t dimensions, bool normalize, uint32_t storage);
nvsgo_result nvsgo_open(const char *path, uint32_t flags);
nvsgo_result nvsgo_open_bytes(const uint8_t *bytes, size_t len, uint32_t flags);
nvsgo_result nvsgo_add(nvs_store *store, const float *vectors, size_t vectors_len,
                       const uint64_t *ids, size_t ids_len);
nvsgo_result nvsgo_get(const nvs_store *store, size_t index, float *vector, size_t vector_len);
nvsgo_result nvsgo_clear(nvs_store *store);
nvsgo_result nvsgo_read_rows(const nvs_store *store, size_t start, size_t count, float *vectors,
                             size_t vectors_len, uint64_t *ids, size_t ids_len);
nvsgo_result nvsgo_search(const nvs_store *store, uint32_t metric, const float *query,
                          size_t query_len, nvsgo_search_args args, const size_t *within_rows,
                          nvs_hit *hits, size_t hits_capacity);
nvsgo_result nvsgo_search_batch(const nvs_store *store, uint32_t metric, const float *queries,
                                size_t queries_len, nvsgo_search_args args,
                                const size_t *within_rows, nvs_hit *hits, size_t hits_capacity,
                                size_t hits_per_query, size_t *hits_lens);
nvsgo_result nvsgo_save(const nvs_store *store, const char *path, uint32_t flags);
nvsgo_result nvsgo_reload(nvs_store *store, uint32_t flags);
nvsgo_result nvsgo_file_path(const nvs_store *store);
size_t nvsgo_default_top_k(void);

#endif
