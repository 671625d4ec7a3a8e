{{/* The chart name, or nameOverride. */}}
{{- define "floe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name, with the chart name unless it already holds it. */}}
{{- define "floe.fullname" -}}
{{- $name := include "floe.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one pipeline's objects: fullname-pipeline. A StatefulSet's
name must leave room for its pods' suffixes, so it is held to 52. */}}
{{- define "floe.pipelineName" -}}
{{- $n := printf "%s-%s" (include "floe.fullname" .root) .pipeline.name -}}
{{- if gt (len $n) 52 -}}
{{- fail (printf "pipelines: %q makes the object name %q, longer than 52 characters; shorten the release or pipeline name" .pipeline.name $n) -}}
{{- end -}}
{{- $n -}}
{{- end -}}

{{- define "floe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "floe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "floe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "floe.fullname" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
{{- end -}}

{{/* Selector labels of one pipeline's pods. */}}
{{- define "floe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "floe.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .pipeline.name }}
{{- end -}}

{{/* One pipeline's floe.yaml: its config, pipeline.name defaulting to the
entry's name, and the two settings tied to the pod: state.dir on the
persistent volume, server.metrics-address on the metrics port. */}}
{{- define "floe.config" -}}
{{- if not (kindIs "map" .pipeline.config) -}}
{{- fail (printf "pipelines: %q needs config: the floe.yaml as a YAML mapping" .pipeline.name) -}}
{{- end -}}
{{- $pinned := dict "state" (dict "dir" "/var/lib/floe/state") "server" (dict "metrics-address" (printf "0.0.0.0:%d" (int .root.Values.metrics.port))) -}}
{{- $cfg := mustMergeOverwrite (dict "pipeline" (dict "name" .pipeline.name)) (deepCopy .pipeline.config) $pinned -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The Secret a pipeline's environment comes from, or "" for none. */}}
{{- define "floe.secretName" -}}
{{- if .pipeline.existingSecret -}}
{{- .pipeline.existingSecret -}}
{{- else if .pipeline.secretEnv -}}
{{- include "floe.pipelineName" . -}}
{{- end -}}
{{- end -}}
