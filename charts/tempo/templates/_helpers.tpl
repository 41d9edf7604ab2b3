{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "tempo.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "tempo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "tempo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tempo.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component's objects. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "tempo.labels" -}}
helm.sh/chart: {{ include "tempo.chart" .ctx }}
{{ include "tempo.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: otomi
{{- end -}}

{{/*
Image reference: repository[:tag][@digest], the digest winning over the tag.
When global.imageRegistry is set it replaces the registry host of the repository: the first path element
when it contains "." or ":" or is "localhost"; a repository without such a host is a docker.io image
(official docker.io images get their implicit "library/" path).
Call with (dict "image" .Values.image "global" .Values.global "defaultTag" "v1.0.0").
*/}}
{{- define "tempo.image" -}}
{{- $img := .image | default dict -}}
{{- $repo := required "image.repository is required" (dig "repository" "" $img) -}}
{{- $registry := trimSuffix "/" (dig "imageRegistry" "" (.global | default dict)) -}}
{{- if $registry -}}
{{- $parts := splitList "/" $repo -}}
{{- $first := first $parts -}}
{{- $host := "docker.io" -}}
{{- $path := $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- $host = $first -}}
{{- $path = rest $parts -}}
{{- end -}}
{{- if and (has $host (list "docker.io" "index.docker.io")) (eq (len $path) 1) -}}
{{- $path = prepend $path "library" -}}
{{- end -}}
{{- $repo = printf "%s/%s" $registry (join "/" $path) -}}
{{- end -}}
{{- $digest := dig "digest" "" $img -}}
{{- $tag := dig "tag" "" $img | default .defaultTag | toString -}}
{{- if $digest -}}
{{- printf "%s@%s" $repo $digest -}}
{{- else if $tag -}}
{{- printf "%s:%s" $repo $tag -}}
{{- else -}}
{{- $repo -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings every pod of the chart shares. */}}
{{- define "tempo.podCommon" -}}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}


{{/* A duration in Go's units: days and weeks (14d, 2w) become hours, the rest is kept. */}}
{{- define "tempo.goDuration" -}}
{{- $d := toString . -}}
{{- if hasSuffix "d" $d -}}
{{- printf "%dh" (mul (trimSuffix "d" $d | atoi) 24) -}}
{{- else if hasSuffix "w" $d -}}
{{- printf "%dh" (mul (trimSuffix "w" $d | atoi) 168) -}}
{{- else if hasSuffix "y" $d -}}
{{- printf "%dh" (mul (trimSuffix "y" $d | atoi) 8760) -}}
{{- else -}}
{{- $d -}}
{{- end -}}
{{- end -}}

{{/* The receiving ports: name, port and protocol of each enabled receiver. */}}
{{- define "tempo.ports" -}}
{{- $ports := list (dict "name" "http" "port" 3100 "app" "http") (dict "name" "grpc" "port" 9095 "app" "grpc") -}}
{{- if .Values.receivers.otlp -}}
{{- $ports = concat $ports (list (dict "name" "otlp-grpc" "port" 4317 "app" "grpc") (dict "name" "otlp-http" "port" 4318 "app" "http")) -}}
{{- end -}}
{{- if .Values.receivers.jaeger -}}
{{- $ports = concat $ports (list (dict "name" "jaeger-grpc" "port" 14250 "app" "grpc") (dict "name" "jaeger-thrift" "port" 14268 "app" "http")) -}}
{{- end -}}
{{- if .Values.receivers.zipkin -}}
{{- $ports = append $ports (dict "name" "zipkin" "port" 9411 "app" "http") -}}
{{- end -}}
{{- toJson $ports -}}
{{- end -}}

{{/* Environment that carries the object storage credentials (the configuration reads ${VARS}). */}}
{{- define "tempo.storageEnv" -}}
{{- $os := .Values.objectStorage -}}
{{- $secret := printf "%s-objstore" .Release.Name -}}
{{- if eq $os.type "s3" }}
- name: S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: access-key-id}
- name: S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: secret-access-key}
{{- else if eq $os.type "gcs" }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /etc/tempo-gcs/service-account.json
{{- else if eq $os.type "azure" }}
- name: AZURE_ACCOUNT_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: storage-account-key}
{{- end }}
{{- end -}}
