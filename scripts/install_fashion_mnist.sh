#!/usr/bin/env bash
# Install Debian's dataset-fashion-mnist (offline real-image data of notebook 06) when it is missing.
# Never fails the build: without it, notebook 06 stops with a message naming the package.
dir=/usr/share/datasets/fashion-mnist
[ -d "$dir" ] && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
for attempt in install update-then-install; do
  [ "$attempt" = update-then-install ] && $sudo apt-get update -q >/dev/null 2>&1
  $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 && [ -d "$dir" ] && exit 0
done
echo "warning: $dir missing and apt-get could not install dataset-fashion-mnist; notebook 06 needs it" >&2
