# A systemd "test host" as bare as a minimal Debian server: a minbase system
# with python3, systemd and sudo added, as many cloud and container images
# come. No python3-apt, curl or procps, and no package lists: the roles
# install what they need themselves, on their first run, as on a real host.
# One recipe for every suite (build-host-image rebuilds when it changes).
ARG SUITE=bookworm
FROM debian:${SUITE}

ENV container=docker
# systemd without dbus: it boots, and systemctl reaches PID 1 over its private
# socket as root. The lists go, as in the official images (the apt module's
# cache_valid_time sees only the directory's fresh mtime). The base image turns
# Recommends off for image builds; a real server installs them, so apt on the
# host must too.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 systemd systemd-sysv sudo ca-certificates iproute2 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /etc/apt/apt.conf.d/90no-recommends

# Units that wait for hardware, ttys or kernel features a container lacks and
# would only leave the system "degraded" or slow down boot.
RUN systemctl mask \
      getty.target console-getty.service getty-static.service \
      systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
      systemd-remount-fs.service systemd-firstboot.service systemd-modules-load.service \
      sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
      sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
      systemd-logind.service apt-daily.timer apt-daily-upgrade.timer \
      e2scrub_all.timer e2scrub_reap.service fstrim.timer \
 && rm -f /etc/machine-id \
 && touch /etc/machine-id

STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
