package nvs

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(Version()) {
		t.Fatalf("Version() = %q", Version())
	}
}

func TestNew(t *testing.T) {
	s := mustNew(t, 4)
	if s.Dimensions() != 4 || !s.Normalize() || s.Len() != 0 {
		t.Fatalf("New(4) = dims %d normalize %v len %d", s.Dimensions(), s.Normalize(), s.Len())
	}
	raw := mustNew(t, 2, WithNormalize(false))
	if raw.Normalize() {
		t.Fatal("WithNormalize(false) ignored")
	}
	for _, dims := range []int{0, -1} {
		s, err := New(dims)
		wantErr(t, err, ErrInvalidArgument)
		if s != nil {
			t.Fatalf("New(%d) returned a store with its error", dims)
		}
	}
}

func TestAddAndGet(t *testing.T) {
	s := mustNew(t, 2)
	if err := s.Add([]float32{3, 4, 0, 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]float32{1, 0}, []uint64{77}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	want := []struct {
		v  []float32
		id uint64
	}{{[]float32{0.6, 0.8}, 0}, {[]float32{0, 1}, 1}, {[]float32{1, 0}, 77}}
	for i, w := range want {
		v, id, err := s.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		if id != w.id || len(v) != 2 || !near(float64(v[0]), float64(w.v[0])) || !near(float64(v[1]), float64(w.v[1])) {
			t.Fatalf("Get(%d) = %v, %d; want %v, %d", i, v, id, w.v, w.id)
		}
	}
	for _, i := range []int{3, 100, -1} {
		_, _, err := s.Get(i)
		wantErr(t, err, ErrNotFound)
	}
}

func TestAddRawKeepsValues(t *testing.T) {
	s := mustNew(t, 2, WithNormalize(false))
	if err := s.Add([]float32{3, 4, 0, 0}, nil); err != nil { // a zero row is fine without normalize
		t.Fatal(err)
	}
	v, _, err := s.Get(0)
	if err != nil || !slices.Equal(v, []float32{3, 4}) {
		t.Fatalf("Get(0) = %v, %v", v, err)
	}
}

func TestAddErrorsChangeNothing(t *testing.T) {
	s := mustNew(t, 3)
	if err := s.Add([]float32{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	cases := []struct {
		name    string
		vectors []float32
		ids     []uint64
		want    error
	}{
		{"partial row", []float32{1, 2, 3, 4}, nil, ErrDimensionMismatch},
		{"short row", []float32{1, 2}, nil, ErrDimensionMismatch},
		{"nan", []float32{1, 2, 3, 1, nan, 3}, nil, ErrNonFinite},
		{"inf", []float32{float32(math.Inf(-1)), 0, 0}, nil, ErrNonFinite},
		{"zero row", []float32{1, 1, 1, 0, 0, 0}, nil, ErrZeroNorm},
		{"too many ids", []float32{1, 1, 1}, []uint64{1, 2}, ErrInvalidArgument},
		{"too few ids", []float32{1, 1, 1, 2, 2, 2}, []uint64{1}, ErrInvalidArgument},
		{"empty non-nil ids", []float32{1, 1, 1}, []uint64{}, ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, s.Add(c.vectors, c.ids), c.want)
			if s.Len() != 1 {
				t.Fatalf("a failed Add changed Len to %d", s.Len())
			}
		})
	}
	// Zero rows is not an error.
	if err := s.Add(nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]float32{}, []uint64{}); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d", s.Len())
	}
}

func TestAddRows(t *testing.T) {
	s := mustNew(t, 2, WithNormalize(false))
	if err := s.AddRows([][]float32{{1, 2}, {3, 4}}, []uint64{5, 6}); err != nil {
		t.Fatal(err)
	}
	err := s.AddRows([][]float32{{1, 2, 3}, {4}}, nil) // 4 values: ragged, though 2 rows' worth
	wantErr(t, err, ErrDimensionMismatch)
	if !strings.Contains(err.Error(), "AddRows") || !strings.Contains(err.Error(), "row 0") {
		t.Fatalf("error %q does not name the call and row", err)
	}
	wantErr(t, s.AddRows([][]float32{{1, 2}}, []uint64{1, 2}), ErrInvalidArgument)
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	vectors, ids, err := s.ReadRows(0, 2)
	if err != nil || !slices.Equal(vectors, []float32{1, 2, 3, 4}) || !slices.Equal(ids, []uint64{5, 6}) {
		t.Fatalf("ReadRows = %v %v %v", vectors, ids, err)
	}
}

func TestReadRows(t *testing.T) {
	s := mustNew(t, 2, WithNormalize(false))
	if err := s.Add([]float32{1, 2, 3, 4, 5, 6}, []uint64{7, 8, 9}); err != nil {
		t.Fatal(err)
	}
	vectors, ids, err := s.ReadRows(1, 2)
	if err != nil || !slices.Equal(vectors, []float32{3, 4, 5, 6}) || !slices.Equal(ids, []uint64{8, 9}) {
		t.Fatalf("ReadRows(1, 2) = %v %v %v", vectors, ids, err)
	}
	vectors, ids, err = s.ReadRows(3, 0)
	if err != nil || len(vectors) != 0 || len(ids) != 0 {
		t.Fatalf("ReadRows(3, 0) = %v %v %v", vectors, ids, err)
	}
	for _, r := range [][2]int{{2, 2}, {4, 0}, {-1, 1}, {0, -1}, {0, math.MaxInt}} {
		_, _, err := s.ReadRows(r[0], r[1])
		wantErr(t, err, ErrOutOfRange)
	}
}

func TestClear(t *testing.T) {
	s := axes(t)
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || s.Dimensions() != 3 {
		t.Fatalf("after Clear: len %d dims %d", s.Len(), s.Dimensions())
	}
	hits, err := s.CosineSearch([]float32{1, 0, 0})
	if err != nil || len(hits) != 0 {
		t.Fatalf("search after Clear = %v, %v", hits, err)
	}
	if err := s.Add([]float32{0, 1, 0}, nil); err != nil || s.Len() != 1 {
		t.Fatalf("Add after Clear: %v, len %d", err, s.Len())
	}
}

func TestStatusNamesAndErrors(t *testing.T) {
	if StatusDimensionMismatch.String() != "DIMENSION_MISMATCH" || StatusOK.String() != "OK" || Status(999).String() != "UNKNOWN" {
		t.Fatalf("status names: %v %v %v", StatusDimensionMismatch, StatusOK, Status(999))
	}
	// Every failure status has a sentinel, and each sentinel is distinct.
	seen := map[error]bool{}
	for st := StatusNullArgument; st <= StatusInternal; st++ {
		e := sentinels[st]
		if e == nil || seen[e] {
			t.Fatalf("status %v has no distinct sentinel", st)
		}
		seen[e] = true
		err := error(&Error{Op: "X", Status: st, Message: "m"})
		if !errors.Is(err, e) || errors.Is(err, ErrClosed) {
			t.Fatalf("errors.Is mapping wrong for %v", st)
		}
	}
	s := mustNew(t, 3)
	_, err := s.CosineSearch([]float32{1, 2})
	var e *Error
	if !errors.As(err, &e) || e.Op != "CosineSearch" || e.Status != StatusDimensionMismatch ||
		!strings.Contains(e.Message, "2") || !strings.Contains(e.Message, "3") {
		t.Fatalf("error = %#v", err)
	}
	if got := err.Error(); !strings.HasPrefix(got, "nvs: CosineSearch: ") || !strings.HasSuffix(got, "(DIMENSION_MISMATCH)") {
		t.Fatalf("Error() = %q", got)
	}
}

func TestFloat16Storage(t *testing.T) {
	s := mustNew(t, 3, WithNormalize(false), WithStorage(Float16))
	defer s.Close()
	if s.Storage() != Float16 || mustNew(t, 3).Storage() != Float32 {
		t.Fatalf("storage %v", s.Storage())
	}
	if err := s.Add([]float32{0.1, 2, -65504}, []uint64{5}); err != nil {
		t.Fatal(err)
	}
	v, id, err := s.Get(0)
	if err != nil || id != 5 || v[0] != 0.0999755859375 || v[1] != 2 || v[2] != -65504 {
		t.Fatalf("row %v id %d err %v", v, id, err)
	}
	wantErr(t, s.Add([]float32{1, 1e5, 0}, nil), ErrOutOfRange)
	if s.Len() != 1 {
		t.Fatalf("len %d after a failed add", s.Len())
	}
}
