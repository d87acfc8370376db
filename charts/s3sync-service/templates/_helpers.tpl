{{/* Release name, or fullnameOverride; names every object. */}}
{{- define "s3sync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "s3sync.selectorLabels" -}}
app.kubernetes.io/name: {{ .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "s3sync.labels" -}}
{{ include "s3sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The ConfigMap holding config.yml: an existing one, or the chart's. */}}
{{- define "s3sync.configmapName" -}}
{{- .Values.configmap.name | default (include "s3sync.fullname" .) -}}
{{- end -}}

{{/* Whether the daemon reads the ConfigMap through the API (`watch` is the Go chart's name). */}}
{{- define "s3sync.watchApi" -}}
{{- if or .Values.configmap.watchApi .Values.configmap.watch -}}true{{- end -}}
{{- end -}}

{{- define "s3sync.rbac" -}}
{{- if and (include "s3sync.watchApi" .) .Values.createRbac -}}true{{- end -}}
{{- end -}}

{{- define "s3sync.serviceAccountName" -}}
{{- if .Values.serviceAccountName -}}
{{- .Values.serviceAccountName -}}
{{- else if include "s3sync.rbac" . -}}
{{- include "s3sync.fullname" . -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{/* The Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, if any. */}}
{{- define "s3sync.secretName" -}}
{{- if and .Values.secret.AWS_ACCESS_KEY_ID .Values.secret.AWS_SECRET_ACCESS_KEY -}}
{{- include "s3sync.fullname" . -}}
{{- else if .Values.secret.name -}}
{{- .Values.secret.name -}}
{{- end -}}
{{- end -}}
