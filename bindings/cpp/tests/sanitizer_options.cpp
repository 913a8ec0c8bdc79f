// Default options for the sanitizers, read by their runtimes at startup (environment
// variables still override them). Harmless in a program built without sanitizers.

#if defined(__GNUC__) || defined(__clang__)
extern "C" {

// A leak fails the run: store handles are Rust allocations that only nvs_store_free releases,
// so a Store that forgets its handle shows up here.
__attribute__((used, visibility("default"))) const char* __asan_default_options() {
    return "detect_leaks=1:halt_on_error=1";
}

__attribute__((used, visibility("default"))) const char* __ubsan_default_options() {
    return "print_stacktrace=1:halt_on_error=1";
}

__attribute__((used, visibility("default"))) const char* __tsan_default_options() {
    return "halt_on_error=1:second_deadlock_stack=1:suppressions=" NVS_TSAN_SUPPRESSIONS;
}

}  // extern "C"
#endif
