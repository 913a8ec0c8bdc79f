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
// [TopK] (default 10), [Threshold] (a similarity floor for cosine and dot, a distance
// ceiling for euclidean), [WithinRows] (a prefilter of row indexes) and [Threads].
// [Store.SearchInto] appends into a caller's slice and does not allocate when it has room;
// [Store.SearchBatch] runs many queries in one call.
//
// A TopK beyond the store's size (math.MaxInt for "every row") reserves room only for the
// rows that can match: the WithinRows rows, else the rows present when the search starts.
// The search then looks for that many hits: if another goroutine adds rows meanwhile, it
// returns the best of all rows present, but no more hits than rows counted at its start (one
// on a store that was empty). See nvs_store_search in nvs.h for the rule.
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
// The module carries the C library prebuilt for linux/amd64, linux/arm64, darwin/amd64 and
// darwin/arm64 (lib/<goos>-<goarch>/libnvs.a), so `go get` and `go build` need only cgo and a
// C compiler, no Rust toolchain. The library is linked statically: binaries do not need
// libnvs.so at run time, and on Linux `-ldflags '-linkmode external -extldflags -static'`
// gives a fully static binary.
//
// With `-tags nvs_system` the package instead compiles against an installed nvs.h and links
// the installed library found by `pkg-config nvs` (for example from `cmake --install build
// --prefix PREFIX`, with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig). That links the shared
// library: the program must find libnvs.so.0.2 at run time, through the loader's usual
// paths, LD_LIBRARY_PATH, or an rpath (CGO_LDFLAGS="-Wl,-rpath,PREFIX/lib"). Other
// platforms need this tag.
//
// In the repository, the libraries are not committed: `bash scripts/stage-go-libs.sh` builds
// the one for this machine from the working tree (see bindings/go/README.md).
package nvs
