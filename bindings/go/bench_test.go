package nvs

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// Benchmarks: `go test -run '^$' -bench . -benchtime 2s` in bindings/go. They report ns/op;
// the pure-Go scan is a peer for scale, not a competitor (one thread, no SIMD).

func randomRows(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

func benchStore(b *testing.B, rows, dims int) (*Store, []float32, []float32) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	data := randomRows(rng, rows*dims)
	s, err := New(dims)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Add(data, nil); err != nil {
		b.Fatal(err)
	}
	return s, data, randomRows(rng, dims)
}

func BenchmarkSearch(b *testing.B) {
	const dims = 384
	for _, rows := range []int{10_000, 100_000} {
		s, data, q := benchStore(b, rows, dims)
		name := strconv.Itoa(rows/1000) + "kx384"
		for _, m := range []Metric{Cosine, Euclidean} {
			for _, threads := range []int{0, 1} {
				b.Run(name+"/"+m.String()+"/threads="+strconv.Itoa(threads), func(b *testing.B) {
					hits := make([]Hit, 0, 10)
					var err error
					b.ReportAllocs()
					for b.Loop() {
						hits, err = s.SearchInto(hits[:0], m, q, TopK(10), Threads(threads))
						if err != nil || len(hits) != 10 {
							b.Fatal(hits, err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
				})
			}
		}
		b.Run(name+"/batch16/cosine", func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			queries := randomRows(rng, 16*dims)
			for b.Loop() {
				if _, err := s.SearchBatch(Cosine, queries, TopK(10)); err != nil {
					b.Fatal(err)
				}
			}
		})
		if rows == 10_000 {
			b.Run(name+"/pure-go-dot-scan", func(b *testing.B) {
				for b.Loop() {
					best, bestAt := float32(-2), -1
					for r := 0; r < rows; r++ {
						row := data[r*dims : (r+1)*dims]
						var dot float32
						for i, x := range row {
							dot += x * q[i]
						}
						if dot > best {
							best, bestAt = dot, r
						}
					}
					if bestAt < 0 {
						b.Fatal("no row")
					}
				}
			})
		}
	}
}

// The fixed cost of one call through cgo, the Go lock and the library: a search of an empty
// store, and Len.
func BenchmarkCallOverhead(b *testing.B) {
	s, err := New(384)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q := make([]float32, 384)
	q[0] = 1
	b.Run("search-empty-store", func(b *testing.B) {
		hits := make([]Hit, 0, 10)
		b.ReportAllocs()
		for b.Loop() {
			hits, err = s.SearchInto(hits[:0], Cosine, q)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("len", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.Len() != 0 {
				b.Fatal("rows")
			}
		}
	})
}
