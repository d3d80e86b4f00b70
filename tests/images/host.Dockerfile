# A systemd "test host": stands in for a real Debian server in Molecule.
ARG SUITE=bookworm
FROM debian:${SUITE}

ENV container=docker
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      systemd systemd-sysv dbus python3 python3-apt ca-certificates iproute2 procps \
 && apt-get clean
# Package lists stay, as on a real server: the roles rely on apt's cache_valid_time.

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
 && rm -f /etc/machine-id /var/lib/dbus/machine-id \
 && touch /etc/machine-id

STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
