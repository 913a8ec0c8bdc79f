package nvs

import (
	"errors"
	"runtime"
	"sync"
	"testing"
)

// Every method of a closed store reports ErrClosed instead of touching freed memory.
func TestUseAfterClose(t *testing.T) {
	s, err := New(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]float32{1, 0, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	q := []float32{1, 0, 0}
	calls := map[string]error{
		"Close":   s.Close(),
		"Add":     s.Add(q, nil),
		"AddRows": s.AddRows([][]float32{q}, nil),
		"Clear":   s.Clear(),
		"Save":    s.Save(""),
		"SaveAs":  s.Save(t.TempDir() + "/x.npz"),
		"Reload":  s.Reload(),
	}
	_, _, calls["Get"] = s.Get(0)
	_, _, calls["ReadRows"] = s.ReadRows(0, 1)
	_, calls["FilePath"] = s.FilePath()
	_, calls["Search"] = s.Search(Cosine, q)
	_, calls["CosineSearch"] = s.CosineSearch(q)
	_, calls["DotSearch"] = s.DotSearch(q)
	_, calls["EuclideanSearch"] = s.EuclideanSearch(q)
	_, calls["SearchInto"] = s.SearchInto(nil, Cosine, q)
	_, calls["SearchBatch"] = s.SearchBatch(Cosine, q)
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if s.Len() != 0 || s.Dimensions() != 3 || !s.Normalize() {
		t.Fatalf("closed store: len %d dims %d normalize %v", s.Len(), s.Dimensions(), s.Normalize())
	}
}

func TestNilStore(t *testing.T) {
	var s *Store
	wantErr(t, s.Add([]float32{1}, nil), ErrNullArgument)
	wantErr(t, s.AddRows(nil, nil), ErrNullArgument)
	wantErr(t, s.Close(), ErrNullArgument)
	_, err := s.CosineSearch([]float32{1})
	wantErr(t, err, ErrNullArgument)
	if s.Len() != 0 || s.Dimensions() != 0 || s.Normalize() {
		t.Fatal("nil store has rows")
	}
}

// Close waits for calls in flight and later calls fail cleanly, whatever the interleaving.
func TestCloseWhileInUse(t *testing.T) {
	for round := 0; round < 20; round++ {
		s, err := New(8)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]float32, 8*500)
		for i := range rows {
			rows[i] = float32(i%7 + 1)
		}
		if err := s.Add(rows, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 50; i++ {
					_, err := s.CosineSearch(rows[:8])
					if err != nil && !errors.Is(err, ErrClosed) {
						t.Error(err)
						return
					}
					if err := s.Add(rows[:8], nil); err != nil && !errors.Is(err, ErrClosed) {
						t.Error(err)
						return
					}
				}
			}()
		}
		close(start)
		runtime.Gosched()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

// A store dropped without Close is freed by its cleanup; this exercises that path (a crash
// or a race report here means the cleanup ran while the store was still reachable).
func TestCleanupWithoutClose(t *testing.T) {
	for i := 0; i < 100; i++ {
		s, err := New(4)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Add([]float32{1, 2, 3, 4}, nil); err != nil {
			t.Fatal(err)
		}
		if hits, err := s.CosineSearch([]float32{1, 2, 3, 4}); err != nil || len(hits) != 1 {
			t.Fatal(hits, err)
		}
	}
	runtime.GC()
	runtime.GC()
}
