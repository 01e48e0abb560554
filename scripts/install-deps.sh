#!/bin/bash
# Install, as root via apt-get, every tool the tests and harnesses of this repository need
# on a Debian 12 (bookworm) machine, and make sure no daemon from these packages holds a port.
# Idempotent: run it again and it only re-checks.
#
#   sudo scripts/install-deps.sh
#
# What needs what:
#   curl, atftp, tftp-hpa        real TFTP clients for the interop tests against `pxe tftp`
#   tftpd-hpa (in.tftpd),        reference TFTP servers for the performance harness (run in the
#   atftpd (unpacked, see below) foreground by the harness itself, never as system services)
#   dnsmasq-base                 plain DHCP server beside `pxe serve --dhcp proxy`; IPv6 router
#                                advertisements in the firmware tests (the binary only: no service)
#   iproute2                     network namespaces, bridges, veth and tap devices
#   isc-dhcp-client, radvd       `dhclient -6` against `pxe serve --dhcp6`, and radvd as the
#                                link's existing router (tests/dhcp6_netns.rs; radvd's service
#                                is stopped like the others)
#   ethtool                      turns offloads off on a test veth (tests/tftp_gso_netns.rs)
#   nftables                     packet loss and local drops in test namespaces (tests/tftp_hostile.rs)
#   python3-scapy, tcpdump       hand-made DHCP packets; captures when a test fails
#   kea-admin                    ships /usr/sbin/perfdhcp (there is no package named perfdhcp)
#   isc-dhcp-client              ISC dhclient, a real DHCP client (tests/dhcp_sites.rs)
#   isc-dhcp-relay               ISC dhcrelay, a real relay agent for routed subnets
#   qemu-system-x86, ipxe-qemu,  real firmware clients: SeaBIOS + iPXE NIC ROMs, OVMF's EDK2 PXE
#   ovmf
#   pxelinux, syslinux-common,   the boot files `pxe init` lays out
#   ipxe
#   systemd                      systemd-analyze: the unit's security score (scripts/unit-check.sh)
#   python3-prometheus-client    the reference parser /metrics is checked with (tests/admin.rs)
#   chromium                     the status page loaded in a real browser (tests/status_page.rs)
#   man-db, adduser              the .deb install test (scripts/deb.sh): `man -w pxe`, the postinst
#   shim-signed,                 the signed UEFI Secure Boot chain `pxe init` lays out: shim
#   grub-efi-amd64-signed        (shimx64.efi.signed) and the netboot GRUB (grubnetx64.efi.signed)
#   postgresql                   a real PostgreSQL (initdb, postgres) that two `pxe serve` share as
#                                their lease store (tests/dhcp_postgres.rs); run by the test as
#                                user postgres on a temporary directory, its service stopped
#   busybox-static, xorriso,     the real OS the firmware tests boot (tests/support/os_image.rs):
#   isolinux                     a busybox initramfs, and an isolinux ISO of it
#   nginx                        the HTTP peer of the performance harness (benches http-compare),
#                                run in the foreground by the harness; its service is stopped
#
# The OS's kernel is Debian's signed one from the package linux-image-amd64 depends on. It is not
# installed (that would touch this machine's /boot): its .deb is downloaded into $OS_DEBS_DIR,
# where the tests unpack it with dpkg-deb.
#
# atftpd Conflicts with tftpd-hpa, so it is only unpacked (apt-get download + dpkg-deb -x) into
# $ATFTPD_DIR and linked as /usr/local/sbin/atftpd; its libraries come with tftpd-hpa.
# Note: on images carrying a newer qemu-utils from bookworm-backports, installing
# qemu-system-x86 7.2 makes apt remove that qemu-utils; nothing in this repository uses it.
set -euo pipefail

ATFTPD_DIR=${ATFTPD_DIR:-/opt/pxe-deps/atftpd}
OS_DEBS_DIR=${OS_DEBS_DIR:-/opt/pxe-deps/os}
PACKAGES=(
  curl atftp tftp-hpa tftpd-hpa dnsmasq-base iproute2 ethtool procps nftables
  python3-scapy tcpdump kea-admin isc-dhcp-client isc-dhcp-relay radvd
  qemu-system-x86 ipxe-qemu ovmf
  pxelinux syslinux-common ipxe debian-installer-12-netboot-amd64
  shim-signed grub-efi-amd64-signed busybox-static xorriso isolinux
  libwrap0 libpcre2-8-0
  systemd python3-prometheus-client chromium man-db adduser postgresql nginx
)
# Daemons some of these packages would start on a normal (systemd or sysv) Debian machine.
SERVICES=(tftpd-hpa dnsmasq atftpd isc-dhcp-relay radvd postgresql nginx)

if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: run as root (it uses apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s%N)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  # Keep postinst scripts from starting daemons (tftpd-hpa would take UDP 69) while we install:
  # invoke-rc.d and deb-systemd-invoke both honour policy-rc.d. An existing one is left alone.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap 'if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# atftpd, unpacked beside tftpd-hpa rather than installed.
if [ ! -x "$ATFTPD_DIR/usr/sbin/atftpd" ]; then
  tmp=$(mktemp -d)
  ( cd "$tmp" && apt-get -o APT::Sandbox::User=root download atftpd && mkdir -p "$ATFTPD_DIR" \
      && dpkg-deb -x atftpd_*.deb "$ATFTPD_DIR" )
  rm -rf "$tmp"
fi
ln -sf "$ATFTPD_DIR/usr/sbin/atftpd" /usr/local/sbin/atftpd

# The kernel package linux-image-amd64 currently depends on (linux-image-<release>-amd64),
# downloaded only; older downloads are removed so the tests find exactly one.
kernel_dep() {
  apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' | head -n 1
}
kernel_pkg=$(kernel_dep)
if [ -z "$kernel_pkg" ]; then
  # No package lists yet (everything else was installed already): fetch them once.
  apt-get update
  kernel_pkg=$(kernel_dep)
fi
if [ -z "$kernel_pkg" ]; then
  echo "install-deps.sh: cannot tell which kernel linux-image-amd64 depends on (apt-get update?)" >&2
  exit 1
fi
if ! ls "$OS_DEBS_DIR/${kernel_pkg}_"*_amd64.deb >/dev/null 2>&1; then
  mkdir -p "$OS_DEBS_DIR"
  tmp=$(mktemp -d)
  ( cd "$tmp" && apt-get -o APT::Sandbox::User=root download "$kernel_pkg" )
  rm -f "$OS_DEBS_DIR"/linux-image-*.deb
  mv "$tmp"/*.deb "$OS_DEBS_DIR"/
  rm -rf "$tmp"
fi

# Stop and disable any daemon the packages brought, so no port (67, 69, 53, 80) is held.
for s in "${SERVICES[@]}"; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$s" ]; then
    "/etc/init.d/$s" stop >/dev/null 2>&1 || true
    update-rc.d "$s" disable >/dev/null 2>&1 || true
  fi
done
for p in in.tftpd dnsmasq atftpd nginx; do
  pids=$(pidof "$p" || true)
  if [ -n "$pids" ]; then
    echo "install-deps.sh: WARNING: $p still running (pids $pids); it may hold a port" >&2
  fi
done

t1=$(date +%s%N)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installed: ${missing[*]}"
else
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
fi
echo "install-deps.sh: atftpd at /usr/local/sbin/atftpd -> $ATFTPD_DIR/usr/sbin/atftpd"
echo "install-deps.sh: kernel package for the OS boots: $(ls "$OS_DEBS_DIR"/linux-image-*.deb)"
for f in /usr/bin/curl /usr/bin/atftp /usr/bin/tftp /usr/sbin/in.tftpd /usr/sbin/dnsmasq /usr/sbin/ethtool \
         /usr/sbin/dhclient /usr/sbin/radvd \
         /usr/sbin/perfdhcp /usr/bin/qemu-system-x86_64 /usr/share/OVMF/OVMF_CODE_4M.fd \
         /usr/share/OVMF/OVMF_VARS_4M.fd /usr/lib/ipxe/qemu/pxe-e1000.rom \
         /usr/lib/PXELINUX/pxelinux.0 /usr/lib/syslinux/modules/bios/ldlinux.c32 \
         /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/local/sbin/atftpd \
         /usr/share/OVMF/OVMF_CODE_4M.ms.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd \
         /usr/lib/shim/shimx64.efi.signed /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed \
         /bin/busybox /usr/bin/xorriso /usr/lib/ISOLINUX/isolinux.bin /usr/sbin/nginx; do
  [ -e "$f" ] || { echo "install-deps.sh: missing after install: $f" >&2; exit 1; }
done
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
  || { echo "install-deps.sh: missing after install: /usr/lib/postgresql/*/bin/initdb" >&2; exit 1; }
ms=$(( (t1 - t0) / 1000000 ))
printf 'install-deps.sh: done in %d.%03d s\n' $((ms / 1000)) $((ms % 1000))
