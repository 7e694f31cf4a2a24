# Benign roles for tools/lab-capture.sh (issue 18), run in the client namespace:
#   ntp      8 clients (10.77.20.40-47) poll the lab's chronyd at 10.77.8.13
#   relay    a mail relay (10.77.20.30) delivers to ~45 MX hosts, nearly all answer
#   p2p      a P2P client (10.77.20.31) talks to ~78 peers on 6881-6889, most answer
#   monitor  a monitoring host (10.77.20.32) checks 3 SSH servers (banner and
#            version string, like check_ssh), 14 TCP services and pings 4
#            hosts every 30 s
# Usage: python3 roles.py ROLE UNTIL_EPOCH   (cwd: the capture's OUTDIR)
import random
import smtplib
import socket
import subprocess
import sys
import time

role, until = sys.argv[1], float(sys.argv[2])
random.seed(role)
live = [l.strip() for l in open('run/live-targets.txt') if l.strip()]


def ntp(src, server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(2)
    s.sendto(b'\x23' + 47 * b'\0', (server, 123))  # v4 client request
    try:
        s.recv(512)
    except OSError:
        pass
    s.close()


if role == 'ntp':
    clients = ['10.77.20.%d' % i for i in range(40, 48)]
    nxt = {c: time.time() + random.uniform(0, 10) for c in clients}
    while time.time() < until:
        c = min(nxt, key=nxt.get)
        time.sleep(max(0, nxt[c] - time.time()))
        ntp(c, '10.77.8.13')
        nxt[c] = time.time() + random.uniform(12, 20)
elif role == 'relay':
    mx = random.sample(live[20:], 45) + ['10.77.11.7', '10.77.9.200']  # two dead MX
    random.shuffle(mx)
    for h in mx:
        if time.time() > until:
            break
        try:
            with smtplib.SMTP(h, 25, source_address=('10.77.20.30', 0), timeout=8) as m:
                m.sendmail('news@lab.example', ['user@%s' % h],
                           'Subject: hi\r\n\r\n' + 'x' * random.randint(500, 6000))
        except OSError:
            pass
        time.sleep(random.uniform(3, 9))
elif role == 'p2p':
    peers = [(h, random.randint(6881, 6889)) for h in random.sample(live, 70)]
    peers += [('10.77.11.%d' % random.randint(1, 200), random.randint(6881, 6889)) for _ in range(8)]
    while time.time() < until:
        h, p = random.choice(peers)
        if random.random() < 0.5:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('10.77.20.31', 0))
            s.settimeout(1)
            s.sendto(b'd1:ad2:id20:' + b'q' * 40, (h, p))
            try:
                s.recv(2048)
            except OSError:
                pass
        else:
            s = socket.socket()
            s.bind(('10.77.20.31', 0))
            s.settimeout(3)
            try:
                s.connect((h, p))
                s.sendall(b'\x13BitTorrent protocol' + b'h' * 48)
                s.recv(8192)
            except OSError:
                pass
        s.close()
        time.sleep(random.uniform(0.5, 3))
elif role == 'monitor':
    # like Nagios/Icinga: an SSH check that reads the banner and sends a
    # version string (check_ssh), TCP connects to mail and web ports, and
    # pings, every 30 s
    ssh = ['10.77.8.10', '10.77.9.5', '10.77.10.100']
    tcp = [('10.77.8.10', 80), ('10.77.8.10', 443), ('10.77.8.11', 110), ('10.77.8.12', 8000)]
    tcp += [(h, 25) for h in live[20:30]]
    pings = ['10.77.8.10', '10.77.8.11', '10.77.8.12', '10.77.8.13']
    while time.time() < until:
        t0 = time.time()
        for h in ssh:
            s = socket.socket()
            s.bind(('10.77.20.32', 0))
            s.settimeout(3)
            try:
                s.connect((h, 22))
                s.recv(256)
                s.sendall(b'SSH-2.0-check_ssh_lab\r\n')
            except OSError:
                pass
            s.close()
        for h, p in tcp:
            s = socket.socket()
            s.bind(('10.77.20.32', 0))
            s.settimeout(3)
            try:
                s.connect((h, p))
            except OSError:
                pass
            s.close()
        for h in pings:
            subprocess.run(['ping', '-c1', '-W1', '-I', '10.77.20.32', h],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(max(0, 30 - (time.time() - t0)))
