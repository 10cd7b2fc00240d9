#!/bin/bash
# Installs what vigil needs from Debian 12 (as root) and builds it in ./build.
# usage: scripts/setup.sh [--werror]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	# libraries
	libdpdk-dev libsodium-dev liburing-dev libssl-dev libinih-dev libjansson-dev
	libavformat-dev libavcodec-dev libavutil-dev libpcap-dev libcmocka-dev libsrtp2-dev
	# test peers and tools: GStreamer cameras, ffmpeg/ffprobe, captures, namespaces
	dpdk ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly iproute2 iputils-ping tcpdump python3 jq
	# interop_rtx: a GStreamer camera with rtpbin's retransmission, in Python
	python3-gi gir1.2-gstreamer-1.0
	# admin.sh: gcore and gdb (keys in a core dump, vigild not dumpable), useradd,
	# the SRTP key derivation in Python
	gdb passwd python3-cryptography
	# the power-cut filesystem of the crash test (FUSE)
	fuse3 python3-fusepy
	# MetricsListen (libmicrohttpd) and its test: a real Prometheus, promtool, curl
	libmicrohttpd-dev prometheus curl
	# EventHook and [Storage]: libcurl (SigV4); the storage test's S3 server, a
	# throwaway Ceph cluster with its RADOS Gateway, and boto3 to check the bucket
	libcurl4-openssl-dev ceph-mon ceph-osd radosgw ceph-common python3-boto3
	# sd_notify (vigild.service: Type=notify, WatchdogSec)
	libsystemd-dev
	# the cluster's etcd client and its test: a real etcd (3.4)
	etcd-server etcd-client openssl xxd
	# benchmark baselines (fio; dpdk-testpmd is in dpdk-dev) and plots
	fio dpdk-dev gnuplot-nox
	# the Debian package and its test: dpkg-buildpackage with debhelper, the man
	# pages (scdoc), lintian, systemd-analyze/sysusers/tmpfiles, man, kill; the DPDK
	# drivers the package depends on
	debhelper dpkg-dev scdoc lintian systemd man-db procps git librte-mempool-ring23
	librte-net-af-packet23 librte-net-pcap23
	# the web player's tests: a real browser (driven by playwright-core from npm)
	chromium
)
# The web player is bundled from npm packages (web/package-lock.json): Node.js
# and npm from Debian unless the machine has them already.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: run as root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

werror=false
[ "${1:-}" = --werror ] && werror=true
if [ ! -f build/build.ninja ]; then
	meson setup build -Dwerror=$werror
else
	meson configure build -Dwerror=$werror
fi
ninja -C build
# The web player into web/dist (PlayerDir in a checkout): the lockfile's
# exact packages, bundled; nothing fetched at run time.
web/build.sh
