#!/bin/sh
# Starts Mosquitto with a hashed password file and the ACL, both owned by the broker's user.
# The plain-text users file arrives as the compose secret /run/secrets/mqtt_users.
set -eu
users=/run/secrets/mqtt_users
data=/mosquitto/data
if [ ! -s "$users" ]; then
  echo "start.sh: no MQTT users: create deploy/mosquitto/users from users.example" >&2
  exit 1
fi
umask 077
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$users" > "$data/passwd.tmp"
mosquitto_passwd -U "$data/passwd.tmp"
mv "$data/passwd.tmp" "$data/passwd"
cp /mosquitto/config/acl "$data/acl"
chown mosquitto:mosquitto "$data/passwd" "$data/acl"
chmod 0600 "$data/passwd" "$data/acl"
exec mosquitto -c /mosquitto/config/mosquitto.conf
