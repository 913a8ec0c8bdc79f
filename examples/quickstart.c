/* The quick start in C: three labelled axes, one query, the two nearest rows.
 *
 *   cargo build --release
 *   cc examples/quickstart.c -Iinclude target/release/libnvs.a -lpthread -ldl -lm -o quickstart
 *   ./quickstart
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvs.h"

static int check(nvs_status status, const char *what) {
    if (status != NVS_STATUS_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, nvs_status_name(status), nvs_last_error_message());
        return 0;
    }
    return 1;
}

int main(void) {
    static const char *const titles[] = {"x-axis", "y-axis", "z-axis"};
    const float rows[] = {
        1.0f, 0.0f, 0.0f, /* x-axis */
        0.0f, 1.0f, 0.0f, /* y-axis */
        0.0f, 0.0f, 1.0f, /* z-axis */
    };
    const uint64_t ids[] = {0, 1, 2}; /* metadata: index into titles */
    const float query[] = {0.9f, 0.1f, 0.0f};

    nvs_store *store = NULL;
    if (!check(nvs_store_new(3, true, &store), "nvs_store_new")) return EXIT_FAILURE;
    if (!check(nvs_store_add(store, rows, 9, ids, 3), "nvs_store_add")) goto fail;

    nvs_search_options options = nvs_search_options_default();
    options.top_k = 2;
    nvs_hit hits[2];
    size_t hits_len = 0;
    if (!check(nvs_store_search(store, NVS_METRIC_COSINE, query, 3, &options, hits, 2, &hits_len),
               "nvs_store_search"))
        goto fail;

    for (size_t i = 0; i < hits_len; i++) {
        printf("%s %.4f\n", titles[hits[i].id], hits[i].value);
    }
    nvs_store_free(store);
    return EXIT_SUCCESS;

fail:
    nvs_store_free(store);
    return EXIT_FAILURE;
}
