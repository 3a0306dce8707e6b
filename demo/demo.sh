#!/bin/sh
# The main job on the embedded default: a scratch Postfix configuration under
# demo/scratch (never /etc/postfix), driven in standalone mode.
set -eu
cd "$(dirname "$0")/.."
# The command make demo installed (postfix-tls is on PATH after make install).
POSTFIX_TLS=${POSTFIX_TLS:-.venv/bin/postfix-tls}
scratch=$PWD/demo/scratch
rm -rf "$scratch"
mkdir -p "$scratch"
cp demo/main.cf "$scratch/main.cf"
[ -f /etc/postfix/master.cf ] && cp /etc/postfix/master.cf "$scratch/"
touch -d '1 minute ago' "$scratch/main.cf"   # Postfix programs wait on a fresh main.cf

run() {
    echo
    echo "\$ $POSTFIX_TLS -c $scratch $*"
    "$POSTFIX_TLS" -c "$scratch" "$@" 2>&1 || echo "(exit status $?)"
}

run all-default-server && echo "(all server TLS settings are at their defaults)"
run enable-server
echo
echo "\$ postconf -c $scratch -n"
postconf -c "$scratch" -n
run output-server-tlsa
state() { (cd "$scratch" && ls -l --time-style=+%s && md5sum *); }
before=$(state)
run --dry-run --trace new-server-cert mail.example.com smtp.example.com
echo
if [ "$(state)" = "$before" ]; then
    echo "The dry run changed nothing in $scratch (names, modes, times, contents):"
else
    echo "The dry run changed $scratch!" >&2
    exit 1
fi
ls -l "$scratch"
