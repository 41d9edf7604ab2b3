{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "team-ns.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "team-ns.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the team. */}}
{{- define "team-ns.team" -}}
{{- required "team.name is required" .Values.team.name -}}
{{- end -}}

{{/* Namespace of the team: team-<name>. */}}
{{- define "team-ns.namespace" -}}
{{- printf "team-%s" (include "team-ns.team" .) -}}
{{- end -}}

{{/* Standard labels of every object, plus otomi.io/team. */}}
{{- define "team-ns.labels" -}}
helm.sh/chart: {{ include "team-ns.chart" . }}
app.kubernetes.io/name: {{ include "team-ns.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otomi
otomi.io/team: {{ include "team-ns.team" . | quote }}
{{- end -}}

{{/*
Ingress class of a service: its ingressClassName when set; otherwise the platform class for public
services and the class of authenticated traffic (ingress.authClassName) for sso services.
Call with (dict "svc" $svc "ctx" $).
*/}}
{{- define "team-ns.ingressClass" -}}
{{- $v := .ctx.Values -}}
{{- if .svc.ingressClassName -}}
{{- .svc.ingressClassName -}}
{{- else if eq .svc.ingress "sso" -}}
{{- $v.ingress.authClassName | default $v.ingress.platformClassName -}}
{{- else -}}
{{- $v.ingress.platformClassName -}}
{{- end -}}
{{- end -}}

{{/* Host of a service: <host or name-team>.<domain or domainSuffix>. Call with (dict "svc" $svc "ctx" $). */}}
{{- define "team-ns.host" -}}
{{- $label := .svc.host | default (printf "%s-%s" .svc.name (include "team-ns.team" .ctx)) -}}
{{- $domain := .svc.domain | default (required "domainSuffix is required" .ctx.Values.domainSuffix) -}}
{{- printf "%s.%s" $label $domain -}}
{{- end -}}

{{/* Gateway of a service's ingress setting: public, auth (sso) or local (cluster). */}}
{{- define "team-ns.gateway" -}}
{{- $ingress := .svc.ingress | default "cluster" -}}
{{- $name := get (dict "public" "public" "sso" "auth" "cluster" "local") $ingress -}}
{{- index .ctx.Values.gateways $name | toJson -}}
{{- end -}}

{{/*
Image reference: repository[:tag][@digest], the digest winning over the tag.
When global.imageRegistry is set it replaces the registry host of the repository: the first path element
when it contains "." or ":" or is "localhost"; a repository without such a host is a docker.io image
(official docker.io images get their implicit "library/" path).
Call with (dict "image" .Values.image "global" .Values.global "defaultTag" "v1.0.0").
*/}}
{{- define "team-ns.image" -}}
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
