package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// strictDecoder decodes YAML or JSON into the built-in Kubernetes types and
// fails on unknown fields, duplicate keys and kinds it does not know.
var strictDecoder = serializer.NewCodecFactory(clientgoscheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// object is one decoded manifest document and where it came from.
type object struct {
	source string // file name and document number
	obj    runtime.Object
}

// decodeStream strictly decodes every document of a YAML stream; documents
// holding only comments are skipped. All failures are returned together.
func decodeStream(name string, data []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []object
	var errs []error
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: split documents: %w", name, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", name, i, err))
			continue
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // comments only
		}
		src := fmt.Sprintf("%s#%d", name, i)
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		objs = append(objs, object{source: src, obj: obj})
	}
	return objs, errors.Join(errs...)
}

// decodeDir strictly decodes every *.yaml file in dir.
func decodeDir(t *testing.T, dir string) []object {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	sort.Strings(names)
	var all []object
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeStream(filepath.Base(n), data)
		if err != nil {
			t.Fatalf("strict decoding failed:\n%v", err)
		}
		all = append(all, objs...)
	}
	return all
}

// repoRoot is the module root, two levels up from this package.
var repoRoot = filepath.Join("..", "..")

// failIf reports problems, one per line.
func failIf(t *testing.T, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Fatalf("%d problem(s):\n%s", len(problems), strings.Join(problems, "\n"))
	}
}
