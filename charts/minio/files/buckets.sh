#!/bin/sh
# Makes the buckets of /config/buckets (one "name policy versioning" a line) on MinIO and keeps their
# settings; buckets are never deleted. MINIO_URL, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD come from the Job.
set -eu
export MC_CONFIG_DIR=/tmp/mc
until mc alias set otomi "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  echo "waiting for $MINIO_URL"
  sleep 5
done
while read -r name policy versioning; do
  [ -n "$name" ] || continue
  mc mb --ignore-existing "otomi/$name"
  mc anonymous set "$policy" "otomi/$name"
  if [ "$versioning" = "true" ]; then
    mc version enable "otomi/$name"
  fi
done < /config/buckets
echo "buckets ready"
