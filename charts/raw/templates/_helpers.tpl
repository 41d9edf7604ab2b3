{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "raw.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "raw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels of every object. */}}
{{- define "raw.labels" -}}
helm.sh/chart: {{ include "raw.chart" . }}
app.kubernetes.io/name: {{ include "raw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otomi
{{- end -}}
