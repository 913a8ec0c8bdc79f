package nvs

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func checkHits(t *testing.T, got []Hit, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hits %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].ID != want[i].ID || !near(got[i].Value, want[i].Value) {
			t.Fatalf("hit %d = %+v, want %+v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestMetrics(t *testing.T) {
	s := axes(t)
	x := 0.9 / math.Sqrt(0.82)
	y := 0.1 / math.Sqrt(0.82)
	q := []float32{0.9, 0.1, 0}
	hits, err := s.CosineSearch(q, TopK(2))
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{0, 10, x}, {1, 20, y}})
	hits, err = s.DotSearch(q) // a normalize store normalizes the query for dot too
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{0, 10, x}, {1, 20, y}, {2, 30, 0}})
	hits, err = s.EuclideanSearch(q, TopK(1))
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{0, 10, math.Sqrt(2 - 2*x)}})
	hits, err = s.Search(Euclidean, q)
	if err != nil || len(hits) != 3 || hits[2].ID != 30 {
		t.Fatalf("Search(Euclidean) = %v, %v", hits, err)
	}

	raw := mustNew(t, 2, WithNormalize(false))
	if err := raw.Add([]float32{1, 0, 2, 0, 0, 3}, nil); err != nil {
		t.Fatal(err)
	}
	hits, err = raw.DotSearch([]float32{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{1, 1, 4}, {2, 2, 3}, {0, 0, 2}})
	hits, err = raw.EuclideanSearch([]float32{2, 0}, TopK(2))
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{1, 1, 0}, {0, 0, 1}})
}

func TestTiesKeepInsertionOrder(t *testing.T) {
	s := mustNew(t, 2)
	if err := s.Add([]float32{0, 1, 1, 0, 1, 0, 2, 0}, []uint64{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.CosineSearch([]float32{1, 0}, TopK(3))
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{1, 2, 1}, {2, 3, 1}, {3, 4, 1}})
}

func TestThresholds(t *testing.T) {
	s := axes(t)
	q := []float32{0.9, 0.1, 0}
	// One threshold, as in the C API: a minimum for cosine and dot, a maximum for euclidean.
	// The distances from q are about 0.11 (row 10) and 1.33 and 1.41 (rows 20 and 30).
	for _, c := range []struct {
		metric    Metric
		threshold float64
		ids       []uint64
	}{
		{Cosine, 0.5, []uint64{10}},
		{Cosine, -1, []uint64{10, 20, 30}},
		{Dot, 2, nil},
		{Euclidean, 1.0, []uint64{10}},
		{Euclidean, 0.1, nil},
		{Euclidean, 2, []uint64{10, 20, 30}},
	} {
		hits, err := s.Search(c.metric, q, Threshold(c.threshold))
		var ids []uint64
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		if err != nil || !slices.Equal(ids, c.ids) {
			t.Fatalf("%v Threshold(%v) = %v, %v; want ids %v", c.metric, c.threshold, hits, err, c.ids)
		}
	}
	_, err := s.CosineSearch(q, Threshold(math.NaN()))
	wantErr(t, err, ErrNonFinite)
	_, err = s.EuclideanSearch(q, Threshold(math.Inf(1)))
	wantErr(t, err, ErrNonFinite)
}

func TestWithinRows(t *testing.T) {
	s := axes(t)
	q := []float32{0.9, 0.1, 0}
	hits, err := s.CosineSearch(q, WithinRows(2, 1))
	if err != nil {
		t.Fatal(err)
	}
	checkHits(t, hits, []Hit{{1, 20, 0.1 / math.Sqrt(0.82)}, {2, 30, 0}})
	rows := []int{2}
	hits, err = s.CosineSearch(q, WithinRows(rows...))
	if err != nil || len(hits) != 1 || hits[0].Index != 2 {
		t.Fatalf("WithinRows(2) = %v, %v", hits, err)
	}
	for _, empty := range []SearchOption{WithinRows(), WithinRows([]int{}...)} {
		hits, err = s.CosineSearch(q, empty)
		if err != nil || len(hits) != 0 {
			t.Fatalf("empty WithinRows = %v, %v", hits, err)
		}
	}
	// The query is still validated with an empty prefilter.
	_, err = s.CosineSearch([]float32{1}, WithinRows())
	wantErr(t, err, ErrDimensionMismatch)
	_, err = s.CosineSearch(q, WithinRows(1, 1))
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.CosineSearch(q, WithinRows(3))
	wantErr(t, err, ErrOutOfRange)
	_, err = s.CosineSearch(q, WithinRows(-1))
	wantErr(t, err, ErrOutOfRange)
}

func TestSearchOptionErrors(t *testing.T) {
	s := axes(t)
	q := []float32{1, 0, 0}
	_, err := s.CosineSearch(q, TopK(0))
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.CosineSearch(q, TopK(-1))
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.CosineSearch(q, Threads(-1))
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.Search(Metric(7), q)
	wantErr(t, err, ErrInvalidArgument)
	for _, threads := range []int{0, 1, 2} {
		hits, err := s.CosineSearch(q, Threads(threads))
		if err != nil || len(hits) != 3 {
			t.Fatalf("Threads(%d) = %v, %v", threads, hits, err)
		}
	}
}

// A top-k far beyond the store size returns every row and reserves room for the rows that can
// match, not for top-k hits (which could not be allocated at all).
func TestHugeTopK(t *testing.T) {
	s := axes(t)
	q := []float32{1, 0, 0}
	hits, err := s.CosineSearch(q, TopK(math.MaxInt))
	if err != nil || len(hits) != 3 || cap(hits) > 8 {
		t.Fatalf("TopK(MaxInt) = %d hits (cap %d), %v", len(hits), cap(hits), err)
	}
	dst := make([]Hit, 1, 2)
	hits, err = s.SearchInto(dst, Dot, q, TopK(math.MaxInt))
	if err != nil || len(hits) != 4 || cap(hits) > 8 {
		t.Fatalf("SearchInto TopK(MaxInt) = %d hits (cap %d), %v", len(hits), cap(hits), err)
	}
	hits, err = s.EuclideanSearch(q, TopK(math.MaxInt), WithinRows(2, 0))
	if err != nil || len(hits) != 2 || hits[0].Index != 0 || cap(hits) > 8 {
		t.Fatalf("TopK(MaxInt) WithinRows(2, 0) = %v (cap %d), %v", hits, cap(hits), err)
	}
	hits, err = s.CosineSearch(q, TopK(math.MaxInt), WithinRows())
	if err != nil || len(hits) != 0 {
		t.Fatalf("TopK(MaxInt) WithinRows() = %v, %v", hits, err)
	}
	batch, err := s.SearchBatch(Cosine, []float32{1, 0, 0, 0, 1, 0}, TopK(math.MaxInt))
	if err != nil || len(batch) != 2 || len(batch[0]) != 3 || cap(batch[1]) != 3 {
		t.Fatalf("SearchBatch TopK(MaxInt) = %v, %v", batch, err)
	}
	empty := mustNew(t, 3)
	if hits, err := empty.CosineSearch(q, TopK(math.MaxInt)); err != nil || len(hits) != 0 {
		t.Fatalf("empty store TopK(MaxInt) = %v, %v", hits, err)
	}
}

func TestQueryErrors(t *testing.T) {
	s := axes(t)
	for _, c := range []struct {
		name  string
		query []float32
		want  error
	}{
		{"nil", nil, ErrDimensionMismatch},
		{"short", []float32{1, 0}, ErrDimensionMismatch},
		{"long", []float32{1, 0, 0, 0}, ErrDimensionMismatch},
		{"nan", []float32{float32(math.NaN()), 0, 0}, ErrNonFinite},
		{"zero", []float32{0, 0, 0}, ErrZeroNorm},
	} {
		for _, m := range []Metric{Cosine, Dot, Euclidean} {
			_, err := s.Search(m, c.query)
			wantErr(t, err, c.want)
		}
	}
	// Raw cosine search rejects zero-norm stored rows.
	raw := mustNew(t, 2, WithNormalize(false))
	if err := raw.Add([]float32{1, 0, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := raw.CosineSearch([]float32{1, 0})
	wantErr(t, err, ErrZeroNorm)
	if hits, err := raw.DotSearch([]float32{1, 0}); err != nil || len(hits) != 2 {
		t.Fatalf("raw dot = %v, %v", hits, err)
	}
}

func TestSearchInto(t *testing.T) {
	s := axes(t)
	q := []float32{0.9, 0.1, 0}
	prefix := Hit{Index: 99, ID: 99, Value: 99}
	dst := make([]Hit, 1, 16)
	dst[0] = prefix
	out, err := s.SearchInto(dst, Cosine, q, TopK(2))
	if err != nil || len(out) != 3 || out[0] != prefix || out[1].ID != 10 || out[2].ID != 20 || &out[0] != &dst[0] {
		t.Fatalf("SearchInto = %v, %v", out, err)
	}
	// On error dst comes back unchanged.
	out, err = s.SearchInto(dst, Cosine, []float32{1})
	if !errors.Is(err, ErrDimensionMismatch) || len(out) != 1 || out[0] != prefix {
		t.Fatalf("failing SearchInto = %v, %v", out, err)
	}
	// Without room it grows like append.
	out, err = s.SearchInto(nil, Dot, q)
	if err != nil || len(out) != 3 {
		t.Fatalf("SearchInto(nil) = %v, %v", out, err)
	}
	// With room it does not allocate.
	buf := make([]Hit, 0, 10)
	allocs := testing.AllocsPerRun(100, func() {
		buf, err = s.SearchInto(buf[:0], Cosine, q, TopK(2), Threshold(-1), Threads(1))
	})
	if err != nil || len(buf) != 2 || allocs != 0 {
		t.Fatalf("SearchInto with room: %v hits, %v, %v allocations per run", buf, err, allocs)
	}
}

func TestSearchBatch(t *testing.T) {
	s := mustNew(t, 3)
	if err := s.Add([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1}, nil); err != nil {
		t.Fatal(err)
	}
	queries := []float32{0.9, 0.1, 0, 0, 0.2, 1, 1, 1, 1}
	for _, m := range []Metric{Cosine, Dot, Euclidean} {
		for _, opts := range [][]SearchOption{nil, {TopK(2)}, {WithinRows(4, 0, 2)}} {
			batch, err := s.SearchBatch(m, queries, opts...)
			if err != nil || len(batch) != 3 {
				t.Fatalf("SearchBatch(%v) = %v, %v", m, batch, err)
			}
			for i := range batch {
				one, err := s.Search(m, queries[3*i:3*i+3], opts...)
				if err != nil {
					t.Fatal(err)
				}
				checkHits(t, batch[i], one)
				if cap(batch[i]) != len(batch[i]) {
					t.Fatal("batch results share room with their neighbours")
				}
			}
		}
	}
	_, err := s.SearchBatch(Cosine, queries[:4])
	wantErr(t, err, ErrDimensionMismatch)
	bad := slices.Clone(queries)
	bad[4] = float32(math.Inf(1))
	_, err = s.SearchBatch(Cosine, bad)
	wantErr(t, err, ErrNonFinite)
	if !containsWord(err.Error(), "1") {
		t.Fatalf("batch error %q does not name query 1", err)
	}
	_, err = s.SearchBatch(Cosine, queries, TopK(0))
	wantErr(t, err, ErrInvalidArgument)
	batch, err := s.SearchBatch(Dot, queries, TopK(math.MaxInt))
	if err != nil || len(batch) != 3 || len(batch[0]) != 5 {
		t.Fatalf("batch TopK(MaxInt) = %v, %v", batch, err)
	}
}

// Zero queries is an empty batch, on an empty store and on a filled one.
func TestSearchBatchNoQueries(t *testing.T) {
	for _, rows := range []int{0, 2} {
		s := mustNew(t, 2)
		if err := s.Add([]float32{1, 0, 0, 1}[:2*rows], nil); err != nil {
			t.Fatal(err)
		}
		for _, queries := range [][]float32{nil, {}} {
			batch, err := s.SearchBatch(Cosine, queries)
			if err != nil || len(batch) != 0 {
				t.Fatalf("store of %d rows: empty batch = %v, %v", s.Len(), batch, err)
			}
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w && (i == 0 || s[i-1] < '0' || s[i-1] > '9') &&
			(i+len(w) == len(s) || s[i+len(w)] < '0' || s[i+len(w)] > '9') {
			return true
		}
	}
	return false
}

func TestMetricNames(t *testing.T) {
	for _, m := range []Metric{Cosine, Dot, Euclidean} {
		got, err := ParseMetric(m.String())
		if err != nil || got != m {
			t.Fatalf("ParseMetric(%q) = %v, %v", m.String(), got, err)
		}
	}
	if Metric(9).String() != "Metric(9)" {
		t.Fatal(Metric(9).String())
	}
	if m, err := ParseMetric("COSINE"); err != nil || m != Cosine {
		t.Fatal(m, err)
	}
	_, err := ParseMetric("manhattan")
	wantErr(t, err, ErrInvalidArgument)
}

// The copying path used where Hit and nvs_hit differ in layout (32-bit platforms) gives the
// same results as the direct path used on 64-bit ones.
func TestHitCopyPath(t *testing.T) {
	if !hitLayoutOK {
		t.Skip("this platform already uses the copying path")
	}
	s := axes(t)
	queries := []float32{0.9, 0.1, 0, 0, 1, 1}
	direct, err1 := s.Search(Dot, queries[:3], TopK(2))
	directBatch, err2 := s.SearchBatch(Euclidean, queries)
	hitLayoutOK = false
	copied, err3 := s.Search(Dot, queries[:3], TopK(2))
	copiedBatch, err4 := s.SearchBatch(Euclidean, queries)
	hitLayoutOK = true
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(direct, copied) || len(directBatch) != 2 ||
		!slices.Equal(directBatch[0], copiedBatch[0]) || !slices.Equal(directBatch[1], copiedBatch[1]) {
		t.Fatalf("direct %v %v, copied %v %v", direct, directBatch, copied, copiedBatch)
	}
}
