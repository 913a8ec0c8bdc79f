package nvs

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The shared conformance cases (tests/conformance/*.cases, format in the README there) run
// through the Go API: each line is one call, and statuses, hits and values must match what
// the C runner sees. Values are compared as the README says ("Comparing"): hit values within
// the bound on their line (near ties in either order), a normalize store's rows within one
// float32 ulp, a raw store's rows exactly.

const (
	conformanceGlob = "testdata/conformance/*.cases"
	selftestGlob    = "testdata/conformance/selftest/*.cases"
)

func TestConformance(t *testing.T) {
	files, err := filepath.Glob(conformanceGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no conformance cases found at %s", conformanceGlob)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cases, failures := runCasesFile(t, file)
			for _, f := range failures {
				t.Error(f)
			}
			if cases == 0 {
				t.Errorf("%s holds no cases", file)
			}
		})
	}
}

// The runner itself (README "Runner self-tests"), from the self-test files every runner
// shares: in each, the cases named wrong_* are reported and every other case passes. This
// runner goes on after a mismatch, so where a case marks its wrong statements with `# wrong:`
// comments, it reports each of them once, on the statement's lines, and nothing else.
func TestConformanceRunner(t *testing.T) {
	files, err := filepath.Glob(selftestGlob)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sample.cases", "tolerance.cases", "wrong.cases"} {
		if !slices.Contains(files, filepath.Join(filepath.Dir(selftestGlob), want)) {
			t.Fatalf("%s missing from %q", want, files)
		}
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			expect := selftestExpectations(t, file)
			cases, failures := runCasesFile(t, file)
			if cases != len(expect) || cases == 0 {
				t.Fatalf("%d cases run, %d in the file", cases, len(expect))
			}
			for name, marked := range expect {
				var lines []int
				var mine []string
				for _, f := range failures {
					if strings.Contains(f, " case "+name+": ") {
						lines = append(lines, failureLine(t, f))
						mine = append(mine, f)
					}
				}
				switch {
				case !strings.HasPrefix(name, "wrong_"):
					if len(lines) != 0 {
						t.Errorf("%s was reported: %q", name, mine)
					}
				case len(lines) == 0:
					t.Errorf("%s was not reported", name)
				case len(marked) > 0:
					// Each marked statement once: failure lines fall into distinct statements.
					seen := map[int]bool{}
					for _, l := range lines {
						stmt := -1
						for k, span := range marked {
							if l >= span[0] && l <= span[1] {
								stmt = k
							}
						}
						if stmt < 0 || seen[stmt] {
							t.Errorf("%s: failure at line %d is not on a marked statement (or twice on one)", name, l)
						}
						seen[stmt] = true
					}
					if len(seen) != len(marked) {
						t.Errorf("%s: %d failures for %d marked statements: %q", name, len(lines), len(marked), mine)
					}
				}
			}
		})
	}
}

// selftestExpectations reads a self-test file: for each case, the line spans (first and last
// line numbers) of the statements marked by a `# wrong:` comment. A statement is one line, or
// a search line and its hit lines.
func selftestExpectations(t *testing.T, file string) map[string][][2]int {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	expect := map[string][][2]int{}
	name, marked, start := "", false, 0
	for i, line := range strings.Split(string(data), "\n") {
		no, text := i+1, strings.TrimSpace(line)
		switch {
		case text == "":
		case strings.HasPrefix(text, "# wrong:"):
			marked = true
		case strings.HasPrefix(text, "#"):
		case strings.HasPrefix(text, "case "):
			name = strings.TrimPrefix(text, "case ")
			expect[name] = nil
		case strings.HasPrefix(text, "hit ") && start > 0:
			if spans := expect[name]; marked {
				// A mark inside a search's hits marks the whole search.
				if len(spans) == 0 || spans[len(spans)-1][0] != start {
					expect[name] = append(spans, [2]int{start, no})
				}
				marked = false
			}
			if spans := expect[name]; len(spans) > 0 && spans[len(spans)-1][0] == start {
				spans[len(spans)-1][1] = no
			}
		default:
			start = no
			if marked {
				expect[name] = append(expect[name], [2]int{no, no})
				marked = false
			}
		}
	}
	return expect
}

// failureLine is the line number in a failure message ("file:LINE: case ...").
func failureLine(t *testing.T, failure string) int {
	_, rest, ok := strings.Cut(failure, ".cases:")
	if ok {
		digits, _, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(digits); err == nil {
			return n
		}
	}
	t.Fatalf("no line number in %q", failure)
	return 0
}

// expectedHit is a `hit` line: the reference's row, id and value, and the value's bound.
type expectedHit struct {
	line  *caseLine
	index int
	id    uint64
	value float64
	bound float64
}

// hitsProblem says why hits differ from want ("" when they agree): the same rows with their
// ids, each value within its bound, in the listed order except near ties (a positive sum of
// bounds and listed values at most that far apart), which may come either way. The line is
// where to report it (nil: the search line).
func hitsProblem(hits []Hit, want []expectedHit) (*caseLine, string) {
	if len(hits) != len(want) {
		return nil, fmt.Sprintf("search returned %d hits, expected %d: %v", len(hits), len(want), hits)
	}
	pos := make([]int, len(hits)) // the expected position of each hit
	used := make([]bool, len(want))
	for k, h := range hits {
		j := 0
		for j < len(want) && (used[j] || want[j].index != h.Index) {
			j++
		}
		if j == len(want) {
			return nil, fmt.Sprintf("hit %d is row %d, which is not expected (or comes twice)", k, h.Index)
		}
		used[j], pos[k] = true, j
		w := want[j]
		if h.ID != w.id {
			return w.line, fmt.Sprintf("row %d has id %d, expected %d", h.Index, h.ID, w.id)
		}
		if !(math.Abs(h.Value-w.value) <= w.bound) {
			return w.line, fmt.Sprintf("row %d has value %v, expected %v within %v", h.Index, h.Value, w.value, w.bound)
		}
	}
	for a := range pos {
		for b := a + 1; b < len(pos); b++ {
			if pos[b] > pos[a] {
				continue
			}
			first, later := want[pos[b]], want[pos[a]]
			slack := first.bound + later.bound
			if !(slack > 0 && math.Abs(first.value-later.value) <= slack) {
				return nil, fmt.Sprintf("row %d came before row %d, and they are not a near tie", later.index, first.index)
			}
		}
	}
	return nil, ""
}

// sameStoredValue: exact in a raw store, within one ulp in a normalize store (the unit row
// float32(x / |x|) may round its last bit either way).
func sameStoredValue(got, want float32, normalize bool) bool {
	if got != got || want != want {
		return false
	}
	d := ordered(got) - ordered(want)
	if d < 0 {
		d = -d
	}
	if normalize {
		return d <= 1
	}
	return d == 0
}

// ordered is a float's position among all floats (-0 and +0 share one).
func ordered(f float32) int64 {
	u := math.Float32bits(f)
	if u&0x80000000 != 0 {
		return -int64(u & 0x7fffffff)
	}
	return int64(u)
}

// statusOf names the status an error carries, as nvs_status_name does.
func statusOf(err error) string {
	if err == nil {
		return "OK"
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status.String()
	}
	return "GO_ERROR(" + err.Error() + ")"
}

type caseLine struct {
	file string
	no   int
	toks []string
	pos  int
}

func (l *caseLine) where() string { return fmt.Sprintf("%s:%d:", l.file, l.no) }

func (l *caseLine) next() (string, error) {
	if l.pos >= len(l.toks) {
		return "", fmt.Errorf("%s line ends early: %q", l.where(), strings.Join(l.toks, " "))
	}
	l.pos++
	return l.toks[l.pos-1], nil
}

func (l *caseLine) int() (int, error) {
	s, err := l.next()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s bad integer %q", l.where(), s)
	}
	return n, nil
}

func (l *caseLine) u64() (uint64, error) {
	s, err := l.next()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s bad id %q", l.where(), s)
	}
	return n, nil
}

func (l *caseLine) float() (float64, error) {
	s, err := l.next()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64) // accepts nan, inf, -inf
	if err != nil {
		return 0, fmt.Errorf("%s bad number %q", l.where(), s)
	}
	return f, nil
}

func (l *caseLine) floats32(n int) ([]float32, error) {
	v := make([]float32, n)
	for i := range v {
		f, err := l.float()
		if err != nil {
			return nil, err
		}
		v[i] = float32(f)
	}
	return v, nil
}

func (l *caseLine) done() error {
	if l.pos != len(l.toks) {
		return fmt.Errorf("%s unexpected tokens %q", l.where(), l.toks[l.pos:])
	}
	return nil
}

// runCasesFile runs every case of a file and returns the number of cases and one message
// per mismatch or malformed line (which ends its case). A file not made of cases stops the test.
func runCasesFile(t *testing.T, path string) (int, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []*caseLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for no := 1; sc.Scan(); no++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		lines = append(lines, &caseLine{file: path, no: no, toks: strings.Fields(text)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	cases := 0
	var failures []string
	for i := 0; i < len(lines); {
		if lines[i].toks[0] != "case" || len(lines[i].toks) != 2 {
			t.Fatalf("%s expected `case NAME`, got %q", lines[i].where(), lines[i].toks)
		}
		name := lines[i].toks[1]
		j := i + 1
		for j < len(lines) && lines[j].toks[0] != "end" {
			j++
		}
		if j == len(lines) {
			t.Fatalf("%s case %s has no `end`", lines[i].where(), name)
		}
		cases++
		fails, err := runCase(name, lines[i+1:j])
		failures = append(failures, fails...)
		if err != nil {
			// err starts with the line's "file:no:", as every failure does.
			where, why, _ := strings.Cut(err.Error(), ": ")
			failures = append(failures, fmt.Sprintf("%s: case %s: malformed line: %s", where, name, why))
		}
		i = j + 1
	}
	return cases, failures
}

// runCase runs one case's lines (between `case` and `end`). It returns the mismatches, or an
// error for a malformed line.
func runCase(name string, lines []*caseLine) (failures []string, err error) {
	var s *Store
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	fail := func(l *caseLine, format string, args ...any) {
		failures = append(failures, fmt.Sprintf("%s case %s: %s", l.where(), name, fmt.Sprintf(format, args...)))
	}
	// the last OK search, its hits, and the `hit` lines that follow it
	var got []Hit
	var want []expectedHit
	var lastSearch *caseLine
	flushHits := func() {
		if lastSearch != nil {
			if l, why := hitsProblem(got, want); why != "" {
				if l == nil {
					l = lastSearch
				}
				fail(l, "%s", why)
			}
		}
		lastSearch, got, want = nil, nil, nil
	}
	for _, l := range lines {
		verb, _ := l.next()
		if verb != "hit" {
			flushHits()
		}
		switch verb {
		case "store":
			dims, err := l.int()
			if err != nil {
				return nil, err
			}
			norm, err := l.int()
			if err != nil {
				return nil, err
			}
			want, err := l.next()
			if err != nil {
				return nil, err
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			got, err := New(dims, WithNormalize(norm == 1))
			if statusOf(err) != want {
				fail(l, "store: status %s (%v), want %s", statusOf(err), err, want)
			}
			if err == nil {
				s = got
			}
		case "add":
			want, err := l.next()
			if err != nil {
				return nil, err
			}
			n, err := l.int()
			if err != nil {
				return nil, err
			}
			vectors, err := l.floats32(n)
			if err != nil {
				return nil, err
			}
			var ids []uint64
			if tok, err := l.next(); err != nil {
				return nil, err
			} else if tok != "-" {
				nids, err := strconv.Atoi(tok)
				if err != nil {
					return nil, fmt.Errorf("%s bad id count %q", l.where(), tok)
				}
				ids = make([]uint64, nids) // non-nil even when empty: "no ids given"
				for k := range ids {
					if ids[k], err = l.u64(); err != nil {
						return nil, err
					}
				}
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			if s == nil {
				fail(l, "add without a store")
				continue
			}
			if err := s.Add(vectors, ids); statusOf(err) != want {
				fail(l, "add: status %s (%v), want %s", statusOf(err), err, want)
			}
		case "len":
			want, err := l.int()
			if err != nil {
				return nil, err
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			if s == nil {
				fail(l, "len without a store")
			} else if got := s.Len(); got != want {
				fail(l, "len %d, want %d", got, want)
			}
		case "get":
			index, err := l.int()
			if err != nil {
				return nil, err
			}
			want, err := l.next()
			if err != nil {
				return nil, err
			}
			var wantID uint64
			var wantV []float32
			if want == "OK" {
				if wantID, err = l.u64(); err != nil {
					return nil, err
				}
				if wantV, err = l.floats32(len(l.toks) - l.pos); err != nil {
					return nil, err
				}
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			if s == nil {
				fail(l, "get without a store")
				continue
			}
			v, id, err := s.Get(index)
			if statusOf(err) != want {
				fail(l, "get: status %s (%v), want %s", statusOf(err), err, want)
				continue
			}
			if err != nil {
				continue
			}
			if id != wantID || len(v) != len(wantV) {
				fail(l, "get: id %d with %d values, want id %d with %d", id, len(v), wantID, len(wantV))
				continue
			}
			for k := range v {
				if !sameStoredValue(v[k], wantV[k], s.Normalize()) {
					fail(l, "get: value %d is %v, want %v (normalize %v: one ulp, else exactly)", k, v[k], wantV[k], s.Normalize())
					break
				}
			}
		case "search":
			metricName, err := l.next()
			if err != nil {
				return nil, err
			}
			metric, err := ParseMetric(metricName)
			if err != nil {
				return nil, fmt.Errorf("%s %v", l.where(), err)
			}
			want, err := l.next()
			if err != nil {
				return nil, err
			}
			topK, err := l.int()
			if err != nil {
				return nil, err
			}
			opts := []SearchOption{TopK(topK)}
			if tok, err := l.next(); err != nil {
				return nil, err
			} else if tok != "-" {
				th, err := strconv.ParseFloat(tok, 64)
				if err != nil {
					return nil, fmt.Errorf("%s bad threshold %q", l.where(), tok)
				}
				opts = append(opts, Threshold(th))
			}
			if tok, err := l.next(); err != nil {
				return nil, err
			} else if tok != "-" {
				count, err := strconv.Atoi(tok)
				if err != nil {
					return nil, fmt.Errorf("%s bad row count %q", l.where(), tok)
				}
				rows := make([]int, count)
				for k := range rows {
					if rows[k], err = l.int(); err != nil {
						return nil, err
					}
				}
				opts = append(opts, WithinRows(rows...))
			}
			qlen, err := l.int()
			if err != nil {
				return nil, err
			}
			query, err := l.floats32(qlen)
			if err != nil {
				return nil, err
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			if s == nil {
				fail(l, "search without a store")
				continue
			}
			hits, err := s.Search(metric, query, opts...)
			if statusOf(err) != want {
				fail(l, "search: status %s (%v), want %s", statusOf(err), err, want)
				continue
			}
			lastSearch, got = l, hits
		case "hit":
			index, err := l.int()
			if err != nil {
				return nil, err
			}
			id, err := l.u64()
			if err != nil {
				return nil, err
			}
			value, err := l.float()
			if err != nil {
				return nil, err
			}
			bound, err := l.float()
			if err != nil {
				return nil, err
			}
			if err := l.done(); err != nil {
				return nil, err
			}
			if !(bound >= 0) {
				return nil, fmt.Errorf("%s bad bound %v", l.where(), bound)
			}
			if lastSearch == nil {
				fail(l, "hit %d %d %v without a successful search before it", index, id, value)
				continue
			}
			want = append(want, expectedHit{l, index, id, value, bound})
		default:
			return nil, fmt.Errorf("%s unknown line %q", l.where(), l.toks)
		}
	}
	flushHits()
	return failures, nil
}
