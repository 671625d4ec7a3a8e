package validate

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// objectSet indexes decoded objects by kind and name.
type objectSet struct {
	statefulSets    []*appsv1.StatefulSet
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	serviceAccounts map[string]*corev1.ServiceAccount
	problems        []string
}

func index(objs []object) *objectSet {
	s := &objectSet{services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, serviceAccounts: map[string]*corev1.ServiceAccount{}}
	for _, o := range objs {
		var meta *metav1.ObjectMeta
		nameFn := apivalidation.NameIsDNSSubdomain
		switch v := o.obj.(type) {
		case *appsv1.StatefulSet:
			s.statefulSets, meta, nameFn = append(s.statefulSets, v), &v.ObjectMeta, apivalidation.NameIsDNSLabel
		case *corev1.Service:
			s.services[v.Name], meta, nameFn = v, &v.ObjectMeta, apivalidation.NameIsDNS1035Label
		case *corev1.ConfigMap:
			s.configMaps[v.Name], meta = v, &v.ObjectMeta
		case *corev1.Secret:
			s.secrets[v.Name], meta = v, &v.ObjectMeta
		case *corev1.ServiceAccount:
			s.serviceAccounts[v.Name], meta = v, &v.ObjectMeta
		default:
			s.addf("%s: unexpected kind %T", o.source, o.obj)
			continue
		}
		for _, e := range apivalidation.ValidateObjectMeta(meta, false, nameFn, field.NewPath("metadata")) {
			s.addf("%s: %v", o.source, e)
		}
	}
	return s
}

func (s *objectSet) addf(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// checkPipelines checks each StatefulSet as a Floe pipeline shard together
// with the objects it refers to, and returns every problem found.
func checkPipelines(objs []object) []string {
	s := index(objs)
	if len(s.statefulSets) == 0 {
		s.addf("no StatefulSet: a pipeline runs as one")
	}
	for _, sts := range s.statefulSets {
		s.checkStatefulSet(sts)
	}
	return s.problems
}

func (s *objectSet) checkStatefulSet(sts *appsv1.StatefulSet) {
	at := "StatefulSet " + sts.Name
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		s.addf("%s: spec.replicas must be 1: one writer per pipeline shard", at)
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
		s.addf("%s: spec.selector %v does not select the pod template's labels %v", at, sts.Spec.Selector, sts.Spec.Template.Labels)
	}
	pod := sts.Spec.Template.Spec
	if sa := pod.ServiceAccountName; sa != "" && s.serviceAccounts[sa] == nil {
		s.addf("%s: serviceAccountName %s: no such ServiceAccount", at, sa)
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		s.addf("%s: the pod must set runAsNonRoot: true and a non-zero runAsUser", at)
	}
	i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == "floe" })
	if i < 0 {
		s.addf("%s: no container named floe", at)
		return
	}
	c := &pod.Containers[i]
	port := s.checkContainer(at, c)
	s.checkService(at, sts, port)
	cfg := s.pipelineConfig(at, sts, c)
	if cfg == nil {
		return
	}
	s.checkConfig(at, sts, c, cfg, port)
}

// checkContainer checks the floe container and returns its metrics port.
func (s *objectSet) checkContainer(at string, c *corev1.Container) int32 {
	at += " container floe"
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		s.addf("%s: securityContext must set readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop: [ALL]", at)
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	if port == 0 {
		s.addf("%s: no container port named metrics", at)
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			s.addf("%s: %s must be an httpGet of %s", at, pr.name, pr.path)
			continue
		}
		g := pr.probe.HTTPGet
		if g.Path != pr.path || !(g.Port.StrVal == "metrics" || g.Port.IntVal == port && port != 0) {
			s.addf("%s: %s gets %s on port %s, want %s on the metrics port", at, pr.name, g.Path, g.Port.String(), pr.path)
		}
	}
	s.checkResources(at, c)
	return port
}

func (s *objectSet) checkResources(at string, c *corev1.Container) {
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() {
		s.addf("%s: resources.requests must set cpu and memory", at)
	}
	if lim.Memory().IsZero() {
		s.addf("%s: resources.limits.memory must be set", at)
		return
	}
	if lim.Memory().Cmp(*req.Memory()) < 0 {
		s.addf("%s: resources.limits.memory %s is below the request %s", at, lim.Memory(), req.Memory())
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		b, err := goMemLimit(e.Value)
		if err != nil {
			s.addf("%s: GOMEMLIMIT %q: %v", at, e.Value, err)
		} else if b >= lim.Memory().Value() {
			s.addf("%s: GOMEMLIMIT %s must stay below resources.limits.memory %s", at, e.Value, lim.Memory())
		}
		return
	}
	s.addf("%s: env GOMEMLIMIT must be set below resources.limits.memory", at)
}

// goMemLimit parses a GOMEMLIMIT value as the Go runtime does (bytes with
// an optional B, KiB, MiB, GiB or TiB suffix).
func goMemLimit(v string) (int64, error) {
	for i, unit := range []string{"TiB", "GiB", "MiB", "KiB", "B"} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			x, err := strconv.ParseInt(n, 10, 64)
			return x << (10 * (4 - i)), err
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

func (s *objectSet) checkService(at string, sts *appsv1.StatefulSet, port int32) {
	svc := s.services[sts.Spec.ServiceName]
	if svc == nil {
		s.addf("%s: serviceName %q: no such Service", at, sts.Spec.ServiceName)
		return
	}
	at = "Service " + svc.Name
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		s.addf("%s: a StatefulSet's Service must be headless (clusterIP: None)", at)
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) {
		s.addf("%s: selector %v does not select the pods of StatefulSet %s", at, svc.Spec.Selector, sts.Name)
	}
	ok := slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
		return p.Name == "metrics" && (p.TargetPort.StrVal == "metrics" || p.TargetPort.IntVal == port)
	})
	if !ok {
		s.addf("%s: no port named metrics targeting the container's metrics port", at)
	}
	if a, set := svc.Annotations["prometheus.io/port"]; set && a != strconv.Itoa(int(port)) {
		s.addf("%s: annotation prometheus.io/port %s, but the metrics port is %d", at, a, port)
	}
}

// pipelineConfig finds the floe.yaml the container's --config names and
// parses it.
func (s *objectSet) pipelineConfig(at string, sts *appsv1.StatefulSet, c *corev1.Container) map[string]any {
	args := append(slices.Clone(c.Command), c.Args...)
	i := slices.Index(args, "--config")
	if len(args) == 0 || args[0] != "run" || i < 0 || i+1 >= len(args) {
		s.addf("%s: container args must be run --config FILE, got %q", at, args)
		return nil
	}
	path := args[i+1]
	for _, m := range c.VolumeMounts {
		file, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		vi := slices.IndexFunc(sts.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if vi < 0 || sts.Spec.Template.Spec.Volumes[vi].ConfigMap == nil {
			s.addf("%s: --config %s is not on a ConfigMap volume", at, path)
			return nil
		}
		name := sts.Spec.Template.Spec.Volumes[vi].ConfigMap.Name
		cm := s.configMaps[name]
		if cm == nil || cm.Data[file] == "" {
			s.addf("%s: --config %s: ConfigMap %s has no key %s", at, path, name, file)
			return nil
		}
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(cm.Data[file]), &cfg); err != nil {
			s.addf("ConfigMap %s: %s is not YAML: %v", name, file, err)
			return nil
		}
		return cfg
	}
	s.addf("%s: --config %s is on no volume mount", at, path)
	return nil
}

// varRef is a ${VAR} reference as floe expands it ($${ is a literal).
var varRef = regexp.MustCompile(`\$?\$\{([^}]*)\}`)

// checkConfig ties the configuration to the pod: the metrics address, the
// state dir on the persistent volume, every ${VAR} supplied.
func (s *objectSet) checkConfig(at string, sts *appsv1.StatefulSet, c *corev1.Container, cfg map[string]any, port int32) {
	addr, _ := lookup(cfg, "server", "metrics-address").(string)
	host, p, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		s.addf("%s: server.metrics-address %q: set it to 0.0.0.0:%d for the probes and Prometheus", at, addr, port)
	case p != strconv.Itoa(int(port)):
		s.addf("%s: server.metrics-address %q listens on port %s, but the container's metrics port is %d", at, addr, p, port)
	case host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback():
		s.addf("%s: server.metrics-address %q listens on loopback only: the kubelet's probes and Prometheus cannot reach it (fix: 0.0.0.0:%s)", at, addr, p)
	}
	dir, _ := lookup(cfg, "state", "dir").(string)
	onVolume := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		claim := slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(pvc corev1.PersistentVolumeClaim) bool { return pvc.Name == m.Name })
		return claim && (dir == m.MountPath || strings.HasPrefix(dir, strings.TrimSuffix(m.MountPath, "/")+"/"))
	})
	if !onVolume {
		s.addf("%s: state.dir %q is not on a volumeClaimTemplate's mount: the state would be lost with the pod", at, dir)
	}
	if lookup(cfg, "pipeline", "name") == nil {
		s.addf("%s: the configuration names no pipeline.name", at)
	}
	s.checkVars(at, c, cfg)
}

func (s *objectSet) checkVars(at string, c *corev1.Container, cfg map[string]any) {
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			continue
		}
		sec := s.secrets[from.SecretRef.Name]
		if sec == nil {
			s.addf("%s: envFrom secretRef %s: no such Secret", at, from.SecretRef.Name)
			continue
		}
		for k := range sec.StringData {
			env[k] = true
		}
		for k := range sec.Data {
			env[k] = true
		}
	}
	text, _ := yaml.Marshal(cfg)
	for _, m := range varRef.FindAllStringSubmatch(string(text), -1) {
		if strings.HasPrefix(m[0], "$$") {
			continue
		}
		if !env[m[1]] {
			s.addf("%s: the configuration references ${%s}, which neither env nor an envFrom Secret supplies", at, m[1])
		}
	}
}

// lookup follows keys through nested mappings; nil when absent.
func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// quantity is resource.MustParse for tests that build expectations.
var quantity = resource.MustParse
