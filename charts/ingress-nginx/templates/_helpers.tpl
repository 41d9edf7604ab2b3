{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "ingress-nginx.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every object name: the release name, or <release>-ingress-nginx when the release name does not
contain the chart name. Two releases of this chart therefore never share an object name.
*/}}
{{- define "ingress-nginx.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ingress-nginx.controller.fullname" -}}
{{- printf "%s-controller" (include "ingress-nginx.fullname" .) -}}
{{- end -}}

{{- define "ingress-nginx.admission.fullname" -}}
{{- printf "%s-admission" (include "ingress-nginx.fullname" .) -}}
{{- end -}}

{{/* spec.controller of the IngressClass and --controller-class. */}}
{{- define "ingress-nginx.controllerClass" -}}
{{- .Values.controllerClass | default (printf "k8s.io/ingress-nginx-%s" .Values.className) -}}
{{- end -}}

{{- define "ingress-nginx.electionID" -}}
{{- .Values.electionID | default (printf "%s-leader" (include "ingress-nginx.fullname" .)) -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "ingress-nginx.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the controller pods of this release. */}}
{{- define "ingress-nginx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ingress-nginx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* Standard labels of every object; the caller adds app.kubernetes.io/component. */}}
{{- define "ingress-nginx.labels" -}}
helm.sh/chart: {{ include "ingress-nginx.chart" . }}
app.kubernetes.io/name: {{ include "ingress-nginx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otomi
{{- end -}}

{{/*
Image reference: repository[:tag][@digest], the digest winning over the tag.
When global.imageRegistry is set it replaces the registry host of the repository: the first path element
when it contains "." or ":" or is "localhost"; a repository without such a host is a docker.io image
(official docker.io images get their implicit "library/" path).
Call with (dict "image" .Values.image "global" .Values.global "defaultTag" "v1.0.0").
*/}}
{{- define "ingress-nginx.image" -}}
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

{{/* Replicas of the controller: autoscaling.minReplicas when autoscaling, else replicaCount. */}}
{{- define "ingress-nginx.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.minReplicas | int -}}
{{- else -}}
{{- .Values.replicaCount | int -}}
{{- end -}}
{{- end -}}
