#!/bin/sh
# Applies the configuration of /config to Vault: the OIDC auth method and its role, the policies, and per
# team a KV v2 mount and the external group (the Keycloak group) that gets the team's policy. Every step
# can run again. VAULT_ADDR and VAULT_TOKEN (the Secret the operator made after initialising Vault) and
# OIDC_CLIENT_SECRET come from the Job; the Job retries until Vault is unsealed and the token exists.
set -eu
C=/config
if [ -z "${VAULT_TOKEN:-}" ]; then
  echo "no token yet: initialise and unseal Vault, then create the Secret with key token" >&2
  exit 1
fi
if ! vault status >/dev/null 2>&1; then
  echo "Vault at $VAULT_ADDR is not unsealed yet" >&2
  exit 1
fi

# Policies.
for f in "$C"/policy-*.hcl; do
  name=$(basename "$f" .hcl)
  name=${name#policy-}
  vault policy write "$name" "$f"
done

# Per team: a KV version 2 mount.
while read -r team mount policy group; do
  [ -n "$team" ] || continue
  if ! vault secrets list | awk '{print $1}' | grep -qx "$mount/"; then
    vault secrets enable -path="$mount" -version=2 -description="secrets of team $team" kv
  fi
done < "$C/teams"

[ -f "$C/oidc-issuer" ] || exit 0

# Log in through Keycloak.
if ! vault auth list | awk '{print $1}' | grep -qx "oidc/"; then
  vault auth enable oidc
fi
set -- oidc_discovery_url="$(cat "$C/oidc-issuer")" oidc_client_id="$(cat "$C/oidc-client-id")" \
  oidc_client_secret="$OIDC_CLIENT_SECRET" default_role=default
if [ -s "$C/oidc-ca.pem" ]; then
  set -- "$@" oidc_discovery_ca_pem=@"$C/oidc-ca.pem"
fi
vault write auth/oidc/config "$@"
vault write auth/oidc/role/default role_type=oidc user_claim=sub \
  groups_claim="$(cat "$C/oidc-groups-claim")" bound_audiences="$(cat "$C/oidc-client-id")" \
  oidc_scopes=openid,email,profile allowed_redirect_uris="$(cat "$C/oidc-redirect-uris")" \
  token_policies=default token_ttl=8h
accessor=$(vault auth list | awk '$1 == "oidc/" {print $3}')

# An external group per Keycloak group, with its policy; the alias binds it to the groups claim.
bind() { # group policy
  vault write "identity/group/name/$1" type=external policies="$2" >/dev/null
  id=$(vault read -field=id "identity/group/name/$1")
  if ! vault write -format=json identity/lookup/group alias_name="$1" alias_mount_accessor="$accessor" 2>/dev/null | grep -q '"id"'; then
    vault write identity/group-alias name="$1" mount_accessor="$accessor" canonical_id="$id" >/dev/null
  fi
  echo "group $1: policy $2"
}
bind "$(cat "$C/oidc-admin-group")" otomi-admin
bind "$(cat "$C/oidc-team-admin-group")" team-admin
while read -r team mount policy group; do
  [ -n "$team" ] || continue
  bind "$group" "$policy"
done < "$C/teams"
echo "Vault configured"
