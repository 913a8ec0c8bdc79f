// Command nvs-server serves nearest-neighbour queries over HTTP from a vector store opened
// from a .npz archive (or, without -archive, a small demo store of 3-dimensional vectors).
//
//	go install github.com/native-vector-store/nvs/examples/go/nvs-server@latest
//	nvs-server -archive vectors.npz -addr 127.0.0.1:8080
//	curl -s 'http://127.0.0.1:8080/search?q=0.9,0.1,0&k=2'
//	curl -s -d '{"vector":[0.9,0.1,0],"k":2,"metric":"cosine"}' http://127.0.0.1:8080/search
//
// In the repository (examples/go/go.work builds against ../../bindings/go), stage the
// library for this machine first: `bash scripts/stage-go-libs.sh` at the repository root,
// then `go run ./nvs-server` in examples/go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	nvs "github.com/native-vector-store/nvs/bindings/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		log.Fatal(err)
	}
}

// demoRows are the axes and diagonals of 3-dimensional space, with ids 1 to 7.
var demoRows = []float32{
	1, 0, 0, // 1: x
	0, 1, 0, // 2: y
	0, 0, 1, // 3: z
	1, 1, 0, // 4: xy
	1, 0, 1, // 5: xz
	0, 1, 1, // 6: yz
	1, 1, 1, // 7: xyz
}

// loadStore opens the archive, or builds the demo store when path is empty.
func loadStore(path string) (*nvs.Store, error) {
	if path != "" {
		return nvs.Open(path)
	}
	s, err := nvs.New(3)
	if err != nil {
		return nil, err
	}
	if err := s.Add(demoRows, []uint64{1, 2, 3, 4, 5, 6, 7}); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// run serves until ctx is done. ready, when not nil, receives the listening address.
func run(ctx context.Context, args []string, logw io.Writer, ready func(net.Addr)) error {
	fs := flag.NewFlagSet("nvs-server", flag.ContinueOnError)
	fs.SetOutput(logw)
	archive := fs.String("archive", "", "path of a .npz archive to serve (default: a small demo store)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := loadStore(*archive)
	if err != nil {
		return err
	}
	defer store.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(store),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(logw, "serving %d rows of %d dimensions on http://%s\n", store.Len(), store.Dimensions(), ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}
