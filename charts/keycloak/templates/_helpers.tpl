{{/* Name of the chart, used as app.kubernetes.io/name. */}}
{{- define "keycloak.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label: name-version. */}}
{{- define "keycloak.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "keycloak.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keycloak.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels of one component's objects. Call with (dict "ctx" $ "component" "controller"). */}}
{{- define "keycloak.labels" -}}
helm.sh/chart: {{ include "keycloak.chart" .ctx }}
{{ include "keycloak.selectorLabels" . }}
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
{{- define "keycloak.image" -}}
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
{{- define "keycloak.podCommon" -}}
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

{{/* A duration of the values repo (30s, 5m, 3h, 14d, 2w, 1y) in whole seconds. */}}
{{- define "keycloak.seconds" -}}
{{- $d := toString . -}}
{{- $units := dict "ms" 0.001 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31536000 -}}
{{- $unit := regexFind "[a-z]+$" $d -}}
{{- $n := trimSuffix $unit $d | float64 -}}
{{- mulf $n (index $units ($unit | default "s")) | floor | int -}}
{{- end -}}

{{/*
The platform realm, imported by Keycloak on its first start (--import-realm; an existing realm is kept).
Local accounts (otomi-admin), the groups of the platform roles and teams, the platform client whose tokens
carry one groups claim, and optionally the external identity provider whose groups map onto those groups.
*/}}
{{- define "keycloak.realm" -}}
{{- $r := .Values.realm -}}
{{- $groupMapper := dict "name" $r.client.groupsClaim "protocol" "openid-connect" "protocolMapper" "oidc-group-membership-mapper" "config" (dict "claim.name" $r.client.groupsClaim "full.path" "false" "id.token.claim" "true" "access.token.claim" "true" "userinfo.token.claim" "true" "introspection.token.claim" "true") -}}
{{- $audienceMapper := dict "name" "audience" "protocol" "openid-connect" "protocolMapper" "oidc-audience-mapper" "config" (dict "included.client.audience" $r.client.id "id.token.claim" "false" "access.token.claim" "true" "introspection.token.claim" "true") -}}
{{- $client := dict
  "clientId" $r.client.id
  "name" "otomi platform"
  "description" "Shared OIDC client of the platform apps (oauth2-proxy, Gitea, Harbor, Argo CD, Grafana)"
  "enabled" true
  "protocol" "openid-connect"
  "publicClient" false
  "clientAuthenticatorType" "client-secret"
  "secret" $r.client.secret
  "standardFlowEnabled" true
  "implicitFlowEnabled" false
  "directAccessGrantsEnabled" false
  "serviceAccountsEnabled" false
  "redirectUris" $r.client.redirectUris
  "webOrigins" (list "+")
  "attributes" (dict "post.logout.redirect.uris" (join "##" $r.client.redirectUris))
  "protocolMappers" (list $groupMapper $audienceMapper) -}}
{{- $groups := list -}}
{{- range $r.groups }}{{ $groups = append $groups (dict "name" .) }}{{ end -}}
{{- $users := list -}}
{{- range $r.users -}}
{{- $u := dict "username" .username "enabled" true "emailVerified" true "groups" (list) -}}
{{- with .email }}{{ $_ := set $u "email" . }}{{ end -}}
{{- range .groups }}{{ $_ := set $u "groups" (append $u.groups (printf "/%s" .)) }}{{ end -}}
{{- if .password }}{{ $_ := set $u "credentials" (list (dict "type" "password" "value" .password "temporary" false)) }}{{ end -}}
{{- $users = append $users $u -}}
{{- end -}}
{{- $realm := dict
  "realm" $r.name
  "enabled" true
  "displayName" ($r.displayName | default $r.name)
  "sslRequired" "external"
  "registrationAllowed" false
  "resetPasswordAllowed" false
  "bruteForceProtected" true
  "ssoSessionIdleTimeout" (include "keycloak.seconds" $r.sessionIdleTimeout | int)
  "ssoSessionMaxLifespan" (include "keycloak.seconds" $r.sessionMaxLifespan | int)
  "accessTokenLifespan" 300
  "loginTheme" $r.theme
  "groups" $groups
  "users" $users
  "clients" (list $client) -}}
{{- $idp := $r.identityProvider -}}
{{- if $idp.enabled -}}
{{- $alias := $idp.alias -}}
{{- $_ := set $realm "identityProviders" (list (dict
  "alias" $alias
  "displayName" $idp.displayName
  "providerId" "oidc"
  "enabled" true
  "trustEmail" true
  "storeToken" false
  "firstBrokerLoginFlowAlias" "first broker login"
  "config" (dict
    "issuer" $idp.issuer
    "authorizationUrl" $idp.authorizationUrl
    "tokenUrl" $idp.tokenUrl
    "jwksUrl" $idp.jwksUrl
    "useJwksUrl" "true"
    "validateSignature" "true"
    "clientId" $idp.clientID
    "clientSecret" $idp.clientSecret
    "clientAuthMethod" "client_secret_post"
    "defaultScope" $idp.scope
    "syncMode" "FORCE"
    "pkceEnabled" "true"
    "pkceMethod" "S256"))) -}}
{{- $mappers := list -}}
{{- with $idp.usernameClaimMapper -}}
{{- $mappers = append $mappers (dict "name" "username" "identityProviderAlias" $alias "identityProviderMapper" "oidc-username-idp-mapper" "config" (dict "syncMode" "FORCE" "template" .)) -}}
{{- end -}}
{{- with $idp.subClaimMapper -}}
{{- $mappers = append $mappers (dict "name" "subject" "identityProviderAlias" $alias "identityProviderMapper" "oidc-user-attribute-idp-mapper" "config" (dict "syncMode" "FORCE" "claim" . "user.attribute" "idp-subject")) -}}
{{- end -}}
{{- range $idp.groupMappings -}}
{{- if .id -}}
{{- $claims := list (dict "key" $idp.groupsClaim "value" .id) | toJson -}}
{{- $mappers = append $mappers (dict "name" (printf "group-%s" .group) "identityProviderAlias" $alias "identityProviderMapper" "oidc-advanced-group-idp-mapper" "config" (dict "syncMode" "FORCE" "claims" $claims "are.claim.values.regex" "false" "group" (printf "/%s" .group))) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $realm "identityProviderMappers" $mappers -}}
{{- end -}}
{{- toJson $realm -}}
{{- end -}}
