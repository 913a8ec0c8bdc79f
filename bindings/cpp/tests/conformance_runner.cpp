// Runs the shared conformance cases (tests/conformance/*.cases, format in
// tests/conformance/README.md) through the C++ wrapper: every line becomes one nvs::Store
// call, and the statuses, row counts, rows and hits must match what the file says. One
// GoogleTest test per case. Values are compared as the README says ("Comparing"): hit values
// within the bound on their line (near ties in either order), a normalize store's rows within
// one float32 ulp, a raw store's rows exactly. Every OK search is repeated as a one-query
// search_batch and with two worker threads; nvs computes all three, so they must be identical.
//
//   nvs_cpp_conformance FILE_OR_FOLDER...
//
// A folder without any .cases file is a failure, so a missing case set cannot pass silently.
#include <nvs/nvs.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Line {
    std::string where;  // "file:line" for messages
    std::vector<std::string> tokens;
};

struct Case {
    std::string file;
    int line = 0;
    std::string name;
    std::vector<Line> body;  // the lines between `case` and `end`
};

// Reads tokens of one line left to right; every malformed value throws with the location.
class Tokens {
public:
    explicit Tokens(const Line& line) : line_(line) {}

    const std::string& word(const char* what) {
        if (next_ >= line_.tokens.size()) fail(std::string("missing ") + what);
        return line_.tokens[next_++];
    }

    std::uint64_t integer(const char* what) {
        const std::string& text = word(what);
        errno = 0;
        char* end = nullptr;
        const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || text[0] == '-' || *end != '\0' || errno == ERANGE) {
            fail(std::string("bad ") + what + " '" + text + "'");
        }
        return value;
    }

    std::size_t size(const char* what) { return static_cast<std::size_t>(integer(what)); }

    // Decimal, nan, inf or -inf.
    double real(const char* what) {
        const std::string& text = word(what);
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') fail(std::string("bad ") + what + " '" + text + "'");
        return value;
    }

    std::vector<float> floats(std::size_t count, const char* what) {
        std::vector<float> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; ++i) out.push_back(static_cast<float>(real(what)));
        return out;
    }

    bool more() const { return next_ < line_.tokens.size(); }

    void finish() {
        if (more()) fail("unexpected '" + line_.tokens[next_] + "'");
    }

    [[noreturn]] void fail(const std::string& message) const {
        throw std::runtime_error(line_.where + ": " + message);
    }

private:
    const Line& line_;
    std::size_t next_ = 0;
};

std::vector<Case> parse_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<Case> cases;
    std::optional<Case> open;
    std::string text;
    int number = 0;
    while (std::getline(in, text)) {
        ++number;
        Line line{path + ":" + std::to_string(number), {}};
        std::istringstream words(text);
        for (std::string w; words >> w;) line.tokens.push_back(w);
        // Blank lines and lines starting with `#` are skipped.
        if (line.tokens.empty() || line.tokens[0][0] == '#') continue;

        const std::string& keyword = line.tokens[0];
        if (keyword == "case") {
            if (open) throw std::runtime_error(line.where + ": case inside case " + open->name);
            if (line.tokens.size() != 2) throw std::runtime_error(line.where + ": expected `case NAME`");
            open = Case{path, number, line.tokens[1], {}};
        } else if (keyword == "end") {
            if (!open) throw std::runtime_error(line.where + ": end without case");
            cases.push_back(std::move(*open));
            open.reset();
        } else {
            if (!open) throw std::runtime_error(line.where + ": '" + keyword + "' outside a case");
            open->body.push_back(std::move(line));
        }
    }
    if (open) throw std::runtime_error(path + ": case " + open->name + " has no end");
    return cases;
}

// The status of a call as the library names it: "OK" or the thrown error's status.
std::string status_of(const std::function<void()>& call, std::string* message = nullptr) {
    try {
        call();
        return "OK";
    } catch (const nvs::Error& e) {
        if (message) *message = e.what();
        return nvs::status_name(e.status());
    }
}

// A float's position among all floats (-0 and +0 share one): floats a and b are
// |ordered(a) - ordered(b)| ulps apart.
std::int64_t ordered(float f) {
    std::uint32_t u = 0;
    std::memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? -static_cast<std::int64_t>(u & 0x7fffffffu) : static_cast<std::int64_t>(u);
}

// A stored value: exact in a raw store, within one ulp in a normalize store (the unit row
// float32(x / |x|) may round its last bit either way).
bool same_stored_value(float got, float want, bool normalize) {
    if (std::isnan(got) || std::isnan(want)) return false;
    const std::int64_t d = ordered(got) - ordered(want);
    return (d < 0 ? -d : d) <= (normalize ? 1 : 0);
}

nvs::Metric metric_named(Tokens& t) {
    const std::string& name = t.word("METRIC");
    if (name == "cosine") return nvs::Metric::Cosine;
    if (name == "dot") return nvs::Metric::Dot;
    if (name == "euclidean") return nvs::Metric::Euclidean;
    t.fail("unknown metric '" + name + "'");
}

// Parse a non-negative integer from a token already taken with word().
std::size_t count_from(Tokens& t, const std::string& text, const char* what) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || text[0] == '-' || *end != '\0' || errno == ERANGE) {
        t.fail(std::string("bad ") + what + " '" + text + "'");
    }
    return static_cast<std::size_t>(value);
}

struct ExpectedHit {
    std::string where;
    std::size_t index;
    std::uint64_t id;
    double value;
    double bound;
};

// Why `hits` differ from `expected`, or "" when they agree: the same rows with their ids, each
// value within its bound, in the listed order except near ties (a positive sum of bounds and
// listed values at most that far apart), which may come either way.
std::string hits_problem(const std::vector<nvs::Hit>& hits, const std::vector<ExpectedHit>& expected) {
    std::ostringstream why;
    if (hits.size() != expected.size()) {
        why << "search returned " << hits.size() << " hits, expected " << expected.size();
        return why.str();
    }
    std::vector<std::size_t> pos;  // expected position of each hit
    std::vector<bool> used(expected.size(), false);
    why.precision(17);
    for (std::size_t k = 0; k < hits.size(); ++k) {
        const nvs::Hit& h = hits[k];
        std::size_t j = 0;
        while (j < expected.size() && (used[j] || expected[j].index != h.index)) ++j;
        if (j == expected.size()) {
            why << "hit " << k << " is row " << h.index << ", which is not expected (or comes twice)";
            return why.str();
        }
        used[j] = true;
        pos.push_back(j);
        const ExpectedHit& e = expected[j];
        if (h.id != e.id) {
            why << e.where << ": row " << h.index << " has id " << h.id << ", expected " << e.id;
            return why.str();
        }
        if (!(std::fabs(h.value - e.value) <= e.bound)) {
            why << e.where << ": row " << h.index << " has value " << h.value << ", expected " << e.value
                << " within " << e.bound;
            return why.str();
        }
    }
    for (std::size_t a = 0; a < pos.size(); ++a) {
        for (std::size_t b = a + 1; b < pos.size(); ++b) {
            if (pos[b] > pos[a]) continue;
            const ExpectedHit& first = expected[pos[b]];
            const ExpectedHit& later = expected[pos[a]];
            const double slack = first.bound + later.bound;
            if (!(slack > 0 && std::fabs(first.value - later.value) <= slack)) {
                why << "row " << later.index << " came before row " << first.index
                    << ", and they are not a near tie";
                return why.str();
            }
        }
    }
    return "";
}

void run_case(const Case& c) {
    std::optional<nvs::Store> store;
    auto need_store = [&](const Tokens& t) -> nvs::Store& {
        if (!store) t.fail("no store: an earlier `store` line must succeed first");
        return *store;
    };

    for (std::size_t i = 0; i < c.body.size(); ++i) {
        const Line& line = c.body[i];
        SCOPED_TRACE(line.where);
        Tokens t(line);
        const std::string op = t.word("operation");
        std::string message;

        if (op == "store") {
            const std::size_t dims = t.size("DIMS");
            const std::uint64_t normalize = t.integer("NORMALIZE");
            const std::string want = t.word("STATUS");
            t.finish();
            store.reset();
            const std::string got = status_of([&] { store.emplace(dims, normalize != 0); }, &message);
            EXPECT_EQ(got, want) << message;
        } else if (op == "add") {
            const std::string want = t.word("STATUS");
            const std::vector<float> vectors = t.floats(t.size("NVALUES"), "value");
            const std::string ids_field = t.word("IDS");
            std::string got;
            if (ids_field == "-") {
                t.finish();
                got = status_of([&] { need_store(t).add(vectors); }, &message);
            } else {
                const std::size_t count = count_from(t, ids_field, "NIDS");
                std::vector<std::uint64_t> ids;
                for (std::size_t k = 0; k < count; ++k) ids.push_back(t.integer("id"));
                t.finish();
                got = status_of([&] { need_store(t).add(vectors, ids); }, &message);
            }
            EXPECT_EQ(got, want) << message;
        } else if (op == "len") {
            const std::size_t want = t.size("N");
            t.finish();
            EXPECT_EQ(need_store(t).size(), want);
        } else if (op == "get") {
            const std::size_t index = t.size("INDEX");
            const std::string want = t.word("STATUS");
            nvs::Row row{};
            const std::string got = status_of([&] { row = need_store(t).get(index); }, &message);
            EXPECT_EQ(got, want) << message;
            if (want == "OK") {
                const std::uint64_t id = t.integer("ID");
                const std::vector<float> values = t.floats(need_store(t).dimensions(), "value");
                t.finish();
                if (got == "OK") {
                    EXPECT_EQ(row.id, id);
                    ASSERT_EQ(row.vector.size(), values.size());
                    const bool normalize = need_store(t).normalize();
                    for (std::size_t k = 0; k < values.size(); ++k) {
                        EXPECT_TRUE(same_stored_value(row.vector[k], values[k], normalize))
                            << "value " << k << ": got " << row.vector[k] << ", want " << values[k]
                            << (normalize ? " within one ulp" : " exactly");
                    }
                }
            } else {
                t.finish();
            }
        } else if (op == "search") {
            const nvs::Metric metric = metric_named(t);
            const std::string want = t.word("STATUS");
            nvs::SearchOptions options;
            options.top_k = t.size("TOPK");
            if (const std::string threshold = t.word("THRESHOLD"); threshold != "-") {
                char* end = nullptr;
                options.threshold = std::strtod(threshold.c_str(), &end);
                if (*end != '\0') t.fail("bad THRESHOLD '" + threshold + "'");
            }
            if (const std::string within = t.word("WITHIN"); within != "-") {
                const std::size_t count = count_from(t, within, "COUNT");
                options.within_rows.emplace();
                for (std::size_t k = 0; k < count; ++k) options.within_rows->push_back(t.size("row"));
            }
            const std::vector<float> query = t.floats(t.size("QLEN"), "query value");
            t.finish();

            // The expected hits follow on `hit` lines.
            std::vector<ExpectedHit> expected;
            while (i + 1 < c.body.size() && c.body[i + 1].tokens[0] == "hit") {
                const Line& hit_line = c.body[++i];
                Tokens h(hit_line);
                h.word("hit");
                ExpectedHit e{hit_line.where, h.size("INDEX"), h.integer("ID"), h.real("VALUE"), 0.0};
                e.bound = h.real("BOUND");
                if (!(e.bound >= 0)) h.fail("bad BOUND");
                h.finish();
                expected.push_back(e);
            }
            if (want != "OK" && !expected.empty()) t.fail("hit lines after a failing search");

            std::vector<nvs::Hit> hits;
            const std::string got =
                status_of([&] { hits = need_store(t).search(metric, query, options); }, &message);
            EXPECT_EQ(got, want) << message;
            if (got == "OK" && want == "OK") {
                const std::string problem = hits_problem(hits, expected);
                EXPECT_EQ(problem, "");
                // The same search as a one-query batch and on two worker threads must agree
                // exactly with the plain one.
                nvs::SearchOptions two_threads = options;
                two_threads.threads = 2;
                const std::vector<std::vector<nvs::Hit>> batch = need_store(t).search_batch(metric, query, options);
                const std::vector<nvs::Hit> parallel = need_store(t).search(metric, query, two_threads);
                ASSERT_EQ(batch.size(), 1u);
                for (const std::vector<nvs::Hit>* other : {&batch[0], &parallel}) {
                    ASSERT_EQ(other->size(), hits.size()) << (other == &parallel ? "threads 2" : "batch");
                    for (std::size_t k = 0; k < hits.size(); ++k) {
                        EXPECT_EQ((*other)[k].index, hits[k].index) << "hit " << k;
                        EXPECT_EQ((*other)[k].value, hits[k].value) << "hit " << k;
                    }
                }
            }
        } else if (op == "hit") {
            t.fail("hit line not right after a search");
        } else {
            t.fail("unknown operation '" + op + "'");
        }
    }
}

// A test that fails with `message` (a parse error, an empty folder).
class Failing : public ::testing::Test {
public:
    explicit Failing(std::string message) : message_(std::move(message)) {}
    void TestBody() override { FAIL() << message_; }

private:
    std::string message_;
};

class Conformance : public ::testing::Test {
public:
    explicit Conformance(const Case* c) : case_(c) {}
    void TestBody() override {
        try {
            run_case(*case_);
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
    }

private:
    const Case* case_;
};

// gtest names may not be empty; keep them readable otherwise.
std::string test_name(std::string text) {
    for (char& ch : text) {
        if (ch == '/' || ch == '.') ch = '_';
    }
    return text.empty() ? "_" : text;
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
        return 2;
    }

    static std::list<std::vector<Case>> all;  // the registered tests point into it
    auto fail_with = [](const std::string& suite, const std::string& message) {
        ::testing::RegisterTest(test_name(suite).c_str(), "Setup", nullptr, nullptr, __FILE__, __LINE__,
                                [message]() -> ::testing::Test* { return new Failing(message); });
    };

    for (int a = 1; a < argc; ++a) {
        const fs::path arg(argv[a]);
        std::vector<fs::path> files;
        if (fs::is_directory(arg)) {
            for (const auto& entry : fs::directory_iterator(arg)) {
                if (entry.path().extension() == ".cases") files.push_back(entry.path());
            }
            std::sort(files.begin(), files.end());
            if (files.empty()) {
                fail_with(arg.filename().string(), "no .cases files in " + arg.string());
                continue;
            }
        } else if (fs::is_regular_file(arg)) {
            files.push_back(arg);
        } else {
            fail_with(arg.filename().string(), "no such file or folder: " + arg.string());
            continue;
        }

        for (const fs::path& file : files) {
            const std::string suite = test_name(file.stem().string());
            try {
                all.push_back(parse_file(file.string()));
            } catch (const std::exception& e) {
                fail_with(suite, e.what());
                continue;
            }
            if (all.back().empty()) {
                fail_with(suite, "no cases in " + file.string());
                continue;
            }
            for (const Case& c : all.back()) {
                const Case* pointer = &c;
                ::testing::RegisterTest(suite.c_str(), test_name(c.name).c_str(), nullptr, nullptr,
                                        c.file.c_str(), c.line,
                                        [pointer]() -> ::testing::Test* { return new Conformance(pointer); });
            }
        }
    }
    return RUN_ALL_TESTS();
}
