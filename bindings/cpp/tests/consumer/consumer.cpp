// Uses the installed C++ header and library; exits non-zero when anything is off.
#include <nvs/nvs.hpp>

#include <cstdio>
#include <cstring>

int main() {
    if (std::strcmp(nvs::version(), NVS_VERSION) != 0) {
        std::fprintf(stderr, "library %s, header %s\n", nvs::version(), NVS_VERSION);
        return 1;
    }
    try {
        nvs::Store store(2);
        store.add({1.0f, 0.0f, 0.0f, 1.0f}, {7, 8});
        nvs::SearchOptions options;
        options.top_k = 1;
        const auto hits = store.search(nvs::Metric::Cosine, {0.0f, 2.0f}, options);
        if (hits.size() != 1 || hits[0].id != 8 || hits[0].index != 1) {
            std::fprintf(stderr, "unexpected hits\n");
            return 1;
        }
        try {
            store.add({1.0f, 2.0f, 3.0f});
            std::fprintf(stderr, "a 3-float add to a 2-dimension store did not throw\n");
            return 1;
        } catch (const nvs::Error& e) {
            if (e.status() != nvs::Status::DimensionMismatch) {
                std::fprintf(stderr, "unexpected error: %s\n", e.what());
                return 1;
            }
        }
    } catch (const nvs::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    std::printf("ok %s\n", nvs::version());
    return 0;
}
