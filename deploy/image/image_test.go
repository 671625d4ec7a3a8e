package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"
)

// testVersion is stamped into the floe binary the tests put in images.
const testVersion = "imagetest"

// floeBin is a static floe built by TestMain (with -short: the stand-in);
// stubBin is a small static stand-in for tests about the build itself.
var floeBin, stubBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "floe-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	stubSrc := filepath.Join(tmp, "stub.go")
	if err := os.WriteFile(stubSrc, []byte("package main\n\nfunc main() { println(\"floe stand-in\") }\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stubBin = filepath.Join(tmp, "stub")
	floeBin = filepath.Join(tmp, "floe")
	builds := [][2]string{{stubBin, stubSrc}, {floeBin, "./cmd/floe"}}
	if short() {
		builds, floeBin = builds[:1], stubBin
	}
	for _, b := range builds {
		start := time.Now()
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+testVersion, "-o", b[0], b[1])
		build.Dir = filepath.Join("..", "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
			return 1
		}
		fmt.Fprintf(os.Stderr, "image: built %s in %s\n", b[1], time.Since(start).Round(time.Second))
	}
	return m.Run()
}

// short reports -short before testing.M.Run has parsed the flags.
func short() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// floeImage is the archive of the image of floeBin, built once.
var floeImage = sync.OnceValues(func() (string, error) {
	img, err := Build(testSpec())
	if err != nil {
		return "", err
	}
	out := filepath.Join(filepath.Dir(stubBin), "floe-image.tar") // removed with TestMain's directory
	_, err = WriteArchive(img, testTag, out)
	return out, err
})

// testTag is the reference the shared archive records.
const testTag = "registry.example/floe:" + testVersion

func sharedArchive(t *testing.T) string {
	t.Helper()
	archive, err := floeImage()
	require.NoError(t, err)
	return archive
}

func testSpec() Spec {
	return Spec{Binary: floeBin, CACerts: "/etc/ssl/certs/ca-certificates.crt", Arch: "amd64",
		Version: testVersion, Revision: "abc123", Created: time.Unix(1700000000, 0).UTC()}
}

// buildArchive builds the image of spec into an archive in a temp dir.
func buildArchive(t *testing.T, s Spec, tag string) (string, v1.Hash) {
	t.Helper()
	img, err := Build(s)
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "floe-image.tar")
	digest, err := WriteArchive(img, tag, out)
	require.NoError(t, err)
	return out, digest
}

// readArchive opens an OCI image archive the way a consumer would: untar
// the layout, read index.json, load the one image it names.
func readArchive(t *testing.T, archive string) (v1.Image, v1.Descriptor) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1, "the archive holds one image")
	img, err := idx.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	return img, im.Manifests[0]
}

type fileInfo struct {
	mode     int64
	uid, gid int
	typ      byte
	data     []byte
}

// files lists the image's flattened file system.
func files(t *testing.T, img v1.Image) map[string]fileInfo {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]fileInfo{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out["/"+strings.TrimSuffix(h.Name, "/")] = fileInfo{mode: h.Mode, uid: h.Uid, gid: h.Gid, typ: h.Typeflag, data: data}
	}
}

// TestImageConfig: the archive is an OCI image whose config runs floe as a
// numeric non-root user, with the binary as entrypoint and `run --config
// /etc/floe/floe.yaml` as arguments, named by the tag.
func TestImageConfig(t *testing.T) {
	img, desc := readArchive(t, sharedArchive(t))
	digest, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, digest, desc.Digest)
	require.Equal(t, testTag, desc.Annotations[refNameAnnotation])
	require.Equal(t, types.OCIManifestSchema1, desc.MediaType)
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	require.Equal(t, types.OCILayer, m.Layers[0].MediaType)

	cf, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, "amd64", cf.Architecture)
	c := cf.Config
	require.Equal(t, "65532:65532", c.User, "a numeric non-root user, so runAsNonRoot can check it")
	require.Equal(t, []string{"/usr/local/bin/floe"}, c.Entrypoint)
	require.Equal(t, []string{"run", "--config", "/etc/floe/floe.yaml"}, c.Cmd)
	require.Equal(t, "/var/lib/floe", c.WorkingDir)
	require.Contains(t, c.ExposedPorts, "9464/tcp")
	require.Equal(t, testVersion, c.Labels["org.opencontainers.image.version"])
	require.Equal(t, "abc123", c.Labels["org.opencontainers.image.revision"])
	require.Equal(t, "2023-11-14T22:13:20Z", c.Labels["org.opencontainers.image.created"])
}

// TestImageFiles: the image holds exactly the binary, the CA bundle, the
// user database and three directories: no shell, no package manager, no
// other program; the state directory belongs to the user.
func TestImageFiles(t *testing.T) {
	img, _ := readArchive(t, sharedArchive(t))
	fs := files(t, img)
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, []string{"/etc", "/etc/floe", "/etc/group", "/etc/nsswitch.conf", "/etc/passwd", "/etc/ssl",
		"/etc/ssl/certs", "/etc/ssl/certs/ca-certificates.crt", "/tmp", "/usr", "/usr/local", "/usr/local/bin",
		"/usr/local/bin/floe", "/var", "/var/lib", "/var/lib/floe"}, names)
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/env"} {
		require.NotContains(t, fs, sh)
	}

	want, err := os.ReadFile(floeBin)
	require.NoError(t, err)
	bin := fs["/usr/local/bin/floe"]
	require.Equal(t, sha256.Sum256(want), sha256.Sum256(bin.data), "the binary is put in unchanged")
	require.Equal(t, int64(0o755), bin.mode)
	require.Equal(t, 0, bin.uid, "the binary belongs to root, so the user cannot replace it")

	state := fs["/var/lib/floe"]
	require.Equal(t, byte(tar.TypeDir), state.typ)
	require.Equal(t, [3]int64{0o750, UID, GID}, [3]int64{state.mode, int64(state.uid), int64(state.gid)})
	require.Equal(t, int64(0o1777), fs["/tmp"].mode)
	require.Contains(t, string(fs["/etc/passwd"].data), "floe:x:65532:65532:floe:/var/lib/floe:/sbin/nologin\n")
	require.Contains(t, string(fs["/etc/group"].data), "floe:x:65532:\n")
	require.True(t, x509.NewCertPool().AppendCertsFromPEM(fs["/etc/ssl/certs/ca-certificates.crt"].data))
}

// TestImageReproducible: the same inputs give the same image digest and a
// byte-identical archive; another creation time gives another digest.
func TestImageReproducible(t *testing.T) {
	spec := testSpec()
	spec.Binary = stubBin
	a, d1 := buildArchive(t, spec, "floe:test")
	b, d2 := buildArchive(t, spec, "floe:test")
	require.Equal(t, d1, d2)
	ab, err := os.ReadFile(a)
	require.NoError(t, err)
	bb, err := os.ReadFile(b)
	require.NoError(t, err)
	require.True(t, bytes.Equal(ab, bb), "archives differ")

	later := spec
	later.Created = later.Created.Add(time.Second)
	_, d3 := buildArchive(t, later, "floe:test")
	require.NotEqual(t, d1, d3)
}

// TestImageRefusesBadInput: a dynamically linked binary (it could not
// start in an image without a loader), a binary of another architecture
// and a CA file without certificates are refused with the fix.
func TestImageRefusesBadInput(t *testing.T) {
	dynamic := testSpec()
	dynamic.Binary = "/bin/ls"
	_, err := Build(dynamic)
	require.ErrorContains(t, err, "dynamically linked and cannot run in a scratch image (fix: build it with CGO_ENABLED=0")

	arch := testSpec()
	arch.Binary = stubBin
	arch.Arch = "arm64"
	_, err = Build(arch)
	require.ErrorContains(t, err, "is built for EM_X86_64, not arm64 (fix: GOARCH=arm64 make build")

	certs := testSpec()
	certs.Binary = stubBin
	certs.CACerts = filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(certs.CACerts, []byte("not a certificate\n"), 0o644))
	_, err = Build(certs)
	require.ErrorContains(t, err, "holds no PEM certificate")

	missing := testSpec()
	missing.Binary = filepath.Join(t.TempDir(), "nope")
	_, err = Build(missing)
	require.ErrorContains(t, err, "read the floe binary (fix: make build)")
}
