// Package nvs is the Go binding of native-vector-store: an in-memory exact vector store
// (a Rust library behind the C API in include/nvs.h) for Go services.
//
// Quick start:
//
//	store, err := nvs.New(3) // 3 dimensions; rows are normalized (nvs.WithNormalize(false) keeps them raw)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//
//	// Rows are row-major: len(vectors) = rows x dimensions. Nil ids mean "use row indexes".
//	err = store.Add([]float32{
//		1, 0, 0, // x axis, id 10
//		0, 1, 0, // y axis, id 20
//		0, 0, 1, // z axis, id 30
//	}, []uint64{10, 20, 30})
//	if err != nil {
//		log.Fatal(err)
//	}
//
//	hits, err := store.CosineSearch([]float32{0.9, 0.1, 0}, nvs.TopK(2))
//	if errors.Is(err, nvs.ErrDimensionMismatch) {
//		log.Fatal("the query has the wrong length: ", err)
//	}
//	for _, h := range hits {
//		fmt.Printf("row %d id %d cosine %.4f\n", h.Index, h.ID, h.Value)
//	}
//	// row 0 id 10 cosine 0.9939
//	// row 1 id 20 cosine 0.1104
//
//	// Persistence: Save("path") saves as and binds; Save("") saves to the bound path.
//	if err := store.Save("vectors.npz"); err != nil {
//		log.Fatal(err)
//	}
//	again, err := nvs.Open("vectors.npz")
//
// # Searching
//
// [Store.CosineSearch], [Store.DotSearch] and [Store.EuclideanSearch] take options:
// [TopK] (default 10), [MinValue] (a similarity floor for cosine and dot), [MaxValue] (a
// distance ceiling for euclidean), [WithinRows] (a prefilter of row indexes) and [Threads].
// [Store.SearchInto] appends into a caller's slice and does not allocate when it has room;
// [Store.SearchBatch] runs many queries in one call.
//
// # Errors
//
// Failures are *[Error] values holding the library's status and message; they wrap one
// sentinel per status ([ErrDimensionMismatch], [ErrNotFound], ...) for [errors.Is]. A failed
// call changes nothing. Validation happens once, in the library: the binding passes slices
// and lengths through unchanged.
//
// # Concurrency and memory
//
// A [Store] may be used by many goroutines at once. Each operation is one cgo call that reads
// the caller's slices in place (no copies of inputs). [Store.Close] frees the memory at a
// known time; a garbage-collected Store is freed by a cleanup as a safety net.
//
// # Linking
//
// Build the library first with `cargo build --release` at the repository root. By default the
// package links target/release/libnvs.a statically, so binaries do not need libnvs.so at run
// time; build with `-tags nvs_dynamic` to link target/release/libnvs.so instead.
package nvs
