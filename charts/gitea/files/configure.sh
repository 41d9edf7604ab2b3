#!/bin/sh
# Prepares Gitea before it starts: app.ini from the GITEA__* variables, the database schema, the
# administrator and the Keycloak auth source. Every step is idempotent.
set -eu

/usr/local/bin/docker-setup.sh
gitea migrate

# The administrator (apps.gitea.adminUsername / adminPassword).
if gitea admin user list --admin | awk 'NR > 1 { print $2 }' | grep -qx "$GITEA_ADMIN_USERNAME"; then
  gitea admin user change-password --username "$GITEA_ADMIN_USERNAME" --password "$GITEA_ADMIN_PASSWORD" \
    --must-change-password=false
else
  gitea admin user create --admin --username "$GITEA_ADMIN_USERNAME" --password "$GITEA_ADMIN_PASSWORD" \
    --email "$GITEA_ADMIN_EMAIL" --must-change-password=false
fi

# Single sign-on through Keycloak: the OpenID Connect auth source "keycloak".
if [ "$GITEA_SSO" = "true" ]; then
  id=$(gitea admin auth list --vertical-bars | awk -F'|' 'NR > 1 { n = $2; gsub(/ /, "", n); if (n == "keycloak") { i = $1; gsub(/ /, "", i); print i } }')
  set -- --name keycloak --provider openidConnect --key "$OIDC_CLIENT_ID" --secret "$OIDC_CLIENT_SECRET" \
    --auto-discover-url "$OIDC_DISCOVERY_URL" --scopes openid,email,profile \
    --group-claim-name "$OIDC_GROUPS_CLAIM" --admin-group "$OIDC_ADMIN_GROUP" --skip-local-2fa
  if [ -n "$id" ]; then
    gitea admin auth update-oauth --id "$id" "$@"
  else
    gitea admin auth add-oauth "$@"
  fi
fi
