// Package guess finds password guessing against authentication services
// (SSH, telnet, FTP, RDP, SMB, VNC, the common databases, mail submission
// and mailbox access) in flow records, after the way SSHCure (Hofstede et
// al., 2014) splits an SSH attack into phases, and reports a likely
// compromise.
//
// An attempt is one flow from a client port (1024 and up) to an
// authentication port whose TCP flags include ACK (the connection was
// accepted), with at least MinPackets packets (a bare connect, a port check
// or a banner grab takes 3 to 5: a login exchange takes more) and at most
// MaxPackets, lasting at most MaxDurationMS. Attempts of one source to one
// service (destination, port) are counted until a gap of Gap without one
// (Zeek's SSH::guessing_timeout is 30 min).
//
// The service is reported as guessed at when MinAttempts attempts fall
// within GapMS (Zeek's SSH::password_guesses_limit, 30, within its
// guessing_timeout, 30 min), at least MinSimilar of them are of similar
// size (packets within half and one and a half times the median): a tool
// repeating one failed login gives flows of the same size, a person's
// sessions do not; and they do not come at a fixed period of 20 s or more,
// which is a monitoring system checking the service (a tool goes as fast
// as the server lets it). Confidence grows with the count and the
// similarity; it is a figure, never a certainty.
//
// After a report, a flow of the same source to the same service that is
// much longer or much bigger than the attempts (LongFactor times their
// median packets, or LongFactor times their median duration and at least
// 30 s) is reported once as a possible compromise: a login that worked and
// was then used, the sign SSHCure calls the compromise phase.
package guess

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/flowsift/flowsift/analyze"
	"github.com/flowsift/flowsift/flow"
)

// Kinds of finding.
const (
	Guessing   analyze.Kind = "password-guessing"
	Compromise analyze.Kind = "possible-compromise"
)

// Services names the authentication ports watched (TCP).
var Services = map[uint16]string{
	21: "ftp", 22: "ssh", 23: "telnet", 110: "pop3", 139: "netbios-ssn", 143: "imap", 445: "smb",
	465: "smtps", 587: "submission", 993: "imaps", 995: "pop3s", 1433: "mssql", 1521: "oracle",
	3306: "mysql", 3389: "rdp", 5432: "postgresql", 5900: "vnc", 6379: "redis", 27017: "mongodb",
}

// Config holds the detector's parameters; zero fields take the defaults.
type Config struct {
	MinAttempts   int     // attempts that make a report (30)
	MinSimilar    float64 // share of attempts of similar size (0.6)
	MinPackets    uint64  // packets of a flow that can be a login (6)
	MaxPackets    uint64  // packets above which a flow is a session, not an attempt (100)
	MaxDurationMS int64   // duration above which a flow is a session (60 s)
	GapMS         int64   // window the attempts must fall in, and silence that ends a series (30 min)
	LongFactor    float64 // how much longer or bigger a compromise session is (10)
	MaxTracked    int     // (source, service) series held (1<<20)
}

// DefaultConfig is the detector's defaults.
func DefaultConfig() Config {
	return Config{MinAttempts: 30, MinSimilar: 0.6, MinPackets: 6, MaxPackets: 100, MaxDurationMS: 60_000,
		GapMS: 30 * 60_000, LongFactor: 10, MaxTracked: 1 << 20}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.MinAttempts = analyze.Positive(c.MinAttempts, d.MinAttempts)
	c.MinSimilar = analyze.Positive(c.MinSimilar, d.MinSimilar)
	c.MinPackets = cmp.Or(c.MinPackets, d.MinPackets)
	c.MaxPackets = cmp.Or(c.MaxPackets, d.MaxPackets)
	c.MaxDurationMS = analyze.Positive(c.MaxDurationMS, d.MaxDurationMS)
	c.GapMS = analyze.Positive(c.GapMS, d.GapMS)
	c.LongFactor = analyze.Positive(c.LongFactor, d.LongFactor)
	c.MaxTracked = analyze.Positive(c.MaxTracked, d.MaxTracked)
	return c
}

// Validate refuses negative values and a similarity share above 1.
func (c Config) Validate() error {
	if c.MinAttempts < 0 || c.MinSimilar < 0 || c.MinSimilar > 1 || c.MaxDurationMS < 0 || c.GapMS < 0 || c.LongFactor < 0 || c.MaxTracked < 0 {
		return fmt.Errorf("password guessing: min attempts %d, similar share %v, max duration %d ms, gap %d ms, long factor %v, max tracked %d: none may be negative, the share at most 1",
			c.MinAttempts, c.MinSimilar, c.MaxDurationMS, c.GapMS, c.LongFactor, c.MaxTracked)
	}
	if c.MinPackets > c.MaxPackets && c.MaxPackets != 0 {
		return fmt.Errorf("password guessing: min packets %d above max packets %d", c.MinPackets, c.MaxPackets)
	}
	return nil
}

// Settings describes the configuration for a report.
func (c Config) Settings() []analyze.Setting {
	c = c.withDefaults()
	return []analyze.Setting{{Name: "password guessing", Value: fmt.Sprintf(
		">= %d accepted connections of %d-%d packets and <= %s to one authentication service, >= %.0f %% of similar size, series end after %s; compromise: a later session %g times longer or bigger",
		c.MinAttempts, c.MinPackets, c.MaxPackets, dur(c.MaxDurationMS), c.MinSimilar*100, dur(c.GapMS), c.LongFactor)}}
}

func dur(ms int64) string { return (time.Duration(ms) * time.Millisecond).Round(time.Second).String() }

type key struct {
	src, dst netip.Addr
	port     uint16
}

type attempt struct {
	packets, octets uint64
	ms              int64
	start           int64
}

type series struct {
	attempts    []attempt // in the window; after the report, the first maxKept
	count       int       // attempts, also those beyond maxKept
	first, last int64
	reported    bool
	compromised bool
	median      attempt // at the report
}

// Detector is fed flows in stream order. Not safe for concurrent use.
type Detector struct {
	cfg   Config
	sink  analyze.Sink
	s     map[key]*series
	index uint64
	clock int64
	sweep int64
}

// New makes a detector that reports to sink.
func New(cfg Config, sink analyze.Sink) *Detector {
	return &Detector{cfg: cfg.withDefaults(), sink: sink, s: map[key]*series{}}
}

// Add feeds a batch in stream order.
func (d *Detector) Add(b flow.Batch) {
	for i := range b {
		d.index++
		d.one(&b[i])
	}
}

func (d *Detector) one(r *flow.Record) {
	d.clock = max(d.clock, r.End)
	if d.clock >= d.sweep {
		for k, s := range d.s {
			if s.last+d.cfg.GapMS < d.clock {
				delete(d.s, k)
			}
		}
		d.sweep = d.clock + d.cfg.GapMS
	}
	if r.Proto != 6 || r.SrcPort < 1024 || r.TCPFlags&flow.TCPAck == 0 {
		return
	}
	if _, ok := Services[r.DstPort]; !ok {
		return
	}
	k := key{r.Src, r.Dst, r.DstPort}
	s := d.s[k]
	if s != nil && s.last+d.cfg.GapMS < r.Start && !s.reported {
		s = nil // the series went quiet: start over
	}
	ms := r.End - r.Start
	isAttempt := r.Packets >= d.cfg.MinPackets && r.Packets <= d.cfg.MaxPackets && ms <= d.cfg.MaxDurationMS
	if s != nil && s.reported && !s.compromised && d.long(s, r, ms) {
		s.compromised = true
		s.last = max(s.last, r.Start)
		d.report(k, s, r, Compromise)
		return
	}
	if !isAttempt {
		return
	}
	if s == nil {
		if len(d.s) >= d.cfg.MaxTracked {
			return
		}
		s = &series{first: r.Start}
		d.s[k] = s
	}
	s.last = max(s.last, r.Start)
	if s.reported {
		if len(s.attempts) < maxKept {
			s.attempts = append(s.attempts, attempt{r.Packets, r.Octets, ms, r.Start})
		}
		s.count++
		return
	}
	// Only the attempts of the last GapMS count (Zeek's guesses within
	// its guessing timeout): checks spread over a day do not add up.
	s.attempts = append(s.attempts, attempt{r.Packets, r.Octets, ms, r.Start})
	drop := 0
	for drop < len(s.attempts) && s.attempts[drop].start < r.Start-d.cfg.GapMS {
		drop++
	}
	// The latest 4 × MinAttempts decide: a busy service keeps no more,
	// and the similarity and the period are not recomputed over
	// thousands of connections at every one.
	drop = max(drop, len(s.attempts)-4*d.cfg.MinAttempts)
	s.attempts = s.attempts[drop:]
	s.first = s.attempts[0].start
	s.count = len(s.attempts)
	if len(s.attempts) < d.cfg.MinAttempts {
		return
	}
	if similar(s.attempts) < d.cfg.MinSimilar || scheduled(s.attempts) {
		return
	}
	s.reported = true
	s.median = median(s.attempts)
	d.report(k, s, r, Guessing)
}

// long says whether r, after the attempts of s, looks like a session that
// followed a successful login.
func (d *Detector) long(s *series, r *flow.Record, ms int64) bool {
	m := s.median
	return float64(r.Packets) >= d.cfg.LongFactor*float64(max(m.packets, 1)) ||
		(ms >= 30_000 && float64(ms) >= d.cfg.LongFactor*float64(max(m.ms, 1)))
}

// maxKept bounds the attempts kept after a report (for the median and
// the count of the compromise note).
const maxKept = 4096

// scheduled says whether attempts come at a fixed period of 20 s or more
// (interval jitter under 10 %): a monitoring system checking a service,
// not a tool guessing, which goes as fast as the server lets it.
func scheduled(a []attempt) bool {
	if len(a) < 3 {
		return false
	}
	var sum, sq float64
	for i := 1; i < len(a); i++ {
		iv := float64(a[i].start - a[i-1].start)
		sum += iv
		sq += iv * iv
	}
	n := float64(len(a) - 1)
	m := sum / n
	sd := math.Sqrt(max(0, sq/n-m*m))
	return m >= 20_000 && sd < 0.1*m
}

func median(a []attempt) attempt {
	p := make([]uint64, len(a))
	o := make([]uint64, len(a))
	t := make([]int64, len(a))
	for i, x := range a {
		p[i], o[i], t[i] = x.packets, x.octets, x.ms
	}
	slices.Sort(p)
	slices.Sort(o)
	slices.Sort(t)
	n := len(a) / 2
	return attempt{packets: p[n], octets: o[n], ms: t[n]}
}

// similar is the share of attempts whose packets lie within half and one
// and a half times the median.
func similar(a []attempt) float64 {
	m := float64(median(a).packets)
	k := 0
	for _, x := range a {
		if v := float64(x.packets); v >= m/2 && v <= m*1.5 {
			k++
		}
	}
	return float64(k) / float64(len(a))
}

// Confidence of a guessing report: the share of similar attempts, scaled
// down while the count is below twice the threshold.
func (d *Detector) confidence(s *series) float64 {
	return similar(s.attempts) * min(1, float64(len(s.attempts))/float64(2*d.cfg.MinAttempts))
}

func (d *Detector) report(k key, s *series, r *flow.Record, kind analyze.Kind) {
	name := Services[k.port]
	m := s.median
	f := analyze.Finding{
		Detector: "guess", Kind: kind, Src: k.src, Dst: k.dst, Time: r.Start, Index: d.index, Flow: *r,
		Targets: []netip.Addr{k.dst}, Ports: []uint16{k.port}, Attempts: s.count,
	}
	switch kind {
	case Guessing:
		f.Rule = "short accepted connections to one authentication service"
		f.Threshold = float64(d.cfg.MinAttempts)
		f.Value = float64(len(s.attempts))
		f.Score = d.confidence(s)
		f.Note = fmt.Sprintf("%d short %s logins to %s:%d over %s, median %d packets %d bytes %s, %.0f %% of similar size; confidence %.2f",
			len(s.attempts), name, k.dst, k.port, dur(s.last-s.first), m.packets, m.octets, dur(m.ms), 100*similar(s.attempts), f.Score)
	case Compromise:
		ms := r.End - r.Start
		f.Rule = "session after guessing, times the attempts' median"
		f.Threshold = d.cfg.LongFactor
		f.Value = max(float64(r.Packets)/float64(max(m.packets, 1)), float64(ms)/float64(max(m.ms, 1)))
		// A long session after many failures is how SSHCure tells a
		// compromise, but an owner logging in beside the attack looks
		// the same in flows: never more than even odds.
		f.Score = 0.5
		f.Note = fmt.Sprintf("after %d attempts, a %s session of %d packets %d bytes lasting %s (attempts: median %d packets, %s); possible compromise, confidence %.2f",
			s.count, name, r.Packets, r.Octets, dur(ms), m.packets, dur(m.ms), f.Score)
	}
	d.sink(f)
}
