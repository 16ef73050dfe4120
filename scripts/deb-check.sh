#!/usr/bin/env bash
# Builds the Debian package with cargo-deb from the static binary, checks what it holds, then
# (as root) installs it with dpkg -i, checks the installed unit, and purges it again, leaving
# nothing behind.
#
#   scripts/deb-check.sh [--no-install]
#
# Needs cargo-deb (`cargo install cargo-deb --locked`) and dpkg; systemd-analyze for the
# installed unit. The install is skipped when not root, and refused when pbs-exporter is already
# installed (this is a test, not an upgrade).
set -euo pipefail
cd "$(dirname "$0")/.."

install=true
[ "${1:-}" = "--no-install" ] && install=false
target=x86_64-unknown-linux-gnu
fail() { echo "deb-check.sh: $*" >&2; exit 1; }

binary=$(scripts/build-static.sh | sed -n 's/^binary: //p')
[ -x "$binary" ] || fail "no static binary"
# The binary is already stripped (profile.static): cargo-deb packs it as it is.
deb=$(cargo deb --no-build --no-strip --target "$target" --profile static | tail -n 1)
[ -f "$deb" ] || fail "cargo deb made no package"
echo "package: $deb ($(stat -c %s "$deb") bytes)"

# Exactly these files, and each one the same as in the repository.
declare -A files=(
    [usr/bin/pbs-exporter]="$binary"
    [etc/default/pbs-exporter]=contrib/debian/pbs-exporter.default
    [usr/lib/systemd/system/pbs-exporter.service]=contrib/systemd/pbs-exporter.service
    [usr/share/doc/pbs-exporter/alerts.yml]=contrib/prometheus/alerts.yml
    [usr/share/doc/pbs-exporter/pbs-exporter.json]=contrib/grafana/pbs-exporter.json
    [usr/share/doc/pbs-exporter/README.md]=README.md
    [usr/share/doc/pbs-exporter/copyright]=
)
listing=$(dpkg-deb -c "$deb")
packed=$(awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' <<<"$listing" | sort)
wanted=$(printf '%s\n' "${!files[@]}" | sort)
[ "$packed" = "$wanted" ] || fail "package files differ from the expected ones:
$(diff <(echo "$wanted") <(echo "$packed"))"
grep -q '^-rwxr-xr-x 0/0 .* \./usr/bin/pbs-exporter$' <<<"$listing" || fail "binary not 0755 root"
[ "$(awk '$1 !~ /^d/ && $1 != "-rw-r--r--" && $6 != "./usr/bin/pbs-exporter"' <<<"$listing")" = "" ] ||
    fail "a data file is not 0644"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb -x "$deb" "$unpacked"
for f in "${!files[@]}"; do
    src=${files[$f]}
    [ -z "$src" ] || cmp -s "$src" "$unpacked/$f" || fail "$f differs from $src"
done
[ "$(dpkg-deb -f "$deb" Package)" = pbs-exporter ] || fail "package name"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/default/pbs-exporter ||
    fail "/etc/default/pbs-exporter is not a conffile"
echo "contents: ${#files[@]} files as expected (dpkg-deb -c)"

if ! $install; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "install test skipped: not root"; exit 0; fi
if dpkg -s pbs-exporter >/dev/null 2>&1; then fail "pbs-exporter is already installed here"; fi

# What dpkg and the package could touch, before and after: identical after the purge.
snapshot() {
    find /etc /usr /opt /var/lib -xdev \
        -path /var/lib/dpkg -prune -o -path /var/lib/apt -prune -o -print 2>/dev/null | sort
}
before=$(snapshot)

dpkg -i "$deb"
status=$(dpkg-query -W -f '${Status}' pbs-exporter)
[ "$status" = "install ok installed" ] || fail "dpkg status after install: $status"
/usr/bin/pbs-exporter --version
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify /usr/lib/systemd/system/pbs-exporter.service 2>&1) ||
        fail "installed unit: $out"
    [ -z "$out" ] || fail "installed unit: $out"
    echo "installed unit: systemd-analyze verify clean"
fi
# The admin's token, as the README puts it: the purge removes it too.
install -D -m 0600 /dev/null /etc/pbs-exporter/token

dpkg --purge pbs-exporter
if dpkg -s pbs-exporter >/dev/null 2>&1 &&
    [ "$(dpkg-query -W -f '${Status}' pbs-exporter)" != "unknown ok not-installed" ]; then
    fail "still known to dpkg after the purge: $(dpkg-query -W -f '${Status}' pbs-exporter)"
fi
after=$(snapshot)
[ "$before" = "$after" ] || fail "left behind or removed by install and purge:
$(diff <(echo "$before") <(echo "$after"))"
echo "dpkg -i and dpkg --purge: installed, then removed without a trace"
