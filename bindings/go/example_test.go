package nvs_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	nvs "github.com/native-vector-store/nvs/bindings/go"
)

// The quick start: three axis vectors, one query, the two nearest rows.
func Example() {
	store, err := nvs.New(3)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	err = store.Add([]float32{
		1, 0, 0, // x axis
		0, 1, 0, // y axis
		0, 0, 1, // z axis
	}, []uint64{10, 20, 30})
	if err != nil {
		log.Fatal(err)
	}

	hits, err := store.CosineSearch([]float32{0.9, 0.1, 0}, nvs.TopK(2))
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("row %d id %d cosine %.4f\n", h.Index, h.ID, h.Value)
	}
	// Output:
	// row 0 id 10 cosine 0.9939
	// row 1 id 20 cosine 0.1104
}

// Errors wrap one sentinel per status and carry the library's message.
func Example_errors() {
	store, _ := nvs.New(3)
	defer store.Close()

	_, err := store.CosineSearch([]float32{1, 0})
	fmt.Println(errors.Is(err, nvs.ErrDimensionMismatch))
	fmt.Println(err)

	store.Close()
	_, err = store.CosineSearch([]float32{1, 0, 0})
	fmt.Println(errors.Is(err, nvs.ErrClosed))
	// Output:
	// true
	// nvs: CosineSearch: query has 2 dimensions, store has 3 (DIMENSION_MISMATCH)
	// true
}

// A server can keep one hit buffer per worker: SearchInto appends into it without
// allocating when it has room for top-k hits.
func ExampleStore_SearchInto() {
	store, _ := nvs.New(2, nvs.WithNormalize(false))
	defer store.Close()
	store.Add([]float32{1, 0, 2, 0, 0, 3}, nil) // ids are the row indexes

	buf := make([]nvs.Hit, 0, 10)
	for _, q := range [][]float32{{1, 0}, {0, 1}} {
		buf, _ = store.SearchInto(buf[:0], nvs.Dot, q, nvs.TopK(1))
		fmt.Println(buf[0].ID, buf[0].Value)
	}
	// Output:
	// 1 2
	// 2 3
}

// Thresholds and prefilters: Threshold is a minimum similarity for cosine and dot, a maximum
// distance for euclidean; WithinRows searches a subset of rows.
func ExampleWithinRows() {
	store, _ := nvs.New(2)
	defer store.Close()
	store.Add([]float32{1, 0, 1, 1, 0, 1}, []uint64{100, 101, 102})

	hits, _ := store.EuclideanSearch([]float32{1, 0}, nvs.WithinRows(1, 2), nvs.Threshold(1))
	for _, h := range hits {
		fmt.Printf("id %d distance %.4f\n", h.ID, h.Value)
	}
	// Output:
	// id 101 distance 0.7654
}

func ExampleStore_SearchBatch() {
	store, _ := nvs.New(3)
	defer store.Close()
	store.Add([]float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, []uint64{10, 20, 30})

	results, _ := store.SearchBatch(nvs.Cosine, []float32{
		0, 0, 2, // query 0
		0, 3, 0, // query 1
	}, nvs.TopK(1))
	for i, hits := range results {
		fmt.Println(i, hits[0].ID)
	}
	// Output:
	// 0 30
	// 1 20
}

// Save binds the store to the file; Save("") saves there again, Open and Reload read it.
func ExampleStore_Save() {
	dir, _ := os.MkdirTemp("", "nvs-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vectors.npz")

	store, _ := nvs.New(2)
	defer store.Close()
	store.Add([]float32{1, 0}, []uint64{7})
	if err := store.Save(path); err != nil {
		log.Fatal(err)
	}
	store.Add([]float32{0, 1}, []uint64{8})
	if err := store.Save(""); err != nil { // the bound path
		log.Fatal(err)
	}

	opened, err := nvs.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer opened.Close()
	_, ids, _ := opened.ReadRows(0, opened.Len())
	bound, _ := opened.FilePath()
	fmt.Println(ids, bound == path)
	// Output:
	// [7 8] true
}
