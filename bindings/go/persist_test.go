package nvs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// sameRows fails unless both stores hold the same settings, vectors and ids.
func sameRows(t *testing.T, got, want *Store) {
	t.Helper()
	if got.Dimensions() != want.Dimensions() || got.Normalize() != want.Normalize() || got.Len() != want.Len() {
		t.Fatalf("store dims %d normalize %v len %d, want %d %v %d", got.Dimensions(), got.Normalize(), got.Len(),
			want.Dimensions(), want.Normalize(), want.Len())
	}
	gv, gi, err := got.ReadRows(0, got.Len())
	if err != nil {
		t.Fatal(err)
	}
	wv, wi, err := want.ReadRows(0, want.Len())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gv, wv) || !slices.Equal(gi, wi) {
		t.Fatalf("rows differ: %v %v, want %v %v", gv, gi, wv, wi)
	}
}

func sample(t *testing.T, normalize bool) *Store {
	t.Helper()
	s := mustNew(t, 3, WithNormalize(normalize))
	if err := s.Add([]float32{1, 2, 3, 0, 1, 0, 0.5, 0.25, -2}, []uint64{7, 1 << 63, 42}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUnboundStore(t *testing.T) {
	s := sample(t, true)
	_, err := s.FilePath()
	wantErr(t, err, ErrNoBoundPath)
	wantErr(t, s.Save(""), ErrNoBoundPath)
	wantErr(t, s.Reload(), ErrNoBoundPath)
	if s.Len() != 3 {
		t.Fatal("a failed Reload changed the store")
	}
}

func TestPathWithNUL(t *testing.T) {
	s := sample(t, true)
	wantErr(t, s.Save("a\x00b.npz"), ErrInvalidArgument)
	_, err := Open("a\x00b.npz")
	wantErr(t, err, ErrInvalidArgument)
}

func TestSaveOpenRoundTrip(t *testing.T) {
	for _, normalize := range []bool{true, false} {
		dir := t.TempDir()
		s := sample(t, normalize)
		path := filepath.Join(dir, "vectors.npz")
		err := s.Save(path)
		skipIfNotBuilt(t, err)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.FilePath(); err != nil || got != path {
			t.Fatalf("FilePath after Save = %q, %v; want %q", got, err, path)
		}
		// ".npz" is appended when missing.
		opened, err := Open(filepath.Join(dir, "vectors"))
		if err != nil {
			t.Fatal(err)
		}
		defer opened.Close()
		sameRows(t, opened, s)
		if got, err := opened.FilePath(); err != nil || got != path {
			t.Fatalf("FilePath after Open = %q, %v", got, err)
		}
		// Searching the copy gives the same hits.
		q := []float32{1, 1, 0}
		a, err1 := s.DotSearch(q)
		b, err2 := opened.DotSearch(q)
		if err1 != nil || err2 != nil || !slices.Equal(a, b) {
			t.Fatalf("hits differ after round trip: %v %v / %v %v", a, err1, b, err2)
		}
	}
}

func TestSaveToBoundPathAndReload(t *testing.T) {
	dir := t.TempDir()
	s := sample(t, true)
	path := filepath.Join(dir, "bound.npz")
	err := s.Save(path)
	skipIfNotBuilt(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]float32{9, 9, 9}, []uint64{99}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(""); err != nil { // to the bound path
		t.Fatal(err)
	}
	reopened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	sameRows(t, reopened, s)
	// Reload drops what was added since the last save.
	if err := reopened.Add([]float32{1, 1, 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := reopened.Reload(); err != nil {
		t.Fatal(err)
	}
	sameRows(t, reopened, s)
}

func TestOpenBytes(t *testing.T) {
	dir := t.TempDir()
	s := sample(t, false)
	path := filepath.Join(dir, "mem.npz")
	err := s.Save(path)
	skipIfNotBuilt(t, err)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sameRows(t, m, s)
	_, err = m.FilePath()
	wantErr(t, err, ErrNoBoundPath)

	for _, bad := range [][]byte{nil, {}, []byte("not an archive"), data[:len(data)/2]} {
		_, err := OpenBytes(bad)
		wantErr(t, err, ErrFormat)
	}
}

func TestSaveOptions(t *testing.T) {
	dir := t.TempDir()
	s := mustNew(t, 8, WithNormalize(false))
	rows := make([]float32, 8*200)
	for i := range rows {
		rows[i] = float32(i % 3) // compressible
	}
	if err := s.Add(rows, nil); err != nil {
		t.Fatal(err)
	}
	packed, plain, pickled := filepath.Join(dir, "packed.npz"), filepath.Join(dir, "plain.npz"), filepath.Join(dir, "pickled.npz")
	err := s.Save(packed)
	skipIfNotBuilt(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(plain, WithUncompressed()); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(pickled, WithPickledMetadata(), WithUncompressed()); err != nil {
		t.Fatal(err)
	}
	pi, err1 := os.Stat(packed)
	ui, err2 := os.Stat(plain)
	if err1 != nil || err2 != nil || ui.Size() <= pi.Size() {
		t.Fatalf("uncompressed %v bytes is not larger than compressed %v", ui, pi)
	}
	for _, p := range []string{plain, pickled} {
		o, err := Open(p)
		if err != nil {
			t.Fatalf("Open(%s): %v", p, err)
		}
		sameRows(t, o, s)
		o.Close()
	}
	o, err := Open(pickled, WithRowIndexMetadata())
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, o, s) // ids are the row indexes here anyway
	o.Close()
}

func TestPersistenceErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing.npz"))
	skipIfNotBuilt(t, err)
	wantErr(t, err, ErrIO)

	garbage := filepath.Join(dir, "garbage.npz")
	if err := os.WriteFile(garbage, []byte("PK\x03\x04 definitely not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(garbage)
	wantErr(t, err, ErrFormat)

	s := sample(t, true)
	path := filepath.Join(dir, "a.npz")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	// A failed Save As keeps the old binding.
	err = s.Save(filepath.Join(dir, "no", "such", "dir", "b.npz"))
	wantErr(t, err, ErrIO)
	if got, _ := s.FilePath(); got != path {
		t.Fatalf("failed Save As rebound the store to %q", got)
	}
	// Reload refuses an archive of other dimensions and keeps the rows.
	other := mustNew(t, 2)
	if err := other.Add([]float32{1, 0}, nil); err != nil {
		t.Fatal(err)
	}
	if err := other.Save(path); err != nil {
		t.Fatal(err)
	}
	err = s.Reload()
	if !errors.Is(err, ErrDimensionMismatch) && !errors.Is(err, ErrFormat) {
		t.Fatalf("Reload of a 2-dimension archive into a 3-dimension store: %v", err)
	}
	if s.Len() != 3 {
		t.Fatal("a failed Reload changed the store")
	}
	// A corrupt bound file fails Reload without changing the store.
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Reload(), ErrFormat)
	if s.Len() != 3 {
		t.Fatal("a failed Reload changed the store")
	}
}

func TestMappedOpen(t *testing.T) {
	dir := t.TempDir()
	s := sample(t, false)
	defer s.Close()
	loose := filepath.Join(dir, "loose.npz")
	err := s.Save(loose, WithUncompressed())
	skipIfNotBuilt(t, err)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(loose, WithMap())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.IsMapped() {
		t.Fatal("an uncompressed archive should be mapped")
	}
	sameRows(t, m, s)
	for _, metric := range []Metric{Cosine, Dot, Euclidean} {
		want, err := s.Search(metric, []float32{0.5, -1, 2})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Search(metric, []float32{0.5, -1, 2})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%v: %v %v, want %v", metric, got, err, want)
		}
	}
	// Adds after a mapped open, then a save over the mapped file itself.
	for _, st := range []*Store{s, m} {
		if err := st.Add([]float32{1, 1, 1}, []uint64{77}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Save("", WithUncompressed()); err != nil {
		t.Fatal(err)
	}
	v, err := Open(loose, WithMap(), WithVerify())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sameRows(t, v, s)
	if err := m.Reload(); err != nil || m.IsMapped() {
		t.Fatalf("reload without WithMap: %v, mapped %v", err, m.IsMapped())
	}
	if err := m.Reload(WithMap()); err != nil || !m.IsMapped() {
		t.Fatalf("reload WithMap: %v, mapped %v", err, m.IsMapped())
	}
	if err := m.Clear(); err != nil || m.IsMapped() {
		t.Fatalf("clear: %v, mapped %v", err, m.IsMapped())
	}
	data, err := os.ReadFile(loose)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenBytes(data, WithMap())
	wantErr(t, err, ErrInvalidArgument)
}
