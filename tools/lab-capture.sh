#!/bin/bash
# Origin: the project's development machine, shared/tools/lab-capture.sh, copied
# here for issue 18 and extended with the scenarios of that issue (slow vertical
# scan, password guessing followed by a long session, a distributed scan, an
# IPv6 scan, benign NTP server, mail relay, P2P client and monitoring host).
# Every addition is marked "issue 18" below.
#
# lab-capture.sh - capture REAL scan and benign traffic in a private lab of
# network namespaces and turn it into NetFlow v5 with real tools. The scenarios
# below are one example: copy the script and write your own (other scanners,
# other benign roles); keep every address inside the lab and every export on
# 127.0.0.1 of the router namespace. flow-tools 0.68 builds from source
# (adsr/flow-tools; configure with CFLAGS=-fcommon on a current gcc).
#
#   nmap / curl / wget / dig / ssh / sshpass / ncat / pv   (traffic)
#   python3 -m http.server, dnsmasq, sshd, ncat listeners  (services)
#   tcpdump            -> pcap of the router's inside interface
#   softflowd (live)   -> NetFlow v5 to 127.0.0.1 inside the router namespace
#   flow-capture       -> flow-tools directory tree (zlib, 1 file per minute)
#   nfcapd             -> nfcapd files (1 file per minute)
#   softflowd -r -a    -> the same pcap replayed into a second pair of collectors
#
# Nothing leaves the lab: the namespaces are connected only to each other
# (never to the root namespace), every address is in 10.77.0.0/16 inside them,
# all DNS inside the namespaces is pointed at the lab's own dnsmasq, and the
# NetFlow export goes to 127.0.0.1 of the router namespace.
#
# Usage (as root, Debian 12):
#   apt-get install tcpdump nmap softflowd nfdump ncat dnsutils ethtool pv \
#                   sshpass dnsmasq-base openssh-server openssh-client curl wget
#   FT_BIN=<dir holding flow-capture, flow-cat, ...> ./lab-capture.sh [OUTDIR]
#   (FT_BIN may be left empty when the flow-tools programs are on PATH)
#   QUICK=1 runs a ~2 minute smoke test with smaller transfers.
#
# Output (OUTDIR, default ./lab-capture-out):
#   ft/            flow-tools tree (live export)      nfcapd/   nfcapd files (live)
#   replay/ft/     flow-tools tree (pcap replay)      replay/nfcapd/
#   capture.pcap   inside-interface capture (snaplen 96)
#   run/           logs: timeline.log (UTC times of every activity), nmap-*.txt,
#                  softflowd/collector logs, softflowctl statistics
#   csv/           flow-export -f2 of ft/, nfdump -o csv of nfcapd/
#   refs/          reference outputs: flow-dscan, nfdump -s, flow-stat, pcap summary
#   (STAGE=refs ./lab-capture.sh OUTDIR rebuilds csv/ and refs/ only)
set -u
export TZ=UTC LC_ALL=C

OUT=${1:-lab-capture-out}
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)   # issue 18: helpers in lab/ beside the script
[ -n "${FT_BIN:-}" ] && PATH=$FT_BIN:$PATH   # flow-tools programs, called by name
STAGE=${STAGE:-all}                          # all | refs (only rebuild csv/ and refs/)
QUICK=${QUICK:-0}
P=frx                                  # namespace prefix
NSS="rtr srv cli a1 a2 a3 a4 a5 a6 a7 a8 d1 d2 d3" # router, servers, clients, 8 attackers, 3 distributed scanners (issue 18: a8 d1 d2 d3)

mkdir -p "$OUT" && cd "$OUT" || exit 1
BASE=$(pwd)
RUN=$BASE/run

# ------------------------------------------------------ reference outputs --
pcap_summary() {  # independent ground truth straight from the packets
/usr/bin/python3 - "$1" <<'EOF'
import struct, sys, time, collections
f = open(sys.argv[1], 'rb')
magic, _, _, _, _, snap, link = struct.unpack('<IHHiIII', f.read(24))
assert magic == 0xa1b2c3d4 and link == 1, 'expect a little-endian Ethernet pcap'
src = collections.defaultdict(lambda: {'pk': 0, 'by': 0, 'first': None, 'last': 0.0,
      'dst': set(), 'svc': set(), 'syn': 0, 'synack': 0, 'rst': 0, 'icmp': collections.Counter()})
dstb = collections.Counter(); total = [0, 0]
while True:
    h = f.read(16)
    if len(h) < 16: break
    sec, usec, incl, orig = struct.unpack('<IIII', h)
    d = f.read(incl); ts = sec + usec / 1e6
    if len(d) < 34 or d[12:14] != b'\x08\x00': continue
    ip = d[14:]; ihl = (ip[0] & 15) * 4; tlen = struct.unpack('>H', ip[2:4])[0]
    proto = ip[9]; sa = '.'.join(map(str, ip[12:16])); da = '.'.join(map(str, ip[16:20]))
    l4 = ip[ihl:]; s = src[sa]
    s['pk'] += 1; s['by'] += tlen; s['last'] = ts; s['dst'].add(da)
    if s['first'] is None: s['first'] = ts
    dstb[da] += tlen; total[0] += 1; total[1] += tlen
    if proto in (6, 17) and len(l4) >= 4:
        dp = struct.unpack('>H', l4[2:4])[0]; s['svc'].add((da, proto, dp))
        if proto == 6 and len(l4) >= 14:
            fl = l4[13]
            if fl & 0x02 and not fl & 0x10: s['syn'] += 1
            if fl & 0x02 and fl & 0x10: s['synack'] += 1
            if fl & 0x04: s['rst'] += 1
    elif proto == 1 and len(l4) >= 2:
        s['icmp'][(l4[0], l4[1])] += 1
T = lambda t: time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % int((t % 1) * 1000)
print('# pcap summary (IPv4 only; bytes = sum of IP total length, as NetFlow counts them)')
print('# packets %d  bytes %d' % tuple(total))
print('#\n# per source address, sorted by bytes')
print('%-14s %8s %11s %-24s %-24s %6s %7s %6s %6s %6s  %s' % ('src', 'packets', 'bytes', 'first', 'last',
      'dsts', 'dst:pt', 'SYN', 'SYNACK', 'RST', 'icmp type/code counts'))
small = 0
for a, s in sorted(src.items(), key=lambda kv: -kv[1]['by']):
    if s['pk'] < 20:
        small += 1; continue
    ic = ' '.join('%d/%d:%d' % (k[0], k[1], v) for k, v in sorted(s['icmp'].items()))
    print('%-14s %8d %11d %-24s %-24s %6d %7d %6d %6d %6d  %s' % (a, s['pk'], s['by'], T(s['first']),
          T(s['last']), len(s['dst']), len(s['svc']), s['syn'], s['synack'], s['rst'], ic))
print('# (%d sources with fewer than 20 packets not listed: sweep and ping replies)' % small)
print('#\n# per source: distinct destination ports below 1024 per destination (max over destinations),')
print('# and destinations contacted; only sources with >= 10 destinations or >= 10 such ports')
for a, s in sorted(src.items()):
    per = collections.defaultdict(set)
    for da, pr, dp in s['svc']:
        if dp < 1024: per[(da, pr)].add(dp)
    best = max(per.items(), key=lambda kv: len(kv[1]), default=(None, set()))
    if len(s['dst']) >= 10 or len(best[1]) >= 10:
        print('%-14s dsts=%-5d max_ports_below_1024=%-4d (dst %s proto %s)' % (a, len(s['dst']),
              len(best[1]), best[0][0] if best[0] else '-', best[0][1] if best[0] else '-'))
print('#\n# top 10 destination addresses by bytes')
for a, b in dstb.most_common(10): print('%-14s %11d' % (a, b))
EOF
}

make_refs() {
  cd "$BASE" || return 1
  rm -rf csv refs dscan && mkdir -p csv refs dscan
  flow-cat ft | flow-export -f2 > csv/ft-flows.csv
  nfdump -R nfcapd -o csv > csv/nfdump-flows.csv
  # issue 18: the NetFlow v9 export (IPv4 and IPv6) of the same live traffic
  [ -d nfcapd-v9 ] && nfdump -R nfcapd-v9 -o csv > csv/nfdump-v9-flows.csv
  flow-cat ft | flow-print -f 5 > refs/ft-flow-print-f5.txt
  ( cd dscan && : > dscan.suppress.src && : > dscan.suppress.dst
    flow-cat ../ft | flow-dscan -b                  > ../refs/flow-dscan-default.txt 2>&1
    flow-cat ../ft | flow-dscan -b -D 20 -S 20      > ../refs/flow-dscan-D20-S20.txt 2>&1
    flow-cat ../replay/ft | flow-dscan -b             > ../refs/replay-flow-dscan-default.txt 2>&1
    flow-cat ../replay/ft | flow-dscan -b -D 20 -S 20 > ../refs/replay-flow-dscan-D20-S20.txt 2>&1 )
  rm -rf dscan
  for st in srcip/bytes dstip/bytes ip/bytes srcip/flows dstip/flows srcip/packets dstport/flows dstport/bytes proto/flows; do
    nfdump -R nfcapd -s "$st" -n 10 > "refs/nfdump-s-${st%/*}-${st#*/}.txt"
  done
  nfdump -R nfcapd -I > refs/nfdump-I.txt
  nfdump -R replay/nfcapd -s srcip/bytes -n 10 > refs/replay-nfdump-s-srcip-bytes.txt
  nfdump -R replay/nfcapd -s srcip/flows -n 10 > refs/replay-nfdump-s-srcip-flows.txt
  flow-cat ft | flow-stat -f0       > refs/flow-stat-f0-summary.txt
  flow-cat ft | flow-stat -f9 -S2   > refs/flow-stat-f9-srcip-by-octets.txt
  flow-cat ft | flow-stat -f8 -S2   > refs/flow-stat-f8-dstip-by-octets.txt
  flow-cat ft | flow-stat -f9 -S1   > refs/flow-stat-f9-srcip-by-flows.txt
  flow-cat ft | flow-stat -f5 -S1   > refs/flow-stat-f5-dstport-by-flows.txt
  flow-cat ft | flow-stat -f10 -S3  > refs/flow-stat-f10-srcdst-by-octets.txt
  [ -f capture.pcap ] && pcap_summary capture.pcap > refs/pcap-summary.txt
}
if [ "$STAGE" = refs ]; then make_refs; exit $?; fi
rm -rf "$RUN" ft nfcapd nfcapd-v9 replay capture.pcap
mkdir -p "$RUN" "$RUN/www" "$RUN/files" ft nfcapd nfcapd-v9 replay/ft replay/nfcapd

log()  { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" | tee -a "$RUN/script.log" >&2; }
mark() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $(date +%s.%3N) $*" >> "$RUN/timeline.log"; }
nsx()  { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

# ---------------------------------------------------------------- cleanup --
CREATED_RUN_SSHD=0
cleanup() {
  log "cleanup"
  for j in $(jobs -p); do kill "$j" 2>/dev/null; done
  # every process left inside our namespaces was started by this script
  for n in $NSS; do
    for pid in $(ip netns pids "$P-$n" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  done
  sleep 1
  for n in $NSS; do
    for pid in $(ip netns pids "$P-$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  done
  for n in $NSS; do
    ip netns del "$P-$n" 2>/dev/null
    rm -rf "/etc/netns/$P-$n"
  done
  rmdir /etc/netns 2>/dev/null
  [ "$CREATED_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
  rm -f "$RUN/files/big.bin" "$RUN/files/mid.bin"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for n in $NSS; do
  if ip netns list | grep -qw "$P-$n"; then echo "namespace $P-$n exists" >&2; exit 1; fi
done

# --------------------------------------------------------------- topology --
#   outside hosts (one namespace each) --veth--> br-out in frx-rtr (router)
#   frx-rtr r-in 10.77.255.1/30 <--veth--> frx-srv eth0 10.77.255.2/30
#   frx-srv owns many 10.77.8.0/22 addresses (on lo); the rest of the /22
#   is routed to frx-srv and silently dropped there (forwarding off).
log "building namespaces"
for n in $NSS; do
  ip netns add "$P-$n"
  mkdir -p "/etc/netns/$P-$n"
  echo "nameserver 10.77.8.11" > "/etc/netns/$P-$n/resolv.conf"
  nsx "$n" ip link set lo up
  nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
nsx rtr sysctl -qw net.ipv4.ip_forward=1
# clients: modest receive buffers, so rate-limited readers throttle the sender
# through TCP flow control instead of the whole file arriving in one burst
nsx cli sysctl -qw net.ipv4.tcp_rmem="4096 65536 262144"
nsx srv sysctl -qw net.ipv4.ip_forward=0

ip -n $P-rtr link add br-out type bridge stp_state 0 forward_delay 0
ip -n $P-rtr link set br-out up

# name  address       role
HOSTS="a1:10.77.1.66 a2:10.77.2.99 a3:10.77.3.33 a4:10.77.4.44 a5:10.77.5.55 a6:10.77.6.66 a7:10.77.7.77 cli:10.77.20.21"
HOSTS="$HOSTS a8:10.77.16.88 d1:10.77.13.13 d2:10.77.14.14 d3:10.77.15.15"   # issue 18
for h in $HOSTS; do
  n=${h%%:*}; a=${h#*:}; net=${a%.*}
  ip link add "o-$n" netns $P-rtr type veth peer name eth0 netns "$P-$n"
  ip -n $P-rtr link set "o-$n" master br-out up
  ip -n $P-rtr addr add "$net.1/24" dev br-out
  ip -n "$P-$n" addr add "$a/24" dev eth0
  ip -n "$P-$n" link set eth0 up
  ip -n "$P-$n" route add default via "$net.1"
done
# the benign clients share one namespace with 8 addresses
for i in 22 23 24 25 26 27 28; do ip -n $P-cli addr add "10.77.20.$i/24" dev eth0; done
# issue 18: benign role hosts, also in the client namespace:
#   .30 mail relay, .31 P2P client, .32 monitoring host, .40-.47 NTP clients
for i in 30 31 32 40 41 42 43 44 45 46 47; do ip -n $P-cli addr add "10.77.20.$i/24" dev eth0; done

ip link add r-in netns $P-rtr type veth peer name eth0 netns $P-srv
ip -n $P-rtr addr add 10.77.255.1/30 dev r-in
ip -n $P-rtr link set r-in up
ip -n $P-srv addr add 10.77.255.2/30 dev eth0
ip -n $P-srv link set eth0 up
ip -n $P-srv route add default via 10.77.255.1
ip -n $P-rtr route add 10.77.8.0/22 via 10.77.255.2

# issue 18: IPv6 between the scanner a8, the router and the server namespace
# only (ULA fd77::/16, never routed anywhere else); DAD off so addresses work at once
for n in rtr srv a8; do
  nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0
  for d in $(ip -n "$P-$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
    nsx "$n" sysctl -qw "net.ipv6.conf.$d.disable_ipv6=0"
  done
done
nsx rtr sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n $P-rtr addr add fd77:1::1/64 dev br-out nodad
ip -n $P-a8 addr add fd77:1::88/64 dev eth0 nodad
ip -n $P-a8 -6 route add default via fd77:1::1
ip -n $P-rtr addr add fd77:ff::1/64 dev r-in nodad
ip -n $P-srv addr add fd77:ff::2/64 dev eth0 nodad
ip -n $P-srv -6 route add default via fd77:ff::1
for i in 10 11 12 13; do ip -n $P-srv addr add "fd77:8::$i/128" dev lo nodad; done
ip -n $P-rtr -6 route add fd77:8::/64 via fd77:ff::2

# live addresses of the server namespace (everything else in 10.77.8.0/22 is dark)
SRV_ADDRS=""
for i in $(seq 1 62);    do SRV_ADDRS="$SRV_ADDRS 10.77.8.$i"; done
for i in $(seq 1 40);    do SRV_ADDRS="$SRV_ADDRS 10.77.9.$i"; done
for i in $(seq 100 119); do SRV_ADDRS="$SRV_ADDRS 10.77.10.$i"; done
for i in $(seq 250 254); do SRV_ADDRS="$SRV_ADDRS 10.77.11.$i"; done
for a in $SRV_ADDRS; do echo "addr add $a/32 dev lo"; done > "$RUN/srv-addrs.batch"
ip -n $P-srv -batch "$RUN/srv-addrs.batch"
echo "$SRV_ADDRS" | tr ' ' '\n' | grep . > "$RUN/live-targets.txt"

# real-wire packet sizes: no TSO/GSO/GRO super-packets on the veths
for n in $NSS; do
  for d in $(ip -n "$P-$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -v '^lo$'); do
    nsx "$n" ethtool -K "$d" tso off gso off gro off lro off tx off rx off >/dev/null 2>&1
  done
done

# --------------------------------------------------------------- services --
log "starting services"
# web content: a small site with pages and images of varied sizes
for p in index about products contact news blog faq login; do
  { echo "<html><head><title>$p</title></head><body>"
    head -c $(( (RANDOM % 40 + 2) * 1024 )) /dev/urandom | base64
    echo "</body></html>"; } > "$RUN/www/$p.html"
done
mkdir -p "$RUN/www/img"
for i in 1 2 3 4 5 6; do head -c $(( (RANDOM % 300 + 10) * 1024 )) /dev/urandom > "$RUN/www/img/photo$i.jpg"; done
if [ "$QUICK" = 1 ]; then BIG=8M; MID=4M; UPL=6000000; SSHB=3000000
else BIG=80M; MID=30M; UPL=50000000; SSHB=20000000; fi
head -c $BIG /dev/zero > "$RUN/files/big.bin"
head -c $MID /dev/zero > "$RUN/files/mid.bin"
head -c 800000 /dev/urandom > "$RUN/files/report.pdf"

nsx srv /usr/bin/python3 -m http.server 80  --bind 10.77.8.10 --directory "$RUN/www"   > "$RUN/http80.log"   2>&1 &
nsx srv /usr/bin/python3 -m http.server 443 --bind 10.77.8.10 --directory "$RUN/www"   > "$RUN/http443.log"  2>&1 &
nsx srv /usr/bin/python3 -m http.server 8000 --bind 10.77.8.12 --directory "$RUN/files" > "$RUN/http8000.log" 2>&1 &
nsx srv ncat -lk 10.77.8.10 21  --sh-exec "printf '220 (vsFTPd 3.0.3)\r\n'; sleep 2" > /dev/null 2>&1 &
# issue 18: port 25 answers on every live server address (the mail relay's
# destinations), with a minimal SMTP dialogue; P2P peers on 6881-6889 TCP+UDP
cp "$SCRIPT_DIR/lab/labsvc.py" "$SCRIPT_DIR/lab/roles.py" "$RUN/"
nsx srv /usr/bin/python3 "$RUN/labsvc.py" > "$RUN/labsvc.log" 2>&1 &
# issue 18: NTP server (chronyd, serving its local clock, never touching it)
printf '%s\n' 'local stratum 8' 'allow 10.77.0.0/16' 'bindaddress 10.77.8.13' 'port 123' 'cmdport 0' \
  "pidfile $RUN/chronyd.pid" "driftfile $RUN/chrony.drift" > "$RUN/chrony.conf"
nsx srv /usr/sbin/chronyd -d -x -f "$RUN/chrony.conf" > "$RUN/chronyd.log" 2>&1 &
nsx srv ncat -lk 10.77.8.11 110 --sh-exec "printf '+OK Dovecot ready.\r\n'; sleep 2" > /dev/null 2>&1 &
nsx srv ncat -lk --recv-only 10.77.8.12 9000 > /dev/null 2>&1 &

# DNS: dnsmasq authoritative for lab.example, no upstream servers at all
cat > "$RUN/dns.hosts" <<EOF
10.77.8.10 www.lab.example web.lab.example
10.77.8.11 ns1.lab.example mail.lab.example
10.77.8.12 files.lab.example
10.77.9.5 build.lab.example
10.77.10.100 db.lab.example
EOF
nsx srv dnsmasq -k --conf-file=/dev/null --no-resolv --no-poll --no-hosts \
  --addn-hosts="$RUN/dns.hosts" --local=/lab.example/ --listen-address=10.77.8.11 \
  --bind-interfaces --user=root --group=root --pid-file="$RUN/dnsmasq.pid" \
  --log-facility="$RUN/dnsmasq.log" &

# sshd: key login for root (legit bulk session), password guesses fail
[ -d /run/sshd ] || { mkdir -p /run/sshd; chmod 755 /run/sshd; CREATED_RUN_SSHD=1; }
ssh-keygen -q -t ed25519 -N '' -f "$RUN/ssh_host_ed25519_key" -C lab-host
ssh-keygen -q -t ed25519 -N '' -f "$RUN/client_key" -C lab-client
cp "$RUN/client_key.pub" "$RUN/authorized_keys"
cat > "$RUN/sshd_config" <<EOF
Port 22
ListenAddress 10.77.8.10
ListenAddress 10.77.9.5
ListenAddress 10.77.10.100
HostKey $RUN/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
AuthorizedKeysFile $RUN/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
MaxStartups 50:30:100
EOF
nsx srv /usr/sbin/sshd -D -f "$RUN/sshd_config" -E "$RUN/sshd.log" &
sleep 2

# ------------------------------------------------ capture, export, collect --
log "starting collectors, softflowd and tcpdump"
nsx rtr flow-capture -D -w "$BASE/ft" -n 1439 -N 3 -z 6 -V 5 \
  -C "lab router frx-rtr inside interface r-in" 127.0.0.1/0/9995 > "$RUN/flow-capture.log" 2>&1 &
nsx rtr nfcapd -w "$BASE/nfcapd" -t 60 -b 127.0.0.1 -p 9996 -I frx-rtr -B 8000000 \
  > "$RUN/nfcapd.log" 2>&1 &
sleep 1
ip netns exec $P-rtr tcpdump -i r-in -n -s 96 -w "$BASE/capture.pcap" ip or ip6 > "$RUN/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
# NetFlow v5, active timeout 60 s, inactive 30 s (10 s after FIN/RST)
SF_TIMEOUTS="-t maxlife=60 -t tcp=30 -t tcp.rst=10 -t tcp.fin=10 -t udp=30 -t icmp=30 -t general=30 -t expint=10"
ip netns exec $P-rtr softflowd -d -i r-in -v 5 -n 127.0.0.1:9995,127.0.0.1:9996 $SF_TIMEOUTS \
  -p "$RUN/softflowd.pid" -c "$RUN/softflowd.ctl" > "$RUN/softflowd.log" 2>&1 &
SOFTFLOWD_PID=$!
# issue 18: a second softflowd exports NetFlow v9 (IPv4 and IPv6; v5 cannot
# carry IPv6) to a third collector
nsx rtr nfcapd -w "$BASE/nfcapd-v9" -t 60 -b 127.0.0.1 -p 9999 -I frx-rtr-v9 -B 8000000 \
  > "$RUN/nfcapd-v9.log" 2>&1 &
sleep 1
ip netns exec $P-rtr softflowd -d -i r-in -v 9 -6 -n 127.0.0.1:9999 $SF_TIMEOUTS \
  -p "$RUN/softflowd-v9.pid" -c "$RUN/softflowd-v9.ctl" > "$RUN/softflowd-v9.log" 2>&1 &
sleep 3

# ---------------------------------------------------------------- traffic --
RANDOM=4242
ACT_PIDS=()
T0=$(date +%s)
if [ "$QUICK" = 1 ]; then
  S_DL=5; S_SLOW=8; S_SYN=15; S_SWEEP=25; S_CONN=40; S_UDP=50; S_PING=60
  S_BRUTE=66; S_SSH=70; S_UP=74; S_WGET=20; T_END=110; BRUTE_N=5; RL=200k; SLOW_T=-T2
  S_DIST=30; S_V6=45; ROLE_END=100
else
  S_DL=15; S_SLOW=30; S_SYN=60; S_WGET=90; S_SWEEP=120; S_CONN=180; S_UDP=240
  S_PING=300; S_BRUTE=330; S_SSH=360; S_UP=420; T_END=560; BRUTE_N=120; RL=400k; SLOW_T=-T1
  S_DIST=200; S_V6=270; ROLE_END=540   # issue 18; BRUTE_N was 30
fi
mark "T0 capture running (tcpdump + softflowd on frx-rtr r-in)"
at() { local t=$((T0 + $1)) now; now=$(date +%s); [ "$t" -gt "$now" ] && sleep $((t - now)); }

# job NAME NS LIMIT CMD...  - run a bounded activity, log its window and command
job() {
  local name=$1 ns=$2 lim=$3; shift 3
  mark "START $name ns=$P-$ns cmd: $*"
  nsx "$ns" timeout "$lim" "$@" > "$RUN/$name.out" 2>&1
  mark "END   $name rc=$?"
}

NMAP_PORTS_UDP=7,9,13,17,19,37,53,67,68,69,111,123,135,137,138,139,161,162,177,389,427,500,514,520
NMAP_PORTS_SLOW=21,22,23,25,53,79,80,81,88,110,111,113,119,135,139,143,389,443,445,465,514,993

# --- benign background: web browsing (curl, wget) and DNS lookups by 8 clients
web_client() {
  local ip=$1 pages="index about products contact news blog faq login" p
  while [ $(date +%s) -lt $((T0 + T_END - 10)) ]; do
    set -- $pages; shift $((RANDOM % 8)); p=$1
    if [ "$ip" = 10.77.20.23 ]; then
      nsx cli wget -q -O /dev/null --bind-address="$ip" -T 10 -t 1 "http://10.77.8.10/$p.html"
    else
      nsx cli curl -s -o /dev/null --interface "$ip" --max-time 10 "http://10.77.8.10/$p.html"
    fi
    if [ $((RANDOM % 4)) = 0 ]; then
      nsx cli curl -s -o /dev/null --interface "$ip" --max-time 10 "http://10.77.8.10/img/photo$((RANDOM % 6 + 1)).jpg"
    fi
    if [ $((RANDOM % 20)) = 0 ]; then
      nsx cli curl -s -o /dev/null --interface "$ip" --max-time 20 "http://10.77.8.12:8000/report.pdf"
    fi
    sleep $((RANDOM % 6 + 2))
  done
}
dns_client() {
  local ip=$1 names="www.lab.example mail.lab.example files.lab.example db.lab.example build.lab.example wiki.lab.example ns1.lab.example" n
  while [ $(date +%s) -lt $((T0 + T_END - 10)) ]; do
    set -- $names; shift $((RANDOM % 7)); n=$1
    nsx cli dig +short +tries=1 +time=2 -b "$ip" @10.77.8.11 "$n" A > /dev/null 2>&1
    sleep $((RANDOM % 8 + 3))
  done
}
mark "START benign web+dns clients 10.77.20.21-10.77.20.28 (curl/wget to 10.77.8.10:80, 10.77.8.12:8000; dig to 10.77.8.11:53)"
for i in 21 22 23 24 25 26 27 28; do
  web_client 10.77.20.$i & ACT_PIDS+=($!)
  dns_client 10.77.20.$i & ACT_PIDS+=($!)
done

# --- benign bulk transfers
( at $S_DL;   job dl-curl  cli 400 bash -c "curl -s --interface 10.77.20.25 http://10.77.8.12:8000/big.bin | pv -q -L $RL > /dev/null" ) & ACT_PIDS+=($!)
( at $S_WGET; job dl-wget  cli 300 wget -q -O /dev/null --bind-address=10.77.20.24 --limit-rate=300k http://10.77.8.12:8000/mid.bin ) & ACT_PIDS+=($!)
( at $S_SSH;  job ssh-bulk cli 200 bash -c "ssh -F /dev/null -i run/client_key -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -b 10.77.20.27 root@10.77.8.10 \
    'head -c $SSHB /dev/zero | pv -q -L 200k' > /dev/null" ) & ACT_PIDS+=($!)
( at $S_UP;   job upload   cli 200 bash -c "head -c $UPL /dev/zero | pv -q -L 500k | ncat --send-only -s 10.77.20.26 10.77.8.12 9000" ) & ACT_PIDS+=($!)

# --- scans
( at $S_SLOW;  job scan-slow  a5 450 nmap -n -Pn -sS $SLOW_T -p $NMAP_PORTS_SLOW -oN run/nmap-slow.txt 10.77.8.12 ) & ACT_PIDS+=($!)
( at $S_SYN;   job scan-syn   a1 120 nmap -n -sS -p1-1023 -oN run/nmap-syn.txt 10.77.8.10 ) & ACT_PIDS+=($!)
( at $S_SWEEP; job scan-sweep a2 180 nmap -n -Pn -sS -T4 --max-retries 1 -p 22 -oN run/nmap-sweep.txt 10.77.8.0/22 ) & ACT_PIDS+=($!)
( at $S_CONN;  job scan-conn  a3 120 nmap -n -sT -p1-300 -oN run/nmap-conn.txt 10.77.8.11 ) & ACT_PIDS+=($!)
( at $S_UDP;   job scan-udp   a4 150 nmap -n -Pn -sU -T4 --max-retries 2 -p $NMAP_PORTS_UDP -oN run/nmap-udp.txt 10.77.8.11 ) & ACT_PIDS+=($!)
( at $S_PING;  job scan-ping  a6 120 nmap -n -sn -PE -oN run/nmap-ping.txt 10.77.9.0/24 ) & ACT_PIDS+=($!)
( at $S_BRUTE
  mark "START ssh-brute ns=$P-a7 $BRUTE_N x: sshpass -p <guess> ssh -o PreferredAuthentications=password admin@10.77.8.10"
  for k in $(seq 1 $BRUTE_N); do
    nsx a7 timeout 15 sshpass -p "Winter2024!$k" ssh -F /dev/null -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=password -o PubkeyAuthentication=no \
      -o NumberOfPasswordPrompts=1 -o ConnectTimeout=5 admin@10.77.8.10 true >> "$RUN/ssh-brute.out" 2>&1
    sleep 0.3
  done
  mark "END   ssh-brute"
  # issue 18: the "compromise" - after the failures the same source logs in
  # and keeps a long session that moves data (SSHCure's compromise phase)
  job ssh-after-brute a7 120 bash -c "ssh -F /dev/null -i run/client_key -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@10.77.8.10 \
    'sleep 20; head -c 1500000 /dev/zero | pv -q -L 50k' > /dev/null" ) & ACT_PIDS+=($!)

# --- issue 18: a distributed scan - three sources, one port, disjoint /24s of one /22, same time
for d in "d1 10.77.9.0/24" "d2 10.77.10.0/24" "d3 10.77.11.0/24"; do
  set -- $d
  ( at $S_DIST; job "scan-dist-$1" "$1" 150 nmap -n -Pn -sS -T3 --max-retries 1 -p 445 -oN "run/nmap-dist-$1.txt" "$2" ) & ACT_PIDS+=($!)
done
# --- issue 18: IPv6 scans (TCP SYN on 1-300, then UDP on a few ports) from a8
( at $S_V6; job scan-v6 a8 150 nmap -6 -n -Pn -sS -T4 -p 1-300 -oN run/nmap-v6.txt fd77:8::10
  job scan-v6-udp a8 120 nmap -6 -n -Pn -sU -T4 --max-retries 1 -p 53,67,69,111,123,137,161,500,514,520 -oN run/nmap-v6-udp.txt fd77:8::11 ) & ACT_PIDS+=($!)

# --- issue 18: benign roles (run/roles.py, copied from lab/roles.py)
for r in ntp relay p2p monitor; do
  ( at 10; mark "START role-$r ns=$P-cli python3 run/roles.py $r (lab/roles.py)"
    nsx cli timeout $((ROLE_END + 20)) /usr/bin/python3 "$RUN/roles.py" "$r" $((T0 + ROLE_END)) > "$RUN/role-$r.out" 2>&1
    mark "END   role-$r rc=$?" ) & ACT_PIDS+=($!)
done

at $T_END
log "waiting for the last activities"
# every activity is bounded by timeout; the web/dns loops stop at T_END-10
wait "${ACT_PIDS[@]}"
sleep 5
mark "T_END traffic finished"
nsx rtr softflowctl -c "$RUN/softflowd.ctl" statistics > "$RUN/softflowd-stats-before-stop.txt" 2>&1
sleep 2
kill -TERM "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null
mark "tcpdump stopped"
# softflowd -d does not catch SIGTERM (it would die without exporting the
# flows still in its table); "softflowctl shutdown" expires and exports them.
# softflowd opens libpcap with timeout 0, so the packets of the last second or
# so may still sit in its capture buffer here and never reach the live export;
# they are in capture.pcap and in the replay (seen once: 289 packets, 1.3 s).
nsx rtr softflowctl -c "$RUN/softflowd.ctl" shutdown >> "$RUN/softflowd.log" 2>&1
nsx rtr softflowctl -c "$RUN/softflowd-v9.ctl" shutdown >> "$RUN/softflowd-v9.log" 2>&1   # issue 18
for k in $(seq 1 20); do kill -0 "$SOFTFLOWD_PID" 2>/dev/null || break; sleep 0.5; done
kill -0 "$SOFTFLOWD_PID" 2>/dev/null && { log "softflowd did not stop; TERM"; kill -TERM "$SOFTFLOWD_PID"; }
wait "$SOFTFLOWD_PID" 2>/dev/null
mark "softflowd stopped (softflowctl shutdown: remaining flows exported)"
sleep 3
for pid in $(ip netns pids $P-rtr); do kill -TERM "$pid" 2>/dev/null; done
sleep 3
log "live collection done"

# ------------------------------------------------- replay of the pcap file --
log "replaying capture.pcap with softflowd -r -a"
nsx rtr flow-capture -D -w "$BASE/replay/ft" -n 1439 -N 3 -z 6 -V 5 \
  -C "softflowd -r capture.pcap replay" 127.0.0.1/0/9997 > "$RUN/replay-flow-capture.log" 2>&1 &
nsx rtr nfcapd -w "$BASE/replay/nfcapd" -t 60 -b 127.0.0.1 -p 9998 -I replay -B 8000000 \
  > "$RUN/replay-nfcapd.log" 2>&1 &
sleep 2
nsx rtr softflowd -d -a -r "$BASE/capture.pcap" -v 5 -n 127.0.0.1:9997,127.0.0.1:9998 $SF_TIMEOUTS \
  -p "$RUN/softflowd-replay.pid" -c none > "$RUN/softflowd-replay.log" 2>&1
sleep 3
for pid in $(ip netns pids $P-rtr); do kill -TERM "$pid" 2>/dev/null; done
sleep 3
log "building csv/ and refs/"
make_refs
log "done; cleanup follows"
