{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "harbor.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "harbor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "harbor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "harbor.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component's objects. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "harbor.labels" -}}
helm.sh/chart: {{ include "harbor.chart" .ctx }}
{{ include "harbor.selectorLabels" . }}
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
{{- define "harbor.image" -}}
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
{{- define "harbor.podCommon" -}}
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


{{/* Image of one component: (dict "ctx" $ "component" "core"). */}}
{{- define "harbor.componentImage" -}}
{{- include "harbor.image" (dict "image" (index .ctx.Values.images .component) "global" .ctx.Values.global "defaultTag" (printf "v%s" .ctx.Chart.AppVersion)) -}}
{{- end -}}

{{/* Name of the Secret with the database user's username and password. */}}
{{- define "harbor.dbSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-db" .Release.Name) -}}
{{- end -}}

{{/* In-cluster address of a component's Service: (dict "ctx" $ "component" "core"). */}}
{{- define "harbor.svc" -}}
{{- printf "%s-%s.%s.svc.cluster.local" .ctx.Release.Name .component .ctx.Release.Namespace -}}
{{- end -}}

{{/* Redis URL of one database number: (dict "ctx" $ "db" 0). */}}
{{- define "harbor.redisUrl" -}}
{{- printf "redis://%s:6379/%v?idle_timeout_seconds=30" (include "harbor.svc" (dict "ctx" .ctx "component" "redis")) .db -}}
{{- end -}}

{{/* A secretKeyRef env entry: (dict "name" "ENV" "secret" "s" "key" "k"). */}}
{{- define "harbor.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* The trust of the custom CA: Go reads the system bundle and every file of SSL_CERT_DIR. */}}
{{- define "harbor.caEnv" -}}
{{- if .Values.oidc.caBundle }}
- name: SSL_CERT_DIR
  value: /etc/pki/tls/certs:/etc/harbor/custom-ca
{{- end }}
{{- end -}}

{{/* Volume mounts of the registry and its controller. */}}
{{- define "harbor.registryMounts" -}}
- name: config
  mountPath: /etc/registry/config.yml
  subPath: config.yml
  readOnly: true
- name: storage
  mountPath: /storage
{{- if eq .Values.storage.type "gcs" }}
- name: gcs-key
  mountPath: /etc/registry/gcs
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Environment of the registry and its controller: the HTTP secret and the store's credentials. */}}
{{- define "harbor.registryStorageEnv" -}}
{{- $v := .Values }}
{{- $secret := printf "%s-registry" .Release.Name }}
{{- include "harbor.secretEnv" (dict "name" "REGISTRY_HTTP_SECRET" "secret" $secret "key" "http-secret") }}
{{- if eq $v.storage.type "s3" }}
{{ include "harbor.secretEnv" (dict "name" "REGISTRY_STORAGE_S3_ACCESSKEY" "secret" $secret "key" "s3-access-key") }}
{{ include "harbor.secretEnv" (dict "name" "REGISTRY_STORAGE_S3_SECRETKEY" "secret" $secret "key" "s3-secret-key") }}
{{- else if eq $v.storage.type "azure" }}
{{ include "harbor.secretEnv" (dict "name" "REGISTRY_STORAGE_AZURE_ACCOUNTKEY" "secret" $secret "key" "azure-account-key") }}
{{- end }}
{{- end -}}
