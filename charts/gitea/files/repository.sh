#!/bin/sh
# Makes the organisation and repository $REPO_OWNER/$REPO_NAME (the values repo) once Gitea answers.
# The administrator's credentials reach curl on stdin, never on its command line.
set -eu

api="$GITEA_URL/api/v1"
until curl -fsS -o /dev/null "$GITEA_URL/api/healthz"; do
  echo "waiting for $GITEA_URL"
  sleep 5
done
gitea_api() {
  printf 'user = "%s:%s"\n' "$GITEA_ADMIN_USERNAME" "$GITEA_ADMIN_PASSWORD" | curl -fsS --config - "$@"
}

if ! gitea_api -o /dev/null "$api/orgs/$REPO_OWNER"; then
  gitea_api -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\": \"$REPO_OWNER\", \"visibility\": \"private\"}" "$api/orgs"
fi
if ! gitea_api -o /dev/null "$api/repos/$REPO_OWNER/$REPO_NAME"; then
  gitea_api -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"name\": \"$REPO_NAME\", \"private\": true, \"default_branch\": \"$REPO_BRANCH\"}" \
    "$api/orgs/$REPO_OWNER/repos"
fi
echo "repository $REPO_OWNER/$REPO_NAME is there"
