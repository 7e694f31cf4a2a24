package samples

import (
	"fmt"
	"net/netip"

	"github.com/flowsift/flowsift/flow"
)

// BackgroundFlows is how many probes each background source sends (see
// Config.BackgroundSources): under every scan threshold of the detectors
// (flow-dscan's destinations, TRW's four failures in a row), so that such a
// source is radiation to be counted, never a scanner to be listed.
const BackgroundFlows = 3

// bgBlocks are the /8s fresh background sources are drawn from, one after
// the other, 2^24 addresses each. None is private or a documentation
// range, so the site's local networks never contain one.
var bgBlocks = []byte{45, 77, 91, 109, 176, 185, 193, 212}

// background adds n sources never seen before, each sending
// BackgroundFlows unanswered TCP SYNs to random local addresses on the
// ports worms look for, within a minute: Internet background radiation
// as a busy uplink receives it, millions of distinct sources a day.
func (g *gen) background(n int) error {
	// Half the blocks' addresses: the ones skipped (.0, .255, the pool's)
	// are far fewer, so the counter never runs past the last block.
	if n > len(bgBlocks)<<23 {
		return fmt.Errorf("samples: at most %d background sources, got %d", len(bgBlocks)<<23, n)
	}
	pool := make(map[netip.Addr]bool, len(g.ext))
	for _, e := range g.ext {
		pool[e] = true
	}
	ports := []uint16{22, 23, 80, 443, 445, 1433, 3389, 5060, 5900, 6379, 8080, 8443}
	next := uint32(0)
	for range n {
		var src netip.Addr
		for {
			// An odd multiplier permutes the 24 host bits, so sources
			// are spread over the block yet never repeat.
			i := next
			next++
			host := (i & 0xff_ffff) * 0x9E3779 & 0xff_ffff
			src = flow.AddrFromU32(uint32(bgBlocks[i>>24])<<24 | host)
			if last := host & 0xff; last != 0 && last != 255 && !pool[src] {
				break
			}
		}
		t := g.when()
		for k := range BackgroundFlows {
			dst := netip.AddrFrom4([4]byte{10, 20, byte(g.r.IntN(4)), byte(1 + g.r.IntN(254))})
			g.add(t+int64(k)*int64(g.r.IntN(20_000)), 0, src, dst, uint16(1024+g.r.IntN(60000)),
				ports[g.r.IntN(len(ports))], 6, 1, 44, flow.TCPSyn)
		}
	}
	return nil
}
