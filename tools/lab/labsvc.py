# Lab services for tools/lab-capture.sh (issue 18): a minimal SMTP responder on
# port 25 of every address of the server namespace (the mail relay's
# destinations) and P2P-like peers on TCP and UDP 6881-6889.
# UDP sockets are bound per address: a socket bound to 0.0.0.0 answers from
# the address of the outgoing interface, not the one the peer wrote to,
# which no real peer does.
import asyncio


async def smtp(r, w):
    w.write(b'220 mx.lab.example ESMTP\r\n')
    await w.drain()
    try:
        data = False
        while True:
            line = await asyncio.wait_for(r.readline(), 20)
            if not line:
                break
            if data:
                if line in (b'.\r\n', b'.\n'):
                    data = False
                    w.write(b'250 2.0.0 queued\r\n')
            else:
                c = line[:4].upper()
                if c == b'DATA':
                    data = True
                    w.write(b'354 go ahead\r\n')
                elif c == b'QUIT':
                    w.write(b'221 bye\r\n')
                    await w.drain()
                    break
                elif c in (b'EHLO', b'HELO'):
                    w.write(b'250 mx.lab.example\r\n')
                else:
                    w.write(b'250 ok\r\n')
            await w.drain()
    except Exception:
        pass
    w.close()


async def peer(r, w):
    try:
        await asyncio.wait_for(r.read(2048), 10)
        w.write(b'P' * 6000)
        await w.drain()
    except Exception:
        pass
    w.close()


class UDPPeer(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t

    def datagram_received(self, d, a):
        self.t.sendto(b'p' * 300, a)


async def main():
    keep = [await asyncio.start_server(smtp, '0.0.0.0', 25)]
    loop = asyncio.get_running_loop()
    addrs = [l.strip() for l in open('run/live-targets.txt') if l.strip()]
    for p in range(6881, 6890):
        keep.append(await asyncio.start_server(peer, '0.0.0.0', p))
        for a in addrs:
            await loop.create_datagram_endpoint(UDPPeer, local_addr=(a, p))
    await asyncio.Event().wait()

asyncio.run(main())
