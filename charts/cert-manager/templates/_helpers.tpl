{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "cert-manager.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: the release name, or <release>-cert-manager. */}}
{{- define "cert-manager.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cert-manager.controller.fullname" -}}
{{- include "cert-manager.fullname" . -}}
{{- end -}}

{{- define "cert-manager.webhook.fullname" -}}
{{- printf "%s-webhook" (include "cert-manager.fullname" .) -}}
{{- end -}}

{{- define "cert-manager.cainjector.fullname" -}}
{{- printf "%s-cainjector" (include "cert-manager.fullname" .) -}}
{{- end -}}

{{/* Secret of the webhook's own serving CA (managed by the webhook itself). */}}
{{- define "cert-manager.webhook.caSecret" -}}
{{- printf "%s-ca" (include "cert-manager.webhook.fullname" .) -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "cert-manager.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component. Call with (dict "ctx" $ "component" "webhook"). */}}
{{- define "cert-manager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cert-manager.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component's objects. Call with (dict "ctx" $ "component" "webhook"). */}}
{{- define "cert-manager.labels" -}}
helm.sh/chart: {{ include "cert-manager.chart" .ctx }}
{{ include "cert-manager.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: otomi
{{- end -}}

{{/*
Image reference: repository[:tag][@digest], the digest winning over the tag.
When global.imageRegistry is set it replaces the registry host of the repository: the first path element
when it contains "." or ":" or is "localhost"; a repository without such a host is a docker.io image
(official docker.io images get their implicit "library/" path).
Call with (dict "image" .Values.images.controller "global" .Values.global "defaultTag" "v1.0.0").
*/}}
{{- define "cert-manager.image" -}}
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

{{/* Image of one component: (dict "ctx" $ "component" "controller"). */}}
{{- define "cert-manager.componentImage" -}}
{{- include "cert-manager.image" (dict "image" (index .ctx.Values.images .component) "global" .ctx.Values.global "defaultTag" (printf "v%s" .ctx.Chart.AppVersion)) -}}
{{- end -}}

{{/* Pod spec fields every component shares. */}}
{{- define "cert-manager.podCommon" -}}
enableServiceLinks: false
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
