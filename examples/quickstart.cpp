// The quick start in C++: three labelled axes, one query, the two nearest rows.
//
//   cmake -S . -B build && cmake --build build
//   ./build/examples/quickstart_cpp
#include <nvs/nvs.hpp>

#include <cstdio>
#include <iostream>

int main() {
    const char* const titles[] = {"x-axis", "y-axis", "z-axis"};
    try {
        nvs::Store store(3);  // 3 dimensions, rows normalized
        store.add({1.0f, 0.0f, 0.0f,   // x-axis
                   0.0f, 1.0f, 0.0f,   // y-axis
                   0.0f, 0.0f, 1.0f},  // z-axis
                  {0, 1, 2});          // metadata: index into titles

        nvs::SearchOptions options;
        options.top_k = 2;
        for (const nvs::Hit& hit : store.search(nvs::Metric::Cosine, {0.9f, 0.1f, 0.0f}, options)) {
            std::printf("%s %.4f\n", titles[hit.id], hit.value);
        }
    } catch (const nvs::Error& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    return 0;
}
