package nvs

/*
#include <stdlib.h>
#include "nvsgo.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Version returns the version of the linked C library, "MAJOR.MINOR.PATCH".
func Version() string { return C.GoString(C.nvs_version()) }

// Store is an in-memory exact vector store: rows of float32 vectors of a fixed number of
// dimensions, each with a uint64 id, searched exhaustively by cosine similarity, dot product
// or euclidean distance.
//
// A Store is safe for concurrent use by multiple goroutines: searches and reads run in
// parallel, and an Add, Clear or Reload is atomic to them (a search sees the rows before or
// after it, never half of it). Call [Store.Close] to free the memory when done; a Store that
// becomes unreachable without Close is freed by the garbage collector. After Close every
// method returns an error wrapping [ErrClosed] (Len reports 0).
type Store struct {
	// mu is held shared by every call into the C library and exclusively by Close, so the
	// handle is never freed while a call uses it. The C handle does its own locking for
	// concurrent adds and searches.
	mu        sync.RWMutex
	h         *C.nvs_store
	dims      int
	normalize bool
	cleanup   runtime.Cleanup
}

func freeHandle(h *C.nvs_store) { C.nvs_store_free(h) }

// wrap takes ownership of a fresh handle.
func wrap(h *C.nvs_store) *Store {
	s := &Store{h: h, dims: int(C.nvs_store_dimensions(h)), normalize: bool(C.nvs_store_normalize(h))}
	// A safety net only: Close is the way to free memory at a known time.
	s.cleanup = runtime.AddCleanup(s, freeHandle, h)
	return s
}

// acquire read-locks the store and returns its live handle. On success the caller must
// call s.mu.RUnlock when its C call has returned.
func (s *Store) acquire(op string) (*C.nvs_store, error) {
	if s == nil {
		return nil, newError(op, StatusNullArgument, "nil *Store")
	}
	s.mu.RLock()
	if s.h == nil {
		s.mu.RUnlock()
		return nil, &closedError{op}
	}
	return s.h, nil
}

// Option configures [New].
type Option func(*newConfig)

type newConfig struct {
	normalize bool
	storage   Storage
}

// Storage is how a store keeps its rows: [Float32] (the default) or [Float16].
type Storage uint32

const (
	// Float32 keeps rows exactly as added (after normalization).
	Float32 Storage = C.NVS_STORAGE_FLOAT32
	// Float16 keeps rows as IEEE float16: half the memory and half the bytes a search reads.
	// Rows are checked and normalized in float32, then rounded; a value beyond 65504 in
	// magnitude fails the Add with [ErrOutOfRange]. Queries stay float32 and values are
	// computed from the rounded rows. Archives hold such rows as '<f2'.
	Float16 Storage = C.NVS_STORAGE_FLOAT16
)

// WithStorage chooses how the store keeps its rows (default [Float32]).
func WithStorage(storage Storage) Option {
	return func(c *newConfig) { c.storage = storage }
}

// Storage reports how the store keeps its rows ([Float32] after Close).
func (s *Store) Storage() Storage {
	h, err := s.acquire("Storage")
	if err != nil {
		return Float32
	}
	defer s.mu.RUnlock()
	return Storage(C.nvs_store_storage(h))
}

// WithNormalize chooses whether the store keeps rows as unit vectors and normalizes queries
// (default true). With false, rows are stored as given: dot products and distances use the
// raw values, and cosine search divides by the stored norms.
func WithNormalize(normalize bool) Option {
	return func(c *newConfig) { c.normalize = normalize }
}

// New creates an empty store whose rows have the given number of dimensions (> 0).
func New(dimensions int, opts ...Option) (*Store, error) {
	cfg := newConfig{normalize: true}
	for _, o := range opts {
		o(&cfg)
	}
	// A negative count becomes a huge size_t, which the library rejects with a message.
	r := C.nvsgo_new(C.size_t(dimensions), C.bool(cfg.normalize), C.uint32_t(cfg.storage))
	if err := check("New", r); err != nil {
		return nil, err
	}
	return wrap(r.store), nil
}

// OpenOption configures [Open], [OpenBytes] and [Store.Reload].
type OpenOption func(*openConfig)

type openConfig struct{ flags C.uint32_t }

// WithRowIndexMetadata makes an archive whose metadata is not a list of uint64 ids (for
// example a numpy-vector-store archive with dict payloads) load with row indexes as ids,
// instead of failing with [ErrFormat].
func WithRowIndexMetadata() OpenOption {
	return func(c *openConfig) { c.flags |= C.NVS_OPEN_ROW_INDEX_METADATA }
}

// WithMap maps the archive file and searches its rows in place when it was saved
// uncompressed ([WithUncompressed]): the open does not read the rows, and processes that map
// one file share its pages. Any other archive opens the ordinary way; [Store.IsMapped] tells
// which happened. Rows in place are trusted (a corrupt file gives wrong scores, never a read
// outside it) unless [WithVerify] is given too. Replace a mapped file by rename (as Save
// does), never in place: truncating it under a process that maps it raises SIGBUS there.
// Not for [OpenBytes].
func WithMap() OpenOption {
	return func(c *openConfig) { c.flags |= C.NVS_OPEN_MAP }
}

// WithVerify, with [WithMap], checks rows left in place as an ordinary open does (CRC-32s,
// finite values, unit length in a normalizing store), reading them once.
func WithVerify() OpenOption {
	return func(c *openConfig) { c.flags |= C.NVS_OPEN_VERIFY }
}

func openFlags(opts []OpenOption) C.uint32_t {
	var cfg openConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg.flags
}

// cString converts a path for C; a NUL byte inside cannot be passed through a C string.
func cString(op, path string) (*C.char, error) {
	if strings.IndexByte(path, 0) >= 0 {
		return nil, newError(op, StatusInvalidArgument, "path %q contains a NUL byte", path)
	}
	return C.CString(path), nil
}

// Open loads a .npz archive (".npz" is appended when missing) into a new store with the
// archive's dimensions and normalize setting. The store is bound to the archive's absolute
// path, which [Store.Save] with an empty path and [Store.Reload] use.
func Open(path string, opts ...OpenOption) (*Store, error) {
	p, err := cString("Open", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(p))
	r := C.nvsgo_open(p, openFlags(opts))
	if err := check("Open", r); err != nil {
		return nil, err
	}
	return wrap(r.store), nil
}

// OpenBytes loads an archive held in memory (for example an embedded file). The bytes are
// only read during the call. The new store is not bound to a path.
func OpenBytes(archive []byte, opts ...OpenOption) (*Store, error) {
	var p *C.uint8_t
	if len(archive) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&archive[0]))
	}
	r := C.nvsgo_open_bytes(p, C.size_t(len(archive)), openFlags(opts))
	runtime.KeepAlive(archive)
	if err := check("OpenBytes", r); err != nil {
		return nil, err
	}
	return wrap(r.store), nil
}

// SaveOption configures [Store.Save].
type SaveOption func(*saveConfig)

type saveConfig struct{ flags C.uint32_t }

// WithUncompressed stores the archive members uncompressed: a larger file that loads
// several times faster.
func WithUncompressed() SaveOption {
	return func(c *saveConfig) { c.flags |= C.NVS_SAVE_UNCOMPRESSED }
}

// WithPickledMetadata writes the ids as a pickled object array of Python ints, the layout
// numpy-vector-store 0.7.0's VectorStore.open reads.
func WithPickledMetadata() SaveOption {
	return func(c *saveConfig) { c.flags |= C.NVS_SAVE_PICKLED_METADATA }
}

// Save writes the store as a .npz archive.
//
// With a non-empty path it saves there ("Save As") and binds the store to that path once the
// write succeeded. With an empty path it saves to the bound path, failing with
// [ErrNoBoundPath] when the store has none (a store from [New] or [OpenBytes] that was never
// saved). The file is written to a temporary file and renamed over the destination, so a
// failure leaves any previous file and binding intact.
func (s *Store) Save(path string, opts ...SaveOption) error {
	var cfg saveConfig
	for _, o := range opts {
		o(&cfg)
	}
	var p *C.char
	if path != "" {
		var err error
		if p, err = cString("Save", path); err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(p))
	}
	h, err := s.acquire("Save")
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return check("Save", C.nvsgo_save(h, p, cfg.flags))
}

// Reload replaces every row with the contents of the bound archive, which must have the
// store's dimensions and normalize setting. On any failure the store is unchanged.
func (s *Store) Reload(opts ...OpenOption) error {
	h, err := s.acquire("Reload")
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return check("Reload", C.nvsgo_reload(h, openFlags(opts)))
}

// FilePath returns the absolute path the store is bound to, or an error wrapping
// [ErrNoBoundPath] when it has none.
func (s *Store) FilePath() (string, error) {
	h, err := s.acquire("FilePath")
	if err != nil {
		return "", err
	}
	defer s.mu.RUnlock()
	r := C.nvsgo_file_path(h)
	if err := check("FilePath", r); err != nil {
		return "", err
	}
	defer C.free(unsafe.Pointer(r.text))
	return C.GoStringN(r.text, C.int(r.count)), nil
}

// Close frees the store's memory. It waits for calls in progress on other goroutines to
// return; calls made afterwards return an error wrapping [ErrClosed], as does a second Close.
func (s *Store) Close() error {
	if s == nil {
		return newError("Close", StatusNullArgument, "nil *Store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return &closedError{"Close"}
	}
	s.cleanup.Stop()
	C.nvs_store_free(s.h)
	s.h = nil
	return nil
}

// Dimensions returns the number of values in each row. It keeps answering after Close.
func (s *Store) Dimensions() int {
	if s == nil {
		return 0
	}
	return s.dims
}

// Normalize reports whether the store keeps rows as unit vectors and normalizes queries. It
// keeps answering after Close.
func (s *Store) Normalize() bool { return s != nil && s.normalize }

// Len returns the number of rows (0 after Close).
func (s *Store) Len() int {
	h, err := s.acquire("Len")
	if err != nil {
		return 0
	}
	defer s.mu.RUnlock()
	return int(C.nvs_store_len(h))
}

// IsMapped reports whether some rows are searched in place in a mapped archive ([WithMap];
// false after Close).
func (s *Store) IsMapped() bool {
	h, err := s.acquire("IsMapped")
	if err != nil {
		return false
	}
	defer s.mu.RUnlock()
	return bool(C.nvs_store_is_mapped(h))
}

// Clear removes every row and releases its memory. Dimensions, normalize setting and bound
// path stay.
func (s *Store) Clear() error {
	h, err := s.acquire("Clear")
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return check("Clear", C.nvsgo_clear(h))
}

// emptyIDs gives an empty, non-nil ids slice a non-NULL pointer, so that the library sees
// "zero ids given" (and reports the count mismatch) rather than "use row indexes".
var emptyIDs [1]uint64

func floatPtr(v []float32) *C.float {
	if len(v) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&v[0]))
}

// Add appends rows. vectors is row-major: len(vectors) must be a whole number of rows of
// [Store.Dimensions] values. ids holds one id per row; with nil ids each row's id is its row
// index. Values must be finite, and a normalize store rejects zero vectors. The data is
// copied; on any failure nothing is added.
func (s *Store) Add(vectors []float32, ids []uint64) error {
	h, err := s.acquire("Add")
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	var idp *C.uint64_t
	switch {
	case ids == nil:
	case len(ids) == 0:
		idp = (*C.uint64_t)(unsafe.Pointer(&emptyIDs[0]))
	default:
		idp = (*C.uint64_t)(unsafe.Pointer(&ids[0]))
	}
	r := C.nvsgo_add(h, floatPtr(vectors), C.size_t(len(vectors)), idp, C.size_t(len(ids)))
	runtime.KeepAlive(vectors)
	runtime.KeepAlive(ids)
	return check("Add", r)
}

// AddRows is [Store.Add] for rows held as separate slices. Each row must have
// [Store.Dimensions] values (the rows are joined into one buffer, so a ragged row is
// reported here rather than misread as part of its neighbour).
func (s *Store) AddRows(rows [][]float32, ids []uint64) error {
	if s == nil {
		return newError("AddRows", StatusNullArgument, "nil *Store")
	}
	flat := make([]float32, 0, len(rows)*s.dims)
	for i, row := range rows {
		if len(row) != s.dims {
			return newError("AddRows", StatusDimensionMismatch,
				"row %d has %d values, store has %d dimensions", i, len(row), s.dims)
		}
		flat = append(flat, row...)
	}
	err := s.Add(flat, ids)
	if e, ok := err.(*Error); ok {
		e.Op = "AddRows"
	}
	return err
}

// Get returns a copy of row i (as stored: a unit vector in a normalize store) and its id.
// An index past the end (or negative) gives an error wrapping [ErrNotFound].
func (s *Store) Get(i int) ([]float32, uint64, error) {
	h, err := s.acquire("Get")
	if err != nil {
		return nil, 0, err
	}
	defer s.mu.RUnlock()
	v := make([]float32, s.dims)
	// A negative index becomes a huge size_t, which the library reports as not found.
	r := C.nvsgo_get(h, C.size_t(i), floatPtr(v), C.size_t(len(v)))
	if err := check("Get", r); err != nil {
		return nil, 0, err
	}
	return v, uint64(r.id), nil
}

// ReadRows returns copies of rows start .. start+count-1: their vectors, row-major, and
// their ids. A range outside the store gives an error wrapping [ErrOutOfRange]. To read the
// whole store use ReadRows(0, s.Len()).
func (s *Store) ReadRows(start, count int) (vectors []float32, ids []uint64, err error) {
	h, err := s.acquire("ReadRows")
	if err != nil {
		return nil, nil, err
	}
	defer s.mu.RUnlock()
	// Let the library check the range before allocating count rows (negative values become
	// huge size_t values, which it rejects too). With no buffers nothing is copied.
	r := C.nvsgo_read_rows(h, C.size_t(start), C.size_t(count), nil, 0, nil, 0)
	if err := check("ReadRows", r); err != nil {
		return nil, nil, err
	}
	vectors = make([]float32, count*s.dims)
	ids = make([]uint64, count)
	var idp *C.uint64_t
	if count > 0 {
		idp = (*C.uint64_t)(unsafe.Pointer(&ids[0]))
	}
	r = C.nvsgo_read_rows(h, C.size_t(start), C.size_t(count),
		floatPtr(vectors), C.size_t(len(vectors)), idp, C.size_t(len(ids)))
	if err := check("ReadRows", r); err != nil {
		return nil, nil, err
	}
	return vectors, ids, nil
}
