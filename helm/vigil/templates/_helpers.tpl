{{/* Names truncated to 63 characters (the DNS label limit), as the prometheus-community charts do. */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vigil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vigil.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.gpu.enabled }}
{{- printf "%s:%s" .Values.gpu.repository $tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Refuse settings that cannot work together, at render time rather than in the cluster. */}}
{{- define "vigil.validate" -}}
{{- if and .Values.autoscaling.hpa.enabled .Values.autoscaling.keda.enabled }}
{{- fail "autoscaling: enable either hpa or keda, not both (KEDA creates its own HPA)" }}
{{- end }}
{{- $shutdownMs := (((.Values.config).lifecycle).shutdownTimeoutMs) | default 25000 | int }}
{{- $deadline := div (add $shutdownMs 999) 1000 }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $deadline) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed Vigil's shutdown deadline of %d s (config.lifecycle.shutdownTimeoutMs), so that Vigil, not the kubelet's SIGKILL, ends a shutdown" (int .Values.terminationGracePeriodSeconds) (int $deadline)) }}
{{- end }}
{{- $port := (((.Values.config).metrics).port) | default 9464 | int }}
{{- if ne $port (int .Values.service.port) }}
{{- fail (printf "service.port (%d) must equal config.metrics.port (%d)" (int .Values.service.port) $port) }}
{{- end }}
{{- end }}
