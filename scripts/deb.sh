#!/bin/bash
# Builds the .deb (cargo-deb) and install-tests it in a throwaway copy of this system:
#
#   sudo bash scripts/deb.sh            # -> target/debian/pxe_<version>_amd64.deb
#
# 1. the release binary, then its man pages and shell completions (`pxe generate-assets`);
# 2. `cargo deb -p pxe-bin --no-build` (cargo-deb is installed with `cargo install` if missing);
# 3. in a private mount namespace, an overlay over / (writes go to a tmpfs: the real system is
#    not touched) is chrooted into: `dpkg -i` the package (its postinst creates the `pxe`
#    user), then `pxe --version`, `man -w pxe`, `pxe doctor` and checks of the user, the unit,
#    the conffile and the completions.
# Needs root (mounts, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "deb.sh: run as root (it mounts an overlay and chroots into it)" >&2
  exit 1
fi
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version '^3'

cargo build --release -p pxe-bin
rm -rf target/assets
target/release/pxe generate-assets target/assets
deb=$(cargo deb -p pxe-bin --no-build --fast 2>&1 | tail -n 1)
[ -f "$deb" ] || { echo "deb.sh: cargo deb did not produce a package: $deb" >&2; exit 1; }
echo "deb.sh: built $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
cp "$deb" "$work/pxe.deb"
# Everything below runs in its own mount namespace; its mounts vanish with it.
unshare --mount --propagation private bash -euo pipefail -s "$work" <<'INNER'
work=$1
mkdir -p "$work/rw"; mount -t tmpfs tmpfs "$work/rw"
mkdir -p "$work/rw/upper" "$work/rw/work" "$work/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/rw/upper,workdir=$work/rw/work" "$work/root"
for d in proc sys dev; do mount --rbind "/$d" "$work/root/$d"; done
mount -t tmpfs tmpfs "$work/root/tmp"
mount -t tmpfs tmpfs "$work/root/run"
cp "$work/pxe.deb" "$work/root/tmp/pxe.deb"
at() { chroot "$work/root" "$@"; }
# A clean slate for what the package owns.
at sh -c 'rm -f /usr/bin/pxe /usr/local/bin/pxe; rm -rf /etc/pxe /var/lib/pxe; if getent passwd pxe >/dev/null; then userdel pxe; fi'
at env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/pxe.deb
echo "deb.sh: installed; checking"
at pxe --version
at man -w pxe
at man -w pxe-serve
at getent passwd pxe
at test -f /lib/systemd/system/pxe.service
at test -f /etc/pxe/pxe.toml
at test -f /usr/share/bash-completion/completions/pxe
at test -f /usr/share/zsh/vendor-completions/_pxe
at test -f /usr/share/fish/vendor_completions.d/pxe.fish
at stat -c '%U %a %n' /var/lib/pxe
at grep -q '^/etc/pxe/pxe.toml$' /var/lib/dpkg/info/pxe.conffiles
# pxe doctor on the packaged config: findings are expected on a machine without /srv/tftp;
# it must run and report, not crash.
set +e
at pxe doctor --config /etc/pxe/pxe.toml
status=$?
set -e
echo "deb.sh: pxe doctor exited $status"
[ "$status" -le 1 ] || { echo "deb.sh: pxe doctor crashed ($status)" >&2; exit 1; }
at env DEBIAN_FRONTEND=noninteractive dpkg --purge pxe
at sh -c '! getent passwd pxe' || { echo "deb.sh: purge left the pxe user" >&2; exit 1; }
INNER
echo "deb.sh: OK ($deb)"
