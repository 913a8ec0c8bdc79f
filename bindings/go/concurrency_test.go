package nvs

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Many goroutines search while others add: every search must see a consistent store (hits
// sorted, indexes inside the rows present, ids matching their rows), and no add is lost.
func TestConcurrentSearchWhileAdding(t *testing.T) {
	const dims, writers, batches, batchRows, readers = 16, 4, 100, 5, 8
	s := mustNew(t, dims)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := 0; b < batches; b++ {
				vectors := make([]float32, batchRows*dims)
				for i := range vectors {
					vectors[i] = rng.Float32() + 0.01
				}
				ids := make([]uint64, batchRows)
				for i := range ids {
					ids[i] = uint64(w*1_000_000 + b*batchRows + i)
				}
				if err := s.Add(vectors, ids); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	done := make(chan struct{})
	var rwg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rwg.Add(1)
		go func(r int) {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			q := make([]float32, dims)
			var buf []Hit
			for searches := 0; ; searches++ {
				select {
				case <-done:
					if searches > 0 {
						return
					}
				default:
				}
				for i := range q {
					q[i] = rng.Float32() - 0.5
				}
				metric := []Metric{Cosine, Dot, Euclidean}[searches%3]
				var err error
				buf, err = s.SearchInto(buf[:0], metric, q, TopK(7))
				if err != nil {
					t.Error(err)
					return
				}
				n := s.Len()
				for i, h := range buf {
					if h.Index >= n {
						t.Errorf("hit index %d beyond %d rows", h.Index, n)
						return
					}
					if i > 0 {
						prev := buf[i-1].Value
						if (metric == Euclidean && h.Value < prev) || (metric != Euclidean && h.Value > prev) {
							t.Errorf("%v hits out of order: %v", metric, buf)
							return
						}
					}
					_, id, err := s.Get(h.Index)
					if err != nil || id != h.ID {
						t.Errorf("hit %+v but Get(%d) = id %d, %v", h, h.Index, id, err)
						return
					}
				}
				if searches%10 == 0 {
					if _, err := s.SearchBatch(metric, append(q, q...), TopK(3)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(r)
	}
	wg.Wait()
	close(done)
	rwg.Wait()
	if got, want := s.Len(), writers*batches*batchRows; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	// Each batch landed whole and in order: ids inside a batch are consecutive rows.
	_, ids, err := s.ReadRows(0, s.Len())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for i := 0; i < len(ids); i += batchRows {
		for k := 1; k < batchRows; k++ {
			if ids[i+k] != ids[i]+uint64(k) {
				t.Fatalf("batch starting at row %d was interleaved: %v", i, ids[i:i+batchRows])
			}
		}
		for k := 0; k < batchRows; k++ {
			if seen[ids[i+k]] {
				t.Fatalf("id %d added twice", ids[i+k])
			}
			seen[ids[i+k]] = true
		}
	}
}

// A top-k beyond the store size while rows are added: the binding sizes its buffer from the
// row count read just before the call, and rows added after that read never make a search
// fail. Each search returns at least the rows present before it and at most those after it.
// The writer waits for a few searches after each add, so that adds and searches interleave.
func TestHugeTopKWhileAdding(t *testing.T) {
	const dims, batches, batchRows, readers = 4, 100, 2, 3
	s := mustNew(t, dims)
	rows := func(b int) []float32 {
		out := make([]float32, 0, batchRows*dims)
		for r := b * batchRows; r < (b+1)*batchRows; r++ {
			out = append(out, 1, float32(r%7), float32(r%11)-5, float32(r%13)/2)
		}
		return out
	}
	if err := s.Add(rows(0), nil); err != nil {
		t.Fatal(err)
	}
	var searches atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			q := []float32{1, float32(r), -1, 0.5}
			var buf []Hit
			for last := false; !last; searches.Add(1) {
				select {
				case <-done:
					last = true
				default:
				}
				before := s.Len()
				var hits []Hit
				var err error
				switch r {
				case 0:
					hits, err = s.Search(Cosine, q, TopK(math.MaxInt))
				case 1:
					buf, err = s.SearchInto(buf[:0], Euclidean, q, TopK(math.MaxInt))
					hits = buf
				default:
					var batch [][]Hit
					batch, err = s.SearchBatch(Dot, append(q, q...), TopK(math.MaxInt))
					if err == nil {
						hits = batch[1]
					}
				}
				after := s.Len()
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				if len(hits) < before || len(hits) > after {
					t.Errorf("reader %d: %d hits, store had %d rows before and %d after", r, len(hits), before, after)
					return
				}
				if last && len(hits) != batches*batchRows {
					t.Errorf("reader %d: last search after every add found %d hits", r, len(hits))
				}
			}
		}(r)
	}
	for b := 1; b < batches && !t.Failed(); b++ {
		if err := s.Add(rows(b), nil); err != nil {
			t.Error(err)
			break
		}
		for seen := searches.Load(); searches.Load() < seen+readers && !t.Failed(); {
			runtime.Gosched()
		}
	}
	close(done)
	wg.Wait()
}
