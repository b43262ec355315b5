#!/bin/sh
# /init of the kernel lab's initramfs (busybox sh). Loads the modules in dependency order, mounts
# the host's / (read-only 9p) and the results share, chroots into the host's / and runs the job the
# host wrote (results/job.sh) with the host's bash, then writes its exit code and powers off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

fail() {
  echo "[lab guest] $*"
  echo 97 >/results/exit-code 2>/dev/null
  sync
  poweroff -f
}

while read -r m params; do
  # shellcheck disable=SC2086
  insmod "/lib/modules/$m.ko" $params || echo "[lab guest] insmod $m failed"
done </lib/modules/load

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /results || fail "cannot mount the results share"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host ||
  fail "cannot mount the host's / over 9p"

H=/host
mount -t proc proc $H/proc
mount -t sysfs sys $H/sys
mount -t devtmpfs dev $H/dev
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts devpts $H/dev/pts 2>/dev/null
mount -t tmpfs tmpfs $H/dev/shm 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs $H/tmp
mount -t tmpfs -o mode=0755 tmpfs $H/run
mount -t bpf bpf $H/sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs $H/sys/kernel/debug 2>/dev/null
mkdir -p $H/tmp/lab-results $H/tmp/lab-cache
mount --bind /results $H/tmp/lab-results
# vitest's cache dir, kept on the host between runs (test/lab/.cache/<kernel>/vitest-cache): the test
# files' durations, so that the slowest one starts first.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 labcache $H/tmp/lab-cache || echo "[lab guest] no cache share"

P=$(cat /results/project-dir)
mkdir -p "$H$P" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose project "$H$P" ||
  fail "cannot mount the project share at $P"

echo "[lab guest] $(cat /proc/sys/kernel/osrelease) up $(cut -d" " -f1 /proc/uptime)s, running the lab tests"
chroot $H /usr/bin/env -i HOME=/tmp TMPDIR=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  TERM=dumb CI=1 RXNL_LAB=1 LAB_RESULTS=/tmp/lab-results \
  /bin/bash /tmp/lab-results/job.sh
rc=$?
echo "[lab guest] exit status $rc at $(cut -d" " -f1 /proc/uptime)s"
echo $rc >/results/exit-code
sync
umount $H/tmp/lab-results 2>/dev/null
umount /results 2>/dev/null
poweroff -f
