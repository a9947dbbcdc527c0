#!/bin/sh
# Start the web VM headless; ssh on the host's loopback, the site on every host address.
exec qemu-system-x86_64 \
  -name web,debug-threads=on \
  -machine q35,accel=kvm \
  -cpu host -smp 2 -m 2048 \
  -drive file=/var/lib/vms/web.qcow2,if=virtio,cache=none \
  -netdev user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp::8080-:80 \
  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
  -display none -daemonize \
  -serial unix:/run/vms/web.serial,server,nowait
