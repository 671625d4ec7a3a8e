package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout. Kubernetes' runAsNonRoot can only verify a
// numeric user, so the config names the uid, not the user name.
const (
	// UID and GID of the user floe (the "nonroot" id of distroless images).
	UID = 65532
	GID = 65532
	// Entrypoint is where the binary lives.
	Entrypoint = "/usr/local/bin/floe"
	// ConfigPath is the default --config: mount the pipeline's YAML here.
	ConfigPath = "/etc/floe/floe.yaml"
	// StateDir is the user's home and working directory: mount the
	// persistent volume for state.dir here.
	StateDir = "/var/lib/floe"
	// MetricsPort is the port the image declares for server.metrics-address.
	MetricsPort = 9464
	// refNameAnnotation names the image inside the OCI archive.
	refNameAnnotation = "org.opencontainers.image.ref.name"
	sourceURL         = "https://github.com/floe-cdc/floe"
)

// Spec is what goes into the image.
type Spec struct {
	Binary   string    // path of the static floe binary
	CACerts  string    // path of a PEM CA bundle
	Arch     string    // GOARCH of the binary
	Version  string    // floe version, for labels
	Revision string    // source revision, for labels ("" leaves the label out)
	Created  time.Time // creation time of the image and of every file in it
}

// Build assembles the image described by s. It refuses a binary that is
// not a static ELF executable for s.Arch (a scratch image has no dynamic
// loader) and a CA bundle without a certificate.
func Build(s Spec) (v1.Image, error) {
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("read the floe binary (fix: make build): %w", err)
	}
	if err := checkStatic(s.Binary, s.Arch); err != nil {
		return nil, err
	}
	certs, err := os.ReadFile(s.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates (fix: apt-get install ca-certificates, or -ca-certificates FILE): %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(certs) {
		return nil, fmt.Errorf("%s holds no PEM certificate (fix: point -ca-certificates at a CA bundle)", s.CACerts)
	}
	rootfs, err := rootFS(bin, certs, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.DefaultCompression),
		tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("make the image layer: %w", err)
	}
	created := v1.Time{Time: s.Created}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{
		Created: created, CreatedBy: "deploy/image: floe binary, CA certificates, passwd for uid 65532",
	}})
	if err != nil {
		return nil, fmt.Errorf("append the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = s.Arch, "linux", created
	cf.Config = imageConfig(s)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set the image config: %w", err)
	}
	return img, nil
}

// imageConfig is the runtime configuration: non-root, the binary as the
// entrypoint, `run --config /etc/floe/floe.yaml` as the default arguments.
func imageConfig(s Spec) v1.Config {
	labels := map[string]string{
		"org.opencontainers.image.title":       "floe",
		"org.opencontainers.image.description": "Change data capture from PostgreSQL and MySQL/MariaDB into Apache Iceberg, exactly once",
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.created":     s.Created.UTC().Format(time.RFC3339),
	}
	if s.Revision != "" {
		labels["org.opencontainers.image.revision"] = s.Revision
	}
	return v1.Config{
		User:         strconv.Itoa(UID) + ":" + strconv.Itoa(GID),
		Entrypoint:   []string{Entrypoint},
		Cmd:          []string{"run", "--config", ConfigPath},
		WorkingDir:   StateDir,
		Env:          []string{"PATH=/usr/local/bin", "HOME=" + StateDir},
		ExposedPorts: map[string]struct{}{strconv.Itoa(MetricsPort) + "/tcp": {}},
		StopSignal:   "SIGTERM",
		Labels:       labels,
	}
}

// checkStatic refuses anything but a statically linked ELF executable for
// arch.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable (fix: make build): %w", path, err)
	}
	defer f.Close()
	want, ok := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64,
		"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}[arch]
	if !ok {
		return fmt.Errorf("-arch %s: unsupported (amd64, arm64, ppc64le, s390x, riscv64)", arch)
	}
	if f.Machine != want {
		return fmt.Errorf("%s is built for %s, not %s (fix: GOARCH=%s make build, or -arch to match)", path, f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked and cannot run in a scratch image (fix: build it with CGO_ENABLED=0, as make build does)", path)
		}
	}
	return nil
}

// rootFS is the layer: an uncompressed tar with every entry owned by root
// except the state directory, and every timestamp at mtime.
func rootFS(bin, certs []byte, mtime time.Time) ([]byte, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		fmt.Sprintf("floe:x:%d:%d:floe:%s:/sbin/nologin\n", UID, GID, StateDir)
	group := "root:x:0:\n" + fmt.Sprintf("floe:x:%d:\n", GID)
	type entry struct {
		mode     int64
		uid, gid int
		data     []byte // nil: a directory
	}
	entries := map[string]entry{
		"etc/":                                  {mode: 0o755},
		"etc/floe/":                             {mode: 0o755},
		"etc/group":                             {mode: 0o644, data: []byte(group)},
		"etc/passwd":                            {mode: 0o644, data: []byte(passwd)},
		"etc/nsswitch.conf":                     {mode: 0o644, data: []byte("hosts: files dns\n")},
		"etc/ssl/":                              {mode: 0o755},
		"etc/ssl/certs/":                        {mode: 0o755},
		"etc/ssl/certs/ca-certificates.crt":     {mode: 0o644, data: certs},
		"tmp/":                                  {mode: 0o1777},
		"usr/":                                  {mode: 0o755},
		"usr/local/":                            {mode: 0o755},
		"usr/local/bin/":                        {mode: 0o755},
		"usr/local/bin/floe":                    {mode: 0o755, data: bin},
		"var/":                                  {mode: 0o755},
		"var/lib/":                              {mode: 0o755},
		strings.TrimPrefix(StateDir, "/") + "/": {mode: 0o750, uid: UID, gid: GID},
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names) // parents sort before their children
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		h := &tar.Header{Name: n, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatUSTAR}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the layer: %w", err)
	}
	return buf.Bytes(), nil
}
