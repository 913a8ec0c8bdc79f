/* Uses the installed C header and library through pkg-config; exits non-zero on a mismatch. */
#include <nvs.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    const float rows[] = {1.0f, 0.0f, 0.0f, 1.0f};
    const float query[] = {0.0f, 2.0f};
    nvs_store *store = NULL;
    nvs_hit hit;
    size_t hits_len = 0;
    int ok;

    if (strcmp(nvs_version(), NVS_VERSION) != 0) {
        fprintf(stderr, "library %s, header %s\n", nvs_version(), NVS_VERSION);
        return 1;
    }
    if (nvs_store_new(2, true, &store) != NVS_STATUS_OK) return 1;
    ok = nvs_store_add(store, rows, 4, NULL, 0) == NVS_STATUS_OK &&
         nvs_store_search(store, NVS_METRIC_COSINE, query, 2, NULL, &hit, 1, &hits_len) ==
             NVS_STATUS_BUFFER_TOO_SMALL; /* default top_k 10 finds 2 hits; 1 slot is too few */
    if (ok) {
        nvs_search_options options = nvs_search_options_default();
        options.top_k = 1;
        ok = nvs_store_search(store, NVS_METRIC_COSINE, query, 2, &options, &hit, 1, &hits_len) ==
                 NVS_STATUS_OK &&
             hits_len == 1 && hit.index == 1;
    }
    nvs_store_free(store);
    if (!ok) {
        fprintf(stderr, "unexpected result: %s\n", nvs_last_error_message());
        return 1;
    }
    printf("ok %s\n", nvs_version());
    return 0;
}
