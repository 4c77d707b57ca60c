#!/bin/sh
# PID 1 of the keybridge test guest (busybox sh). It brings up just enough of a Linux system for
# the project's USB/HID code to meet a real kernel: the USB gadget and HID modules, a real udevd
# with keybridge's rules, and a configfs HID gadget on the dummy USB controller, which the
# kernel enumerates like a plugged-in key. Then it runs the checks and powers off.
#
# Kernel command line options read here (run-vm.mjs passes them through):
#   kb.checks=a,b   run only these checks          kb.shell   a shell on the console afterwards
#   udev.log_level=debug                           udevd's own verbose log, on the console
export PATH=/usr/sbin:/usr/bin
export HOME=/root

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts

# Generated at build time: where the key lives, the kernel version and its modules.
. /etc/keybridge-vm/guest.env

CMDLINE=" $(cat /proc/cmdline) "
has_arg() { case "$CMDLINE" in *" $1 "*) return 0 ;; esac; return 1; }
arg_value() { for a in $CMDLINE; do case "$a" in "$1="*) echo "${a#*=}" ;; esac; done; }
stage() { echo "kbvm: $1 (uptime $(cut -d' ' -f1 /proc/uptime) s)"; }

finish() {
  if has_arg kb.shell; then
    echo "kbvm: kb.shell: leave the shell with 'poweroff -f'"
    setsid cttyhack sh
  fi
  poweroff -f
  sleep 5
  exit 1 # poweroff failed: the panic that follows ends QEMU (-no-reboot, panic=-1)
}

# A setup failure is reported as a failed check so the host sees why, not just a missing result.
fail() {
  echo "KBVM {\"check\":\"guest-setup\",\"ok\":false,\"ms\":0,\"detail\":{\"error\":\"$1\"}}"
  echo 'KBVM-DONE {"passed":0,"failed":1}'
  finish
}

stage "loading kernel modules"
for module in $KB_MODULES; do
  # Two dummy device controllers: one for the key, one for the CmStick beside it.
  case "$module" in */dummy_hcd.ko*) args="num=2" ;; *) args="" ;; esac
  insmod "/lib/modules/$KB_KERNEL/$module" $args || fail "insmod $module failed"
done
mount -t configfs configfs /sys/kernel/config || fail "cannot mount configfs"

# The daemon's group and keybridge's rules, installed as an admin would (udev/README.md).
grep -q "^$KB_GROUP:" /etc/group || echo "$KB_GROUP:x:990:" >>/etc/group
mkdir -p /etc/udev/rules.d
for rules in /kb/udev/*.rules; do
  [ -e "$rules" ] && cp "$rules" /etc/udev/rules.d/
done

stage "starting udevd"
/lib/systemd/systemd-udevd --daemon || fail "systemd-udevd did not start"
# Coldplug only what the checks look at: replaying every ACPI/PCI device costs seconds under TCG.
for subsystem in usb hid hidraw udc; do
  udevadm trigger --type=devices --action=add --subsystem-match="$subsystem"
done
udevadm settle --timeout=30 || echo "kbvm: udevadm settle timed out (coldplug)"

# A server's identity as the daemon's host probe reads it: loopback up, a hostname, a machine id.
ifconfig lo 127.0.0.1 up || fail "cannot bring up the loopback interface"
echo kbvm >/proc/sys/kernel/hostname
tr -d '-' </proc/sys/kernel/random/uuid >/etc/machine-id

# With two device controllers the key's board names its own, as an admin does (EnvironmentFile=
# of systemd/keybridge-key.service).
mkdir -p /etc/keybridge
echo "KEYBRIDGE_KEY_UDC=$KB_UDC" >/etc/keybridge/key.env

stage "plugging the gadget"
# As on a board: `keybridge key init` once, then the ExecStartPre= lines of the shipped
# systemd/keybridge-key.service (`keybridge key setup`), which write the gadget from the protocol
# constants and the key's state: nothing about the gadget is copied into this script.
mkdir -p /run/keybridge-vm
node /kb/test/vm/guest/key-service.mjs prepare ||
  fail "key-service.mjs prepare failed (keybridge key init/setup, see the console)"
# Enumeration runs after the bind returns: wait for the hidraw node with the key's serial, then udev.
waited=0
until grep -q "^HID_UNIQ=$KB_SERIAL\$" /sys/class/hidraw/*/device/uevent 2>/dev/null; do
  [ "$waited" -ge 300 ] && fail "the gadget did not enumerate as a hidraw device within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done
udevadm settle --timeout=30 || echo "kbvm: udevadm settle timed out (gadget)"

stage "plugging a CmStick beside the key"
node /kb/test/vm/guest/cmstick-gadget.mjs plug || fail "cmstick-gadget.mjs failed (see the console)"
waited=0
until grep -q "^HID_UNIQ=$KB_CMSTICK_SERIAL\$" /sys/class/hidraw/*/device/uevent 2>/dev/null; do
  [ "$waited" -ge 300 ] && fail "the CmStick gadget did not enumerate as a hidraw device within 30 s"
  sleep 0.1
  waited=$((waited + 1))
done
udevadm settle --timeout=30 || echo "kbvm: udevadm settle timed out (CmStick)"

stage "running checks"
cd /kb || fail "no /kb"
KB_CHECKS="$(arg_value kb.checks)" node /kb/test/vm/guest/checks.mjs
stage "checks exited with status $?"
finish
