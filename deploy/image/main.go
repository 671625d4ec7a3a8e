// Command image builds Floe's container image as an OCI image archive, with
// no container daemon and no base image to pull: one layer holding the
// static floe binary, the CA certificates of the build machine, an
// /etc/passwd and /etc/group naming the unprivileged user floe (uid and gid
// 65532), an empty /tmp and the state directory /var/lib/floe owned by that
// user. There is no shell and no other program in it.
//
//	go run ./deploy/image -floe bin/floe -out bin/floe-image.tar -tag floe:v1.2.3
//
// `make image` runs it. The archive is an OCI image layout in a tar file
// (podman load, skopeo copy oci-archive:…, ctr images import, crane push
// after untarring). The same binary, certificates, tag and -created time give
// the same image digest: every timestamp in the layer is -created.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var s Spec
	fs.StringVar(&s.Binary, "floe", "bin/floe", "the static floe binary to put in the image (make build)")
	fs.StringVar(&s.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates (Debian's ca-certificates) for TLS to S3, catalogs and sources")
	fs.StringVar(&s.Arch, "arch", runtime.GOARCH, "the binary's GOARCH; it must match the binary")
	fs.StringVar(&s.Version, "version", "dev", "the floe version, for the image labels")
	fs.StringVar(&s.Revision, "revision", "", "the source revision, for the image labels")
	created := fs.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "image creation time in Unix seconds (default $SOURCE_DATE_EPOCH, else 0); every file in the layer gets it")
	tag := fs.String("tag", "floe:dev", "the image reference recorded in the archive (org.opencontainers.image.ref.name)")
	out := fs.String("out", "bin/floe-image.tar", "where to write the OCI image archive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *created != "" {
		sec, err := strconv.ParseInt(*created, 10, 64)
		if err != nil {
			return fmt.Errorf("-created %q: want Unix seconds: %w", *created, err)
		}
		s.Created = time.Unix(sec, 0).UTC()
	} else {
		s.Created = time.Unix(0, 0).UTC()
	}
	img, err := Build(s)
	if err != nil {
		return err
	}
	digest, err := WriteArchive(img, *tag, *out)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s (%s, %s)\n", *out, *tag, digest, s.Arch)
	return nil
}
