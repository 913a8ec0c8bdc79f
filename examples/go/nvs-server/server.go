package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	nvs "github.com/native-vector-store/nvs/bindings/go"
)

// Request bounds: a search reads at most maxBody bytes and returns at most maxK hits.
const (
	maxBody = 1 << 20
	maxK    = 100
)

// searchRequest is the JSON body of POST /search.
type searchRequest struct {
	Vector    []float32 `json:"vector"`
	K         *int      `json:"k"`         // default 10
	Metric    string    `json:"metric"`    // cosine (default), dot or euclidean
	Threshold *float64  `json:"threshold"` // minimum for cosine and dot, maximum for euclidean
}

type hitJSON struct {
	Index int     `json:"index"`
	ID    uint64  `json:"id"`
	Value float64 `json:"value"`
}

type searchResponse struct {
	Metric string    `json:"metric"`
	Hits   []hitJSON `json:"hits"`
}

// newHandler serves nearest-neighbour queries over store:
//
//	POST /search  {"vector": [0.9, 0.1, 0], "k": 2, "metric": "cosine"}
//	GET  /search?q=0.9,0.1,0&k=2&metric=cosine
//	GET  /healthz
//
// The store is safe for concurrent use, so requests search it in parallel.
func newHandler(store *nvs.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/search", func(w http.ResponseWriter, r *http.Request) {
		var req searchRequest
		switch r.Method {
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					httpError(w, http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.Itoa(maxBody)+" bytes")
					return
				}
				httpError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
				return
			}
		case http.MethodGet:
			if err := parseQuery(r, &req); err != nil {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			httpError(w, http.StatusMethodNotAllowed, "use GET or POST")
			return
		}
		search(w, store, &req)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"rows":       store.Len(),
			"dimensions": store.Dimensions(),
			"version":    nvs.Version(),
		})
	})
	return mux
}

func parseQuery(r *http.Request, req *searchRequest) error {
	v := r.URL.Query()
	if q := v.Get("q"); q != "" {
		for _, s := range strings.Split(q, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
			if err != nil {
				return errors.New("q must be comma-separated numbers")
			}
			req.Vector = append(req.Vector, float32(f))
		}
	}
	if k := v.Get("k"); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil {
			return errors.New("k must be an integer")
		}
		req.K = &n
	}
	req.Metric = v.Get("metric")
	if s := v.Get("threshold"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("threshold must be a number")
		}
		req.Threshold = &f
	}
	return nil
}

func search(w http.ResponseWriter, store *nvs.Store, req *searchRequest) {
	metric := nvs.Cosine
	if req.Metric != "" {
		m, err := nvs.ParseMetric(req.Metric)
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		metric = m
	}
	k := 10
	if req.K != nil {
		k = *req.K
	}
	if k > maxK {
		httpError(w, http.StatusBadRequest, "k must be at most "+strconv.Itoa(maxK))
		return
	}
	opts := []nvs.SearchOption{nvs.TopK(k)}
	if req.Threshold != nil {
		opts = append(opts, nvs.Threshold(*req.Threshold))
	}
	hits, err := store.Search(metric, req.Vector, opts...)
	if err != nil {
		httpError(w, statusFor(err), err.Error())
		return
	}
	resp := searchResponse{Metric: metric.String(), Hits: make([]hitJSON, len(hits))}
	for i, h := range hits {
		resp.Hits[i] = hitJSON{Index: h.Index, ID: h.ID, Value: h.Value}
	}
	writeJSON(w, http.StatusOK, resp)
}

// statusFor maps a library error to an HTTP status: bad input is the client's fault.
func statusFor(err error) int {
	for _, clientErr := range []error{nvs.ErrInvalidArgument, nvs.ErrDimensionMismatch, nvs.ErrNonFinite,
		nvs.ErrZeroNorm, nvs.ErrOutOfRange} {
		if errors.Is(err, clientErr) {
			return http.StatusBadRequest
		}
	}
	if errors.Is(err, nvs.ErrClosed) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
