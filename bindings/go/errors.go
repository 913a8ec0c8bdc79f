package nvs

/*
#include <stdlib.h>
#include "nvsgo.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Status is a result code of the C API (nvs_status). Errors returned by this package carry
// one in [Error.Status]; compare against the Err* sentinels with [errors.Is] instead.
type Status uint32

// The statuses of include/nvs.h.
const (
	StatusOK                Status = C.NVS_STATUS_OK
	StatusNullArgument      Status = C.NVS_STATUS_NULL_ARGUMENT
	StatusInvalidArgument   Status = C.NVS_STATUS_INVALID_ARGUMENT
	StatusDimensionMismatch Status = C.NVS_STATUS_DIMENSION_MISMATCH
	StatusNonFinite         Status = C.NVS_STATUS_NON_FINITE
	StatusZeroNorm          Status = C.NVS_STATUS_ZERO_NORM
	StatusOutOfRange        Status = C.NVS_STATUS_OUT_OF_RANGE
	StatusNotFound          Status = C.NVS_STATUS_NOT_FOUND
	StatusBufferTooSmall    Status = C.NVS_STATUS_BUFFER_TOO_SMALL
	StatusIO                Status = C.NVS_STATUS_IO
	StatusFormat            Status = C.NVS_STATUS_FORMAT
	StatusNoBoundPath       Status = C.NVS_STATUS_NO_BOUND_PATH
	StatusOutOfMemory       Status = C.NVS_STATUS_OUT_OF_MEMORY
	StatusInternal          Status = C.NVS_STATUS_INTERNAL
)

// String returns the library's name for the status ("OK", "DIMENSION_MISMATCH", ...), or
// "UNKNOWN" for a value the library does not define.
func (s Status) String() string {
	return C.GoString(C.nvs_status_name(C.uint32_t(s)))
}

// Sentinel errors, one per failure status, for use with [errors.Is]:
//
//	if errors.Is(err, nvs.ErrDimensionMismatch) { ... }
//
// The error values returned by the package are *[Error] values that wrap one of these.
var (
	ErrNullArgument      = errors.New("nvs: null argument")
	ErrInvalidArgument   = errors.New("nvs: invalid argument")
	ErrDimensionMismatch = errors.New("nvs: dimension mismatch")
	ErrNonFinite         = errors.New("nvs: non-finite value")
	ErrZeroNorm          = errors.New("nvs: zero norm")
	ErrOutOfRange        = errors.New("nvs: out of range")
	ErrNotFound          = errors.New("nvs: not found")
	ErrBufferTooSmall    = errors.New("nvs: buffer too small")
	ErrIO                = errors.New("nvs: i/o error")
	ErrFormat            = errors.New("nvs: invalid archive format")
	ErrNoBoundPath       = errors.New("nvs: store has no bound path")
	ErrOutOfMemory       = errors.New("nvs: out of memory")
	ErrInternal          = errors.New("nvs: internal error")
	// ErrClosed is returned by every method called after [Store.Close].
	ErrClosed = errors.New("nvs: store is closed")
)

var sentinels = map[Status]error{
	StatusNullArgument:      ErrNullArgument,
	StatusInvalidArgument:   ErrInvalidArgument,
	StatusDimensionMismatch: ErrDimensionMismatch,
	StatusNonFinite:         ErrNonFinite,
	StatusZeroNorm:          ErrZeroNorm,
	StatusOutOfRange:        ErrOutOfRange,
	StatusNotFound:          ErrNotFound,
	StatusBufferTooSmall:    ErrBufferTooSmall,
	StatusIO:                ErrIO,
	StatusFormat:            ErrFormat,
	StatusNoBoundPath:       ErrNoBoundPath,
	StatusOutOfMemory:       ErrOutOfMemory,
	StatusInternal:          ErrInternal,
}

// Error is a failed call: the operation, the C status and the library's message, which names
// the offending value ("query has 3 dimensions, store has 384"). It unwraps to the sentinel
// for its status, so errors.Is(err, ErrDimensionMismatch) works.
type Error struct {
	Op      string // the Store method or function that failed, e.g. "Add"
	Status  Status
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "failed"
	}
	return "nvs: " + e.Op + ": " + msg + " (" + e.Status.String() + ")"
}

// Unwrap returns the sentinel error for the status (nil for a status this package does not
// know).
func (e *Error) Unwrap() error { return sentinels[e.Status] }

// closedError is a call on a closed store; it unwraps to ErrClosed.
type closedError struct{ op string }

func (e *closedError) Error() string { return "nvs: " + e.op + ": store is closed" }
func (e *closedError) Unwrap() error { return ErrClosed }

// newError builds an error for a status that arose in Go (a conversion the C API cannot
// express, such as a negative count); the Rust library reports everything else.
func newError(op string, status Status, format string, args ...any) error {
	return &Error{Op: op, Status: status, Message: fmt.Sprintf(format, args...)}
}

// check turns a shim result into an error and frees the copied message.
func check(op string, r C.nvsgo_result) error {
	if r.status == C.NVS_STATUS_OK {
		return nil
	}
	e := &Error{Op: op, Status: Status(r.status)}
	if r.message != nil {
		e.Message = C.GoString(r.message)
		C.free(unsafe.Pointer(r.message))
	}
	return e
}
