{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "gitea.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "gitea.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "gitea.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitea.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component's objects. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "gitea.labels" -}}
helm.sh/chart: {{ include "gitea.chart" .ctx }}
{{ include "gitea.selectorLabels" . }}
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
{{- define "gitea.image" -}}
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
{{- define "gitea.podCommon" -}}
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

{{/* Name of the Secret with the database user's username and password. */}}
{{- define "gitea.dbSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-db" .Release.Name) -}}
{{- end -}}

{{/* Environment of every Gitea container: app.ini as GITEA__<section>__<KEY>, secrets by reference. */}}
{{- define "gitea.env" -}}
{{- $v := .Values -}}
{{- $url := urlParse $v.rootUrl -}}
{{- $cfg := dict
  "server" (dict "DOMAIN" $url.host "ROOT_URL" $v.rootUrl "HTTP_PORT" "3000" "DISABLE_SSH" "true" "START_SSH_SERVER" "false" "LFS_START_SERVER" (toString $v.lfs) "OFFLINE_MODE" "true")
  "database" (dict "DB_TYPE" "postgres" "HOST" (printf "%s:%v" $v.database.host $v.database.port) "NAME" $v.database.database "SSL_MODE" "require")
  "security" (dict "INSTALL_LOCK" "true")
  "service" (dict "DISABLE_REGISTRATION" (toString $v.disableRegistration) "ALLOW_ONLY_EXTERNAL_REGISTRATION" (toString $v.sso.enabled) "SHOW_REGISTRATION_BUTTON" "false" "REQUIRE_SIGNIN_VIEW" "true")
  "openid" (dict "ENABLE_OPENID_SIGNIN" "false" "ENABLE_OPENID_SIGNUP" "false")
  "oauth2_client" (dict "ENABLE_AUTO_REGISTRATION" "true" "USERNAME" "preferred_username" "ACCOUNT_LINKING" "auto" "UPDATE_AVATAR" "false")
  "repository" (dict "DEFAULT_BRANCH" $v.defaultBranch "DEFAULT_PRIVATE" $v.defaultVisibility "ENABLE_PUSH_CREATE_USER" "true" "ENABLE_PUSH_CREATE_ORG" "true")
  "webhook" (dict "ALLOWED_HOST_LIST" "external,private")
  "session" (dict "PROVIDER" "db" "COOKIE_SECURE" "true")
  "metrics" (dict "ENABLED" "true")
  "cron.update_checker" (dict "ENABLED" "false")
  "log" (dict "LEVEL" "Info") -}}
{{- range $section, $kv := $v.config -}}
{{- $_ := set $cfg $section (merge (dict) $kv (index $cfg $section | default dict)) -}}
{{- end -}}
- name: GITEA_APP_INI
  value: /etc/gitea/app.ini
- name: GITEA_WORK_DIR
  value: /var/lib/gitea
- name: GITEA_CUSTOM
  value: /var/lib/gitea/custom
- name: GITEA_TEMP
  value: /tmp/gitea
- name: HOME
  value: /var/lib/gitea/git
{{- range $section := keys $cfg | sortAlpha }}
{{- $kv := index $cfg $section }}
{{- range $k := keys $kv | sortAlpha }}
- name: {{ printf "GITEA__%s__%s" (replace "." "_0X2E_" $section) $k | quote }}
  value: {{ index $kv $k | toString | quote }}
{{- end }}
{{- end }}
- name: GITEA__database__USER
  valueFrom:
    secretKeyRef:
      name: {{ include "gitea.dbSecret" . }}
      key: username
- name: GITEA__database__PASSWD
  valueFrom:
    secretKeyRef:
      name: {{ include "gitea.dbSecret" . }}
      key: password
- name: GITEA__security__SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Release.Name }}
      key: secret-key
{{- end -}}
