// Package validate holds the tests that keep Floe's deployment files true,
// with no network and no cluster:
//
//   - every Kubernetes manifest in deploy/k8s and every document the Helm
//     chart deploy/helm/floe renders is decoded strictly against the
//     Kubernetes API types (an unknown or misspelt field, a wrong type or a
//     duplicate key is an error), and a pipeline's objects are checked
//     against each other and against floe's own rules: one replica, the
//     probes on /healthz and /readyz at server.metrics-address, state.dir on
//     the persistent volume, every ${VAR} of the configuration supplied by
//     the Secret, a non-root read-only container;
//   - the configurations they carry are accepted by floe's own parser (the
//     real binary's `floe check`);
//   - the chart passes helm lint and its values schema refuses unknown keys;
//   - the Prometheus rules parse with Prometheus' own rule parser, and every
//     metric the rules and the Grafana dashboard query is one floe exports;
//   - the systemd unit passes systemd-analyze verify and security.
//
// It has no non-test code beyond this comment, so nothing links the
// Kubernetes, Helm or Prometheus libraries but these tests.
//
// See docs/architecture.md (the package map).
package validate
