{{/*
Names. Object names are "<fullname>-<component>"; fullname is capped so that the longest
component suffix still fits the 63 characters of a label value.
*/}}
{{- define "suanli.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "suanli.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "suanli.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "suanli.labels" -}}
helm.sh/chart: {{ include "suanli.chart" . }}
app.kubernetes.io/name: {{ include "suanli.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: suanli
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "operator"). */}}
{{- define "suanli.selectorLabels" -}}
app.kubernetes.io/name: {{ include "suanli.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "suanli.componentLabels" -}}
{{ include "suanli.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* ServiceAccount names. */}}
{{- define "suanli.operator.serviceAccountName" -}}
{{- default (printf "%s-operator" (include "suanli.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- end -}}

{{- define "suanli.scheduler.serviceAccountName" -}}
{{- default (printf "%s-scheduler" (include "suanli.fullname" .)) .Values.scheduler.serviceAccount.name -}}
{{- end -}}

{{- define "suanli.extender.serviceAccountName" -}}
{{- default (printf "%s-extender" (include "suanli.fullname" .)) .Values.extender.serviceAccount.name -}}
{{- end -}}

{{- define "suanli.ui.serviceAccountName" -}}
{{- default (printf "%s-ui" (include "suanli.fullname" .)) .Values.ui.serviceAccount.name -}}
{{- end -}}

{{- define "suanli.operator.webhookHost" -}}
{{- default (printf "%s-operator.%s.svc" (include "suanli.fullname" .) .Release.Namespace) .Values.operator.webhook.host -}}
{{- end -}}

{{/* The ServiceAccount the extender runs as: its own in service mode, the scheduler's as a sidecar. */}}
{{- define "suanli.extender.runAs" -}}
{{- if eq .Values.extender.mode "service" -}}
{{- include "suanli.extender.serviceAccountName" . -}}
{{- else -}}
{{- include "suanli.scheduler.serviceAccountName" . -}}
{{- end -}}
{{- end -}}

{{/* Images. A digest wins over a tag. */}}
{{- define "suanli.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
kube-scheduler's tag defaults to the cluster's version: the skew policy forbids a scheduler newer
than the apiserver. Managed clusters report versions like v1.31.2-eks-7f9249a, which are not
upstream tags, so only major.minor.patch is kept.
*/}}
{{- define "suanli.scheduler.image" -}}
{{- $image := .Values.scheduler.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else if $image.tag -}}
{{- printf "%s:%s" $image.repository $image.tag -}}
{{- else -}}
{{- $v := semver .Capabilities.KubeVersion.Version -}}
{{- printf "%s:v%d.%d.%d" $image.repository $v.Major $v.Minor $v.Patch -}}
{{- end -}}
{{- end -}}

{{/* The extender: where kube-scheduler reaches it, and whether anything else can. */}}
{{- define "suanli.extender.host" -}}
{{- if eq .Values.extender.mode "service" -}}0.0.0.0{{- else -}}{{ .Values.extender.listenAddress }}{{- end -}}
{{- end -}}

{{- define "suanli.extender.reachable" -}}
{{- if or (eq .Values.extender.mode "service") (not (hasPrefix "127." .Values.extender.listenAddress)) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the extender serves mutual TLS: in service mode unless extender.tls.enabled=false. */}}
{{- define "suanli.extender.tls" -}}
{{- if and (eq .Values.extender.mode "service") .Values.extender.tls.enabled -}}true{{- end -}}
{{- end -}}

{{/* The Secrets of the extender's serving and client certificates: given, or the chart's own. */}}
{{- define "suanli.extender.tlsSecret" -}}
{{- default (printf "%s-extender-tls" (include "suanli.fullname" .)) .Values.extender.tls.secretName -}}
{{- end -}}

{{- define "suanli.extender.clientTlsSecret" -}}
{{- default (printf "%s-extender-client-tls" (include "suanli.fullname" .)) .Values.extender.tls.clientSecretName -}}
{{- end -}}

{{- define "suanli.extender.serverName" -}}
{{- default (printf "%s-extender.%s.svc" (include "suanli.fullname" .) .Release.Namespace) .Values.extender.tls.serverName -}}
{{- end -}}

{{- define "suanli.extender.url" -}}
{{- if eq .Values.extender.mode "service" -}}
{{- printf "%s://%s-extender.%s.svc:%d" (ternary "https" "http" (eq (include "suanli.extender.tls" .) "true")) (include "suanli.fullname" .) .Release.Namespace (int .Values.extender.port) -}}
{{- else -}}
{{- printf "http://127.0.0.1:%d" (int .Values.extender.port) -}}
{{- end -}}
{{- end -}}

{{/*
The checksum that rolls pods when the catalog or latency map changes (catalog.rollout). The
ConfigMap's data is rendered once here and in configmap-catalog.yaml from the same template.
*/}}
{{- define "suanli.catalogData" -}}
catalog.yaml: |
  {{- toYaml (dict "apiVersion" "suanli.dev/v1alpha1" "kind" "AcceleratorCatalog" "types" .Values.catalog.types) | nindent 2 }}
latency.yaml: |
  {{- toYaml (dict "apiVersion" "suanli.dev/v1alpha1" "kind" "LatencyMap" "latencyMs" .Values.latency.latencyMs) | nindent 2 }}
data-policy.yaml: |
  {{- toYaml (dict "apiVersion" "suanli.dev/v1alpha1" "kind" "DataPolicy" "name" .Values.dataPolicy.name "classes" .Values.dataPolicy.classes) | nindent 2 }}
{{- end -}}

{{- define "suanli.catalogChecksum" -}}
{{- if .Values.catalog.rollout -}}
checksum/catalog: {{ include "suanli.catalogData" . | sha256sum }}
{{- end -}}
{{- end -}}

{{/* Checks the schema cannot express: combinations of values. */}}
{{- define "suanli.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection.enabled) -}}
{{- fail "operator.replicas > 1 needs operator.leaderElection.enabled=true: two operators without a leader would both create pods" -}}
{{- end -}}
{{- if and (gt (int .Values.scheduler.replicas) 1) (not .Values.scheduler.leaderElection.enabled) -}}
{{- fail "scheduler.replicas > 1 needs scheduler.leaderElection.enabled=true: two kube-schedulers without a leader would bind the same pods" -}}
{{- end -}}
{{- if ne (empty .Values.extender.tls.secretName) (empty .Values.extender.tls.clientSecretName) -}}
{{- fail "extender.tls.secretName and extender.tls.clientSecretName go together: both Secrets of your own (the serving certificate with its ca.crt, and the client certificate kube-scheduler presents, signed by that CA), or neither (the chart makes both)" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled .Values.scheduler.enabled (not (include "suanli.extender.reachable" .)) -}}
{{- fail "serviceMonitor.enabled cannot scrape an extender listening on 127.0.0.1: set extender.listenAddress=0.0.0.0 or extender.mode=service" -}}
{{- end -}}
{{- range $component := list "operator" "scheduler" "extender" -}}
{{- $sa := index $.Values $component "serviceAccount" -}}
{{- if and (not $sa.create) (not $sa.name) -}}
{{- fail (printf "%s.serviceAccount.create=false needs %s.serviceAccount.name: the existing ServiceAccount to run as" $component $component) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The /tmp every container gets: the root filesystem is read-only. */}}
{{- define "suanli.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}
