#!/bin/sh
# Container start for docker/Dockerfile.asterisk: make sure the TLS pair that
# http.conf (WSS on 8089) and pjsip.conf (WebRTC DTLS) name exists, then run
# the command (Asterisk).
#
# Asterisk will not start its TLS listener without real files, and a pair
# baked into the image would be the same for everyone who pulls it, so a
# self-signed one is made here, once per keys volume. To use your own, mount
# asterisk.crt and asterisk.key at /etc/asterisk/keys. ASTERISK_TLS_CN names
# the host browsers connect to (default localhost); it also goes in the
# certificate's subjectAltName with localhost and 127.0.0.1.
set -eu

keys=/etc/asterisk/keys
crt=$keys/asterisk.crt
key=$keys/asterisk.key
cn=${ASTERISK_TLS_CN:-localhost}

if [ ! -s "$crt" ] || [ ! -s "$key" ]; then
    mkdir -p "$keys"
    case "$cn" in
        *[!0-9.]*) san="DNS:$cn" ;;
        *) san="IP:$cn" ;;
    esac
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
        -subj "/CN=$cn" \
        -addext "subjectAltName=$san,DNS:localhost,IP:127.0.0.1" \
        -keyout "$key" -out "$crt"
    echo "asterisk-entrypoint: made a self-signed certificate for $cn in $keys" >&2
fi
# Asterisk drops to the `asterisk` user (-U) before it reads them.
chown -R asterisk:asterisk "$keys"
chmod 0600 "$key"

exec "$@"
