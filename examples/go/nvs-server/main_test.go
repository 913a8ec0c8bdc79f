package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nvs "github.com/native-vector-store/nvs/bindings/go"
)

var client = &http.Client{Timeout: 10 * time.Second}

func demoServer(t *testing.T) *httptest.Server {
	t.Helper()
	store, err := loadStore("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := httptest.NewServer(newHandler(store)) // listens on 127.0.0.1 only
	t.Cleanup(srv.Close)
	return srv
}

// do sends one request and decodes the JSON answer.
func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, resp.StatusCode, data, err)
	}
	return resp.StatusCode, out
}

func hitIDs(t *testing.T, out map[string]any) []float64 {
	t.Helper()
	hits, ok := out["hits"].([]any)
	if !ok {
		t.Fatalf("no hits in %v", out)
	}
	var ids []float64
	for _, h := range hits {
		ids = append(ids, h.(map[string]any)["id"].(float64))
	}
	return ids
}

func TestSearchEndpoint(t *testing.T) {
	srv := demoServer(t)
	code, out := do(t, "POST", srv.URL+"/search", `{"vector":[0.9,0.1,0],"k":2}`)
	if code != 200 || out["metric"] != "cosine" {
		t.Fatalf("POST /search = %d %v", code, out)
	}
	if ids := hitIDs(t, out); len(ids) != 2 || ids[0] != 1 || ids[1] != 4 { // x, then the xy diagonal
		t.Fatalf("hits %v, want ids 1 and 4", out)
	}
	first := out["hits"].([]any)[0].(map[string]any)["value"].(float64)
	if first < 0.9938 || first > 0.9940 {
		t.Fatalf("cosine %v, want 0.9939", first)
	}

	code, out = do(t, "GET", srv.URL+"/search?q=0,0.2,1&k=1&metric=euclidean", "")
	if ids := hitIDs(t, out); code != 200 || len(ids) != 1 || ids[0] != 3 {
		t.Fatalf("GET /search = %d %v", code, out)
	}
	code, out = do(t, "POST", srv.URL+"/search", `{"vector":[1,1,1],"metric":"dot","threshold":0.8}`)
	if ids := hitIDs(t, out); code != 200 || len(ids) != 4 || ids[0] != 7 {
		t.Fatalf("thresholded search = %d %v", code, out)
	}
	// For euclidean the threshold is a maximum distance: x itself (0), then xy and xz (0.765).
	code, out = do(t, "GET", srv.URL+"/search?q=1,0,0&metric=euclidean&threshold=0.8", "")
	if ids := hitIDs(t, out); code != 200 || len(ids) != 3 || ids[0] != 1 || ids[1] != 4 || ids[2] != 5 {
		t.Fatalf("euclidean thresholded search = %d %v", code, out)
	}
}

func TestSearchEndpointRejectsBadRequests(t *testing.T) {
	srv := demoServer(t)
	for _, c := range []struct {
		method, path, body string
		code               int
		errPart            string
	}{
		{"POST", "/search", `{"vector":[1,0]}`, 400, "DIMENSION_MISMATCH"},
		{"POST", "/search", `{"vector":[0,0,0]}`, 400, "ZERO_NORM"},
		{"POST", "/search", `{"vector":[1,0,0],"k":0}`, 400, "INVALID_ARGUMENT"},
		{"POST", "/search", `{"vector":[1,0,0],"k":101}`, 400, "at most 100"},
		{"POST", "/search", `{"vector":[1,0,0],"metric":"manhattan"}`, 400, "unknown metric"},
		{"POST", "/search", `{"vector":[1,0,0],"max_value":1}`, 400, "invalid JSON"},
		{"GET", "/search?q=1,0,0&threshold=far", "", 400, "threshold must be a number"},
		{"GET", "/search?q=1,0,0&threshold=NaN", "", 400, "NON_FINITE"},
		{"POST", "/search", `{"vector":[1,0,0],"extra":1}`, 400, "invalid JSON"},
		{"POST", "/search", `{"vector":`, 400, "invalid JSON"},
		{"POST", "/search", `{"vector":[` + strings.Repeat("1,", maxBody) + `1]}`, 413, "larger than"},
		{"GET", "/search?q=1,x,0", "", 400, "comma-separated"},
		{"GET", "/search?q=1,0,0&k=two", "", 400, "integer"},
		{"DELETE", "/search", "", 405, "GET or POST"},
	} {
		code, out := do(t, c.method, srv.URL+c.path, c.body)
		msg, _ := out["error"].(string)
		if code != c.code || !strings.Contains(msg, c.errPart) {
			t.Errorf("%s %s %.40q = %d %q, want %d containing %q", c.method, c.path, c.body, code, msg, c.code, c.errPart)
		}
	}
}

func TestHealthz(t *testing.T) {
	srv := demoServer(t)
	code, out := do(t, "GET", srv.URL+"/healthz", "")
	if code != 200 || out["rows"] != float64(7) || out["dimensions"] != float64(3) || out["version"] != nvs.Version() {
		t.Fatalf("/healthz = %d %v", code, out)
	}
}

// run with -archive serves a saved store, on a loopback port picked by the system, and
// stops cleanly when its context ends.
func TestRunServesArchive(t *testing.T) {
	store, err := nvs.New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Add([]float32{1, 0, 0, 1, 1, 1}, []uint64{11, 12, 13}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "served.npz")
	if err := store.Save(path); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-archive", path, "-addr", "127.0.0.1:0"}, io.Discard, func(a net.Addr) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run stopped early: %v", err)
	}
	code, out := do(t, "GET", base+"/search?q=0,1&k=1", "")
	if ids := hitIDs(t, out); code != 200 || len(ids) != 1 || ids[0] != 12 {
		t.Fatalf("archive search = %d %v", code, out)
	}
	if code, out := do(t, "GET", base+"/healthz", ""); code != 200 || out["rows"] != float64(3) {
		t.Fatalf("/healthz = %d %v", code, out)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run returned %v after its context ended", err)
	}
}

func TestRunErrors(t *testing.T) {
	err := run(context.Background(), []string{"-archive", filepath.Join(t.TempDir(), "missing.npz")}, io.Discard, nil)
	if !errors.Is(err, nvs.ErrIO) {
		t.Fatalf("missing archive: %v, want ErrIO", err)
	}
	if err := run(context.Background(), []string{"-bogus"}, io.Discard, nil); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}
