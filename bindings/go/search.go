package nvs

/*
#include "nvsgo.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unsafe"
)

// Metric chooses how [Store.Search] compares a query with the rows.
type Metric uint32

const (
	// Cosine is cosine similarity, highest first. The query is always normalized.
	Cosine Metric = C.NVS_METRIC_COSINE
	// Dot is the dot product, highest first. A normalize store normalizes the query too.
	Dot Metric = C.NVS_METRIC_DOT
	// Euclidean is euclidean distance, lowest first. A normalize store normalizes the query too.
	Euclidean Metric = C.NVS_METRIC_EUCLIDEAN
)

// String returns "cosine", "dot" or "euclidean" (or "Metric(N)" for other values).
func (m Metric) String() string {
	switch m {
	case Cosine:
		return "cosine"
	case Dot:
		return "dot"
	case Euclidean:
		return "euclidean"
	}
	return fmt.Sprintf("Metric(%d)", uint32(m))
}

// ParseMetric is the inverse of [Metric.String] (case-insensitive).
func ParseMetric(name string) (Metric, error) {
	for _, m := range []Metric{Cosine, Dot, Euclidean} {
		if strings.EqualFold(name, m.String()) {
			return m, nil
		}
	}
	return 0, newError("ParseMetric", StatusInvalidArgument, "unknown metric %q (want cosine, dot or euclidean)", name)
}

// Hit is one search result.
type Hit struct {
	Index int     // the row index (insertion order, 0-based)
	ID    uint64  // the row's id
	Value float64 // cosine similarity, dot product or euclidean distance
}

// hitLayoutOK says whether Hit has nvs_hit's memory layout, which lets the library write
// results straight into a caller's []Hit (true on 64-bit platforms).
var hitLayoutOK = unsafe.Sizeof(Hit{}) == unsafe.Sizeof(C.nvs_hit{}) &&
	unsafe.Offsetof(Hit{}.Index) == unsafe.Offsetof(C.nvs_hit{}.index) &&
	unsafe.Sizeof(Hit{}.Index) == unsafe.Sizeof(C.nvs_hit{}.index) &&
	unsafe.Offsetof(Hit{}.ID) == unsafe.Offsetof(C.nvs_hit{}.id) &&
	unsafe.Offsetof(Hit{}.Value) == unsafe.Offsetof(C.nvs_hit{}.value)

// intIsSize says whether []int can be handed to C as size_t* without a copy.
const intIsSize = unsafe.Sizeof(int(0)) == unsafe.Sizeof(C.size_t(0))

type optKind uint8

const (
	optTopK optKind = iota + 1
	optThreshold
	optWithinRows
	optThreads
)

// SearchOption configures a search. Options are plain values, so passing them does not
// allocate.
type SearchOption struct {
	kind optKind
	n    int
	v    float64
	rows []int
}

// TopK sets the maximum number of hits (default 10, must be greater than 0).
func TopK(n int) SearchOption { return SearchOption{kind: optTopK, n: n} }

// Threshold keeps only hits that reach v: those with a value of at least v for [Cosine] and
// [Dot] (a minimum similarity), at most v for [Euclidean] (a maximum distance). v must be
// finite.
func Threshold(v float64) SearchOption { return SearchOption{kind: optThreshold, v: v} }

// WithinRows restricts the search to the given row indexes (unique, inside the store, in any
// order). With no rows the search returns no hits. The slice is read during the call only.
func WithinRows(rows ...int) SearchOption {
	if rows == nil {
		rows = []int{}
	}
	return SearchOption{kind: optWithinRows, rows: rows}
}

// Threads sets the worker threads for one search: 0 (default) picks automatically, 1 keeps
// the work on the calling thread.
func Threads(n int) SearchOption { return SearchOption{kind: optThreads, n: n} }

type searchConfig struct {
	args   C.nvsgo_search_args
	topK   int
	rows   []int      // nil when there is no prefilter
	sizes  []C.size_t // rows converted, only where int and size_t differ
	within *C.size_t
}

var defaultTopK = int(C.nvsgo_default_top_k())

func buildSearch(op string, opts []SearchOption) (searchConfig, error) {
	c := searchConfig{topK: defaultTopK}
	for _, o := range opts {
		switch o.kind {
		case optTopK:
			// Go ints are signed and size_t is not: refuse what would wrap around.
			if o.n < 0 {
				return c, newError(op, StatusInvalidArgument, "top_k must be greater than 0 (got %d)", o.n)
			}
			c.topK = o.n
		case optThreshold:
			c.args.threshold = C.double(o.v)
			c.args.has_threshold = true
		case optWithinRows:
			c.rows = o.rows
		case optThreads:
			if o.n < 0 {
				return c, newError(op, StatusInvalidArgument, "threads must not be negative (got %d)", o.n)
			}
			c.args.threads = C.size_t(o.n)
		}
	}
	c.args.top_k = C.size_t(c.topK)
	if c.rows != nil {
		c.args.has_within_rows = true
		c.args.within_rows_len = C.size_t(len(c.rows))
		if len(c.rows) > 0 {
			if intIsSize {
				c.within = (*C.size_t)(unsafe.Pointer(&c.rows[0]))
			} else {
				c.sizes = make([]C.size_t, len(c.rows))
				for i, r := range c.rows {
					c.sizes[i] = C.size_t(r) // negative rows wrap and are rejected as out of range
				}
				c.within = &c.sizes[0]
			}
		}
	}
	return c, nil
}

func (c *searchConfig) keepAlive() {
	runtime.KeepAlive(c.rows)
	runtime.KeepAlive(c.sizes)
}

// sizeHits applies nvs_store_search's sizing rule and returns k, the hits to make room for
// per query: top_k, but no more than the rows that can match (the prefilter's, else the rows
// present now; at least 1), passed to the library as top_k too. The search then never needs
// more room, even while another goroutine adds rows, and a huge top_k reserves no huge
// buffer. Room for top_k hits already there (SearchInto) is used as it is. A top_k of 0
// stays 0 for the library to reject.
func (c *searchConfig) sizeHits(h *C.nvs_store, room int) int {
	k := c.topK
	if k > room {
		candidates := len(c.rows)
		if c.rows == nil {
			candidates = int(C.nvs_store_len(h))
		}
		k = min(k, max(candidates, 1))
	}
	c.args.top_k = C.size_t(k)
	return k
}

func hitPtr(hits []Hit) *C.nvs_hit {
	if len(hits) == 0 {
		return nil
	}
	return (*C.nvs_hit)(unsafe.Pointer(&hits[0]))
}

func fromC(dst []Hit, src []C.nvs_hit) {
	for i := range src {
		dst[i] = Hit{Index: int(src[i].index), ID: uint64(src[i].id), Value: float64(src[i].value)}
	}
}

// Search finds the rows nearest to query (of [Store.Dimensions] values) by metric, best
// first: highest similarity for [Cosine] and [Dot], lowest distance for [Euclidean]. Ties
// keep insertion order. With no options it returns the 10 best hits of the whole store.
func (s *Store) Search(metric Metric, query []float32, opts ...SearchOption) ([]Hit, error) {
	return s.searchInto("Search", nil, metric, query, opts)
}

// CosineSearch is Search(Cosine, query, opts...).
func (s *Store) CosineSearch(query []float32, opts ...SearchOption) ([]Hit, error) {
	return s.searchInto("CosineSearch", nil, Cosine, query, opts)
}

// DotSearch is Search(Dot, query, opts...).
func (s *Store) DotSearch(query []float32, opts ...SearchOption) ([]Hit, error) {
	return s.searchInto("DotSearch", nil, Dot, query, opts)
}

// EuclideanSearch is Search(Euclidean, query, opts...).
func (s *Store) EuclideanSearch(query []float32, opts ...SearchOption) ([]Hit, error) {
	return s.searchInto("EuclideanSearch", nil, Euclidean, query, opts)
}

// SearchInto is [Store.Search] that appends the hits to dst and returns the extended slice,
// like append. When dst has room for top-k more hits the search does not allocate, so a
// server can reuse one buffer per worker: hits, err = s.SearchInto(hits[:0], ...). On error
// dst is returned unchanged.
func (s *Store) SearchInto(dst []Hit, metric Metric, query []float32, opts ...SearchOption) ([]Hit, error) {
	return s.searchInto("SearchInto", dst, metric, query, opts)
}

func (s *Store) searchInto(op string, dst []Hit, metric Metric, query []float32, opts []SearchOption) ([]Hit, error) {
	cfg, err := buildSearch(op, opts)
	if err != nil {
		return dst, err
	}
	h, err := s.acquire(op)
	if err != nil {
		return dst, err
	}
	defer s.mu.RUnlock()
	out := slices.Grow(dst, cfg.sizeHits(h, cap(dst)-len(dst)))
	room := out[len(out):cap(out)]
	var r C.nvsgo_result
	if hitLayoutOK {
		r = C.nvsgo_search(h, C.uint32_t(metric), floatPtr(query), C.size_t(len(query)),
			cfg.args, cfg.within, hitPtr(room), C.size_t(len(room)))
	} else {
		tmp := make([]C.nvs_hit, len(room))
		var tp *C.nvs_hit
		if len(tmp) > 0 {
			tp = &tmp[0]
		}
		r = C.nvsgo_search(h, C.uint32_t(metric), floatPtr(query), C.size_t(len(query)),
			cfg.args, cfg.within, tp, C.size_t(len(tmp)))
		if r.status == C.NVS_STATUS_OK {
			fromC(room, tmp[:r.count])
		}
	}
	runtime.KeepAlive(query)
	cfg.keepAlive()
	if err := check(op, r); err != nil {
		return dst, err
	}
	return out[:len(out)+int(r.count)], nil
}

// SearchBatch searches many queries in one call: queries holds the queries back to back,
// row-major, each of [Store.Dimensions] values. Result i holds query i's hits, best first.
// Every query is validated before any search runs, and an invalid one fails the whole call
// (its index is in the error message).
func (s *Store) SearchBatch(metric Metric, queries []float32, opts ...SearchOption) ([][]Hit, error) {
	const op = "SearchBatch"
	cfg, err := buildSearch(op, opts)
	if err != nil {
		return nil, err
	}
	h, err := s.acquire(op)
	if err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	// The library checks that queries is a whole number of rows; this only sizes buffers.
	n := len(queries) / s.dims
	per := cfg.sizeHits(h, 0)
	hits := make([]Hit, n*per)
	lens := make([]C.size_t, n)
	var lp *C.size_t
	if n > 0 {
		lp = &lens[0]
	}
	var r C.nvsgo_result
	if hitLayoutOK {
		r = C.nvsgo_search_batch(h, C.uint32_t(metric), floatPtr(queries), C.size_t(len(queries)),
			cfg.args, cfg.within, hitPtr(hits), C.size_t(len(hits)), C.size_t(per), lp)
	} else {
		tmp := make([]C.nvs_hit, len(hits))
		var tp *C.nvs_hit
		if len(tmp) > 0 {
			tp = &tmp[0]
		}
		r = C.nvsgo_search_batch(h, C.uint32_t(metric), floatPtr(queries), C.size_t(len(queries)),
			cfg.args, cfg.within, tp, C.size_t(len(tmp)), C.size_t(per), lp)
		fromC(hits, tmp)
	}
	runtime.KeepAlive(queries)
	cfg.keepAlive()
	if err := check(op, r); err != nil {
		return nil, err
	}
	out := make([][]Hit, n)
	for i := range out {
		k := i*per + int(lens[i])
		out[i] = hits[i*per : k : k]
	}
	return out, nil
}
