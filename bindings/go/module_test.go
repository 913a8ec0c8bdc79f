package nvs

import (
	"go/build"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A module is downloaded as a zip of its own folder only, so every file a build needs must be
// inside it: no cgo directive may name a path outside ${SRCDIR}.
func TestCgoDirectivesStayInModule(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "//"))
			if !strings.HasPrefix(line, "#cgo ") {
				continue
			}
			seen++
			_, args, _ := strings.Cut(line, ":")
			for _, arg := range strings.Fields(args) {
				p := arg
				if strings.HasPrefix(p, "-I") || strings.HasPrefix(p, "-L") {
					p = p[2:]
				}
				if strings.HasPrefix(p, "-Wl,") || strings.HasPrefix(p, "-l") {
					if strings.Contains(p, "/") {
						t.Errorf("%s:%d: %q names a path through a linker option", file, i+1, arg)
					}
					continue
				}
				if !strings.Contains(p, "/") {
					continue
				}
				if !strings.HasPrefix(p, "${SRCDIR}/") || slices.Contains(strings.Split(p, "/"), "..") {
					t.Errorf("%s:%d: %q is not a path inside the module (${SRCDIR}/...)", file, i+1, arg)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no #cgo directives found")
	}
}

// Each platform folder in lib/ has its link file, that file is the one a build for the
// platform picks, the fallback that reports a missing library is not, and vendor.go keeps
// the folder in vendored copies.
func TestPrebuiltPlatformsAreWired(t *testing.T) {
	dirs, err := filepath.Glob("lib/*")
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := os.ReadFile("vendor.go")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/native-vector-store/nvs/bindings/go"
	if !strings.Contains(string(anchor), `"`+module+`/include"`) {
		t.Error("vendor.go does not keep include/")
	}
	if _, err := os.Stat("include/nvs.h"); err != nil {
		t.Error(err)
	}
	platforms := 0
	for _, dir := range dirs {
		goos, goarch, ok := strings.Cut(filepath.Base(dir), "-")
		if !ok {
			t.Errorf("%s: want lib/<goos>-<goarch>", dir)
			continue
		}
		platforms++
		ctx := build.Default
		ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = goos, goarch, true
		link := "link_" + goos + "_" + goarch + ".go"
		text, err := os.ReadFile(link)
		if err != nil {
			t.Errorf("%s has no link file: %v", dir, err)
			continue
		}
		if want := "${SRCDIR}/lib/" + goos + "-" + goarch + "/libnvs.a"; !strings.Contains(string(text), want) {
			t.Errorf("%s does not link %s", link, want)
		}
		if ok, err := ctx.MatchFile(".", link); err != nil || !ok {
			t.Errorf("a %s/%s build does not use %s (%v)", goos, goarch, link, err)
		}
		if ok, err := ctx.MatchFile(".", "link_unsupported.go"); err != nil || ok {
			t.Errorf("a %s/%s build uses link_unsupported.go (%v)", goos, goarch, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "lib.go")); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
		if !strings.Contains(string(anchor), `"`+path.Join(module, "lib", goos+"-"+goarch)+`"`) {
			t.Errorf("vendor.go does not keep %s", dir)
		}
	}
	if platforms == 0 {
		t.Fatal("no lib/<goos>-<goarch> folders")
	}
	// Elsewhere the fallback is picked, and with nvs_system only the pkg-config file links.
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "riscv64", true
	if ok, _ := ctx.MatchFile(".", "link_unsupported.go"); !ok {
		t.Error("a linux/riscv64 build does not use link_unsupported.go")
	}
	ctx.GOARCH, ctx.BuildTags = "amd64", []string{"nvs_system"}
	for _, file := range []string{"link_unsupported.go", "link_bundled.go", "link_linux_amd64.go"} {
		if ok, _ := ctx.MatchFile(".", file); ok {
			t.Errorf("an nvs_system build uses %s", file)
		}
	}
	if ok, _ := ctx.MatchFile(".", "link_system.go"); !ok {
		t.Error("an nvs_system build does not use link_system.go")
	}
}
