//go:build ignore

// gen-routers writes the flow-import input of testdata/flowtools/routers/:
// synthetic, seeded traffic of three border routers of one site,
// 2026-11-23 10:00-11:00 UTC, one `flow-export -f 2` CSV per router and
// 15-minute period. make-routers.sh turns each CSV into a real flow-capture
// file (flow-import, then flow-send to a flow-capture whose clock is held
// at the period's start). It is not part of the module (build tag ignore);
// run it as
//
//	go run gen-routers.go OUTDIR
//
// It writes OUTDIR/rtr-X.HHMMSS.csv (X = a, b, c; HHMMSS the period's start)
// and prints one line per file: router, period start (Unix seconds), flows.
//
// Every flow starts on a whole second (so flow-dscan 0.68 prints its start=
// and flow-dump times correctly, see testdata/README.md) and each router's
// flows are sorted by end time. The PDU header of a flow (unix_secs,
// unix_nsecs, sysUpTime) is its export instant: the second after its end,
// plus a per-router offset; the file of a flow is the period of its export
// instant, so the files of a router do not overlap in end time. Scenarios
// whose result depends on the merge of the routers are listed in
// testdata/README.md, section "routers/".
package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

const (
	t0     = 1795428000 // 2026-11-23 10:00:00 UTC
	period = 900        // flow-capture's default: 95 rotations a day
	nfiles = 4
)

type router struct {
	name       string
	exaddr     string // replaced by flow-capture with the UDP source; the same here
	engineID   int
	bootMS     int64 // the router's boot instant, Unix ms (sysUpTime = export - boot)
	exportOff  int64 // ms after the second that follows a flow's end
	exportSubN int64 // extra nanoseconds in unix_nsecs (below 1 ms)
}

var routers = []router{
	{"rtr-a", "127.0.0.11", 1, t0*1000 - 3123456789, 0, 0},       // up 36 days: sysUpTime > 2^31
	{"rtr-b", "127.0.0.12", 2, t0*1000 - 812345678, 250, 123456}, // up 9 days
	{"rtr-c", "127.0.0.13", 3, t0*1000 - 5432109, 731, 999999},   // up 1.5 hours
}

const (
	A = 0
	B = 1
	C = 2
)

type flow struct {
	r            int
	start, end   int64 // Unix ms
	src, dst     string
	sport, dport int
	prot, flags  int
	pkts, octets int64
	in, out      int
	seq          int // generation order: the order of equal end times in a router
}

var (
	flows []flow
	rng   = rand.New(rand.NewPCG(20261123, 3))
)

func add(f flow) {
	f.seq = len(flows)
	if f.end < f.start {
		panic("end before start")
	}
	if f.end < t0*1000 || f.end > (t0+nfiles*period-2)*1000 {
		panic(fmt.Sprintf("flow end %d out of the hour", f.end))
	}
	flows = append(flows, f)
}

func at(min, sec int) int64 { return (t0 + int64(min)*60 + int64(sec)) * 1000 }

// external is a random public address outside the ranges the scenarios use.
func external() string {
	for {
		a := 11 + rng.IntN(213)
		switch a {
		case 10, 100, 127, 169, 172, 192, 198, 203:
			continue
		}
		return fmt.Sprintf("%d.%d.%d.%d", a, rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
	}
}

// ecmp: the router a flow takes, from a hash of its 5-tuple: a and b carry
// 2/5 each, c 1/5.
func ecmp(src, dst string, sport, dport int) int {
	h := uint32(2166136261)
	for _, s := range []string{src, dst, fmt.Sprint(sport), fmt.Sprint(dport)} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
		h = (h ^ '|') * 16777619
	}
	return []int{A, A, B, B, C}[h%5]
}

func ephemeral() int { return 32768 + rng.IntN(28232) }

const (
	ifUplink   = 1 // every router: 1 = its Internet uplink, 2 = the site
	ifInternal = 2
)

// session: a client-to-server flow and the reply, each routed on its own
// (the reply may leave by another router: asymmetric routing).
func session(start int64, client, server string, dport, prot int, clientInside bool) {
	sport := ephemeral()
	dur := int64(40 + rng.IntN(90000))
	pk := int64(2 + rng.IntN(60))
	in, out := ifInternal, ifUplink
	if !clientInside {
		in, out = ifUplink, ifInternal
	}
	flags := 0
	if prot == 6 {
		flags = 0x1b
	}
	add(flow{r: ecmp(client, server, sport, dport), start: start, end: start + dur, src: client, dst: server,
		sport: sport, dport: dport, prot: prot, flags: flags, pkts: pk, octets: pk * int64(60+rng.IntN(400)), in: in, out: out})
	rdur := dur - int64(rng.IntN(30))
	if rdur < 0 {
		rdur = 0
	}
	rp := pk + int64(rng.IntN(80))
	add(flow{r: ecmp(server, client, dport, sport), start: start, end: start + rdur, src: server, dst: client,
		sport: dport, dport: sport, prot: prot, flags: flags, pkts: rp, octets: rp * int64(200+rng.IntN(1200)), in: out, out: in})
}

func benign() {
	// Internal clients 10.30.2.1-40 and 10.30.3.1-20, each with 5
	// favourite Internet services out of 40 (some far more popular).
	var servers []string
	for i := 0; i < 40; i++ {
		servers = append(servers, external())
	}
	var clients []string
	fav := map[string][]int{}
	for i := 1; i <= 40; i++ {
		clients = append(clients, fmt.Sprintf("10.30.2.%d", i))
	}
	for i := 1; i <= 20; i++ {
		clients = append(clients, fmt.Sprintf("10.30.3.%d", i))
	}
	for _, c := range clients {
		for k := 0; k < 5; k++ {
			u := rng.Float64()
			fav[c] = append(fav[c], int(40*u*u))
		}
	}
	for i := 0; i < 1800; i++ {
		s := at(0, rng.IntN(3480))
		c := clients[rng.IntN(len(clients))]
		srv := servers[fav[c][rng.IntN(5)]]
		switch x := rng.IntN(10); {
		case x < 7:
			session(s, c, srv, 443, 6, true)
		case x < 9:
			session(s, c, srv, 443, 17, true)
		default:
			session(s, c, srv, 80, 6, true)
		}
	}
	// Visitors of the site's web server 10.30.1.10.
	var visitors []string
	for i := 0; i < 250; i++ {
		visitors = append(visitors, external())
	}
	for i := 0; i < 500; i++ {
		session(at(0, rng.IntN(3480)), visitors[rng.IntN(len(visitors))], "10.30.1.10", 443, 6, false)
	}
	// The resolver 10.30.1.53 asks four Internet DNS servers.
	dns := []string{external(), external(), external(), external()}
	for i := 0; i < 150; i++ {
		s := at(0, rng.IntN(3590))
		sp := ephemeral()
		d := dns[rng.IntN(4)]
		add(flow{r: ecmp("10.30.1.53", d, sp, 53), start: s, end: s + int64(rng.IntN(3)), src: "10.30.1.53", dst: d,
			sport: sp, dport: 53, prot: 17, pkts: 1, octets: int64(60 + rng.IntN(40)), in: ifInternal, out: ifUplink})
		add(flow{r: ecmp(d, "10.30.1.53", 53, sp), start: s, end: s + int64(3+rng.IntN(40)), src: d, dst: "10.30.1.53",
			sport: 53, dport: sp, prot: 17, pkts: 1, octets: int64(90 + rng.IntN(300)), in: ifUplink, out: ifInternal})
	}
	// Internet background: single SYNs from many sources.
	for i := 0; i < 1200; i++ {
		s := at(0, rng.IntN(3590))
		src := external()
		dst := fmt.Sprintf("10.30.%d.%d", 1+rng.IntN(7), 1+rng.IntN(254))
		sp, dp := ephemeral(), []int{23, 445, 22, 3389, 80, 8080, 5060}[rng.IntN(7)]
		add(flow{r: ecmp(src, dst, sp, dp), start: s, end: s, src: src, dst: dst, sport: sp, dport: dp, prot: 6, flags: 2,
			pkts: 1, octets: 44, in: ifUplink, out: ifInternal})
	}
}

// probe: one scan flow (a SYN, or one UDP datagram) on router r.
func probe(r int, start, dur int64, src, dst string, dport, prot int) {
	flags, oct := 2, int64(44)
	if prot == 17 {
		flags, oct = 0, 78
	}
	add(flow{r: r, start: start, end: start + dur, src: src, dst: dst, sport: 40000 + rng.IntN(20000), dport: dport,
		prot: prot, flags: flags, pkts: 1, octets: oct, in: ifUplink, out: ifInternal})
}

func scans() {
	// S1 split sweep: 198.51.100.23 probes TCP/22 of 10.30.2.101-140,
	// one a second from 10:05:00; odd hosts enter by rtr-a, even by rtr-b.
	// Neither router alone sees more than 20 destinations.
	for i := 1; i <= 40; i++ {
		probe([]int{B, A}[i%2], at(5, i-1), int64(1+i%7), "198.51.100.23", fmt.Sprintf("10.30.2.%d", 100+i), 22, 6)
	}
	// S2 race: 203.0.113.77 sweeps TCP/445 of 10.30.3.101-130 through
	// rtr-a (one every 2 s from 10:20:00) while probing 15 ports of
	// 10.30.1.10 through rtr-b (one a second from 10:20:05).
	for i := 1; i <= 30; i++ {
		probe(A, at(20, 2*(i-1)), 3, "203.0.113.77", fmt.Sprintf("10.30.3.%d", 100+i), 445, 6)
	}
	for j, p := range []int{21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 993} {
		probe(B, at(20, 5+j), 2, "203.0.113.77", "10.30.1.10", p, 6)
	}
	// S3 host-scan threshold on equal end times: 192.0.2.200 probes
	// UDP/161 of 10.30.4.1-20 (odd: rtr-a, even: rtr-b), then its 21st,
	// 22nd and 23rd destinations through rtr-a, rtr-b and rtr-c in flows
	// that all end at 10:35:25.500 but start 10:35:25, :24 and :23.
	for i := 1; i <= 20; i++ {
		probe([]int{B, A}[i%2], at(35, i-1), 2, "192.0.2.200", fmt.Sprintf("10.30.4.%d", i), 161, 17)
	}
	probe(A, at(35, 25), 500, "192.0.2.200", "10.30.4.21", 161, 17)
	probe(B, at(35, 24), 1500, "192.0.2.200", "10.30.4.22", 161, 17)
	probe(C, at(35, 23), 2500, "192.0.2.200", "10.30.4.23", 161, 17)
	for i := 24; i <= 40; i++ {
		probe([]int{B, A}[i%2], at(35, i+2), 2, "192.0.2.200", fmt.Sprintf("10.30.4.%d", i), 161, 17)
	}
	// S4 line order: 100.64.30.9 sweeps TCP/23 of 10.30.7.1-25 through
	// rtr-b from 10:44:00; 100.64.20.5 sweeps TCP/5900 of 10.30.7.101-125
	// through rtr-a from 10:46:00.
	for i := 1; i <= 25; i++ {
		probe(B, at(44, i-1), 1, "100.64.30.9", fmt.Sprintf("10.30.7.%d", i), 23, 6)
		probe(A, at(46, i-1), 1, "100.64.20.5", fmt.Sprintf("10.30.7.%d", 100+i), 5900, 6)
	}
	// S5 across the 10:30 file boundary: 198.51.100.99 probes TCP/3389 of
	// 10.30.5.1-30 from 10:29:45, one a second, alternating rtr-a, rtr-b.
	for i := 1; i <= 30; i++ {
		probe([]int{B, A}[i%2], at(29, 44+i), int64(i%5), "198.51.100.99", fmt.Sprintf("10.30.5.%d", i), 3389, 6)
	}
	// S6 port-scan threshold on equal end times: 203.0.113.9 probes TCP
	// ports 1-9 of 10.30.1.20 (odd: rtr-a, even: rtr-b), then ports 10, 11
	// and 12 through rtr-a, rtr-b and rtr-c in flows that all end at
	// 10:50:09.750, then ports 13-30.
	for p := 1; p <= 9; p++ {
		probe([]int{B, A}[p%2], at(50, p-1), 1, "203.0.113.9", "10.30.1.20", p, 6)
	}
	probe(A, at(50, 9), 750, "203.0.113.9", "10.30.1.20", 10, 6)
	probe(B, at(50, 8), 1750, "203.0.113.9", "10.30.1.20", 11, 6)
	probe(C, at(50, 7), 2750, "203.0.113.9", "10.30.1.20", 12, 6)
	for p := 13; p <= 30; p++ {
		probe([]int{B, A}[p%2], at(50, p-3), 1, "203.0.113.9", "10.30.1.20", p, 6)
	}
	// S7 three-way split: 203.0.113.150 probes TCP/8080 of 10.30.6.1-27
	// from 10:55:00, round robin rtr-a, rtr-b, rtr-c: 18 destinations
	// without rtr-c.
	for i := 1; i <= 27; i++ {
		probe((i-1)%3, at(55, i-1), 1, "203.0.113.150", fmt.Sprintf("10.30.6.%d", i), 8080, 6)
	}
	// S8 slow sweep for the ager: 100.64.102.24 (bucket 600, which the
	// ager reaches in its second step) probes TCP/1433 of 10.30.8.1-30,
	// one every 110 s from 10:01:00, alternating rtr-a, rtr-b.
	for i := 1; i <= 30; i++ {
		probe([]int{B, A}[i%2], at(1, 110*(i-1)), 2, "100.64.102.24", fmt.Sprintf("10.30.8.%d", i), 1433, 6)
	}
}

// transfers: flows above 100,000,000 octets (flow-dscan -O 100000000),
// starting and ending on whole seconds; the last two end together.
func transfers() {
	big := func(r int, start, end int64, src, dst string, oct int64) {
		add(flow{r: r, start: start, end: end, src: src, dst: dst, sport: 50000 + rng.IntN(10000), dport: 443, prot: 6,
			flags: 0x1b, pkts: oct / 1400, octets: oct, in: ifInternal, out: ifUplink})
	}
	big(A, at(1, 0), at(12, 0), "10.30.1.40", "52.95.110.1", 400000000)
	big(B, at(2, 0), at(8, 0), "10.30.1.41", "52.95.110.2", 250000000)
	big(B, at(30, 0), at(41, 0), "10.30.1.40", "52.95.110.1", 300000000)
	big(C, at(33, 0), at(39, 0), "10.30.1.41", "52.95.110.2", 180000000)
	big(A, at(40, 0), at(52, 0), "10.30.1.42", "52.95.110.3", 200000000)
	big(B, at(45, 0), at(52, 0), "10.30.1.43", "52.95.110.4", 150000000)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen-routers.go OUTDIR")
		os.Exit(2)
	}
	out := os.Args[1]
	benign()
	scans()
	transfers()
	for ri, rt := range routers {
		var fs []flow
		for _, f := range flows {
			if f.r == ri {
				fs = append(fs, f)
			}
		}
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].end != fs[j].end {
				return fs[i].end < fs[j].end
			}
			return fs[i].seq < fs[j].seq
		})
		files := make([][]string, nfiles)
		for _, f := range fs {
			export := (f.end/1000+1)*1000 + rt.exportOff
			k := (export/1000 - t0) / period
			up := export - rt.bootMS
			line := fmt.Sprintf("%d,%d,%d,%s,%d,%d,%d,%d,0,%d,%s,%s,0.0.0.0,%d,%d,%d,%d,%d,0,%d,0,0,0,0",
				export/1000, export%1000*1000000+rt.exportSubN, up, rt.exaddr, f.pkts, f.octets,
				f.start-rt.bootMS, f.end-rt.bootMS, rt.engineID, f.src, f.dst, f.in, f.out, f.sport, f.dport,
				f.prot, f.flags)
			files[k] = append(files[k], line)
		}
		for k, lines := range files {
			start := int64(t0 + k*period)
			hms := fmt.Sprintf("%02d%02d00", 10+k*period/3600, k*period%3600/60)
			p := filepath.Join(out, fmt.Sprintf("%s.%s.csv", rt.name, hms))
			fh, err := os.Create(p)
			if err != nil {
				panic(err)
			}
			w := bufio.NewWriter(fh)
			fmt.Fprintln(w, "#:unix_secs,unix_nsecs,sysuptime,exaddr,dpkts,doctets,first,last,engine_type,engine_id,srcaddr,dstaddr,nexthop,input,output,srcport,dstport,prot,tos,tcp_flags,src_mask,dst_mask,src_as,dst_as")
			for _, l := range lines {
				fmt.Fprintln(w, l)
			}
			if err := w.Flush(); err != nil {
				panic(err)
			}
			fh.Close()
			fmt.Printf("%s %d %d\n", rt.name, start, len(lines))
		}
	}
}
