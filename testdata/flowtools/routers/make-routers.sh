#!/bin/sh
# Rebuilds rtr-a/, rtr-b/ and rtr-c/ with the real flow-tools 0.68 programs:
# for every router and 15-minute period, gen-routers.go's CSV is imported
# with flow-import and sent with flow-send, over UDP on 127.0.0.1, to a
# flow-capture of its own whose clock (libfaketime, frozen) reads the
# period's start while it captures; then the clock is set to the period's
# end, flow-capture rotates (closing the file with capture end = that time)
# and is stopped with SIGTERM. Run from testdata/flowtools/routers/ as root (unshare gives
# flow-capture the host name nfcap01). Needs: go, flow-tools 0.68 on PATH,
# libfaketime (Debian package faketime), unshare (util-linux).
set -eu
export TZ=UTC
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}
work=$(mktemp -d)
cap=
trap 'if [ -n "$cap" ]; then kill "$cap" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

go run gen-routers.go "$work" > "$work/list"
rm -rf rtr-a rtr-b rtr-c
port=29911
while read -r name start count; do
  case $name in
  rtr-a) exporter=127.0.0.11 ;;
  rtr-b) exporter=127.0.0.12 ;;
  rtr-c) exporter=127.0.0.13 ;;
  esac
  hms=$(date -u -d "@$start" +%H%M%S)
  flow-import -V 5 -f 2 -z 0 < "$work/$name.$hms.csv" > "$work/$name.$hms.ft"
  date -u -d "@$start" '+%Y-%m-%d %H:%M:%S' > "$work/clock"
  mkdir -p "$name"
  unshare -u sh -c "hostname nfcap01 && LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$work/clock FAKETIME_NO_CACHE=1 exec flow-capture -D -w $name -N 3 -n 95 -z 6 -p $work/pid 127.0.0.1/$exporter/$port" 2> "$work/capture.log" &
  cap=$!
  sleep 1
  # flow-send exits 1 after a complete run: the flow count below is the check
  flow-send -x 300 -V5 "$exporter/127.0.0.1/$port" < "$work/$name.$hms.ft" || true
  sleep 2
  date -u -d "@$((start + 900))" '+%Y-%m-%d %H:%M:%S' > "$work/clock"
  sleep 1
  kill -TERM "$cap"
  wait "$cap" || true
  cap=
  f=$name/$(date -u -d "@$start" +%Y/%Y-%m/%Y-%m-%d)/ft-v05.$(date -u -d "@$start" +%Y-%m-%d.%H%M%S)+0000
  got=$(flow-header < "$f" | sed -n 's/^# capture flows: *//p')
  if [ "$got" != "$count" ]; then
    echo "$f: $got flows captured, $count sent" >&2
    cat "$work/capture.log" >&2
    exit 1
  fi
  # The clock change made flow-capture rotate: it closed the period's file
  # and opened an empty one named after the period's end, closed by SIGTERM
  # (0 flows; the next period's capture writes that name anew). Not kept.
  rm -f "$name/$(date -u -d "@$((start + 900))" +%Y/%Y-%m/%Y-%m-%d)/ft-v05.$(date -u -d "@$((start + 900))" +%Y-%m-%d.%H%M%S)+0000"
  echo "$f $count"
  port=$((port + 1))
done < "$work/list"
for r in rtr-a rtr-b rtr-c; do
  n=$(find "$r" -type f | wc -l)
  if [ "$n" != 4 ]; then
    echo "$r: $n files, want 4" >&2
    exit 1
  fi
done
