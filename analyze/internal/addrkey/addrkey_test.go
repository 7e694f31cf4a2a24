package addrkey

import (
	"net/netip"
	"testing"
)

func TestOfIsThe16ByteForm(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if Of(a) == Of(netip.MustParseAddr("::ffff:10.0.0.2")) || Of(b) != Of(netip.MustParseAddr("::ffff:10.0.0.2")) {
		t.Fatal("keys are the 16-byte form")
	}
}

func TestAddrMapFamilies(t *testing.T) {
	m := NewAddrMap[int]()
	v4, mapped, v6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	m.Set(v4, 1)
	m.Set(v6, 2)
	if v, ok := m.Get(v4); !ok || v != 1 {
		t.Fatal("IPv4 key")
	}
	if v, ok := m.Get(v6); !ok || v != 2 {
		t.Fatal("IPv6 key")
	}
	if _, ok := m.Get(mapped); ok {
		t.Fatal("an IPv4-mapped IPv6 address is not the IPv4 address (netip.Addr equality)")
	}
	m.Set(mapped, 3)
	if v, _ := m.Get(v4); v != 1 || m.Len() != 3 {
		t.Fatal("mapped address overwrote the IPv4 one")
	}
	m.DeleteFunc(func(v int) bool { return v != 2 })
	if _, ok := m.Get(v6); !ok || m.Len() != 1 {
		t.Fatal("DeleteFunc")
	}
	m.Clear()
	if m.Len() != 0 {
		t.Fatal("Clear")
	}
}

func TestAddrMapAll(t *testing.T) {
	m := NewAddrMap[int]()
	want := map[netip.Addr]int{}
	for i, s := range []string{"10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0", "::"} {
		a := netip.MustParseAddr(s)
		m.Set(a, i)
		want[a] = i
	}
	got := map[netip.Addr]int{}
	for a, v := range m.All() {
		got[a] = v
	}
	if len(got) != len(want) {
		t.Fatalf("All gave %v, want %v", got, want)
	}
	for a, v := range want {
		if got[a] != v {
			t.Fatalf("All gave %v, want %v", got, want)
		}
	}
}

// DeleteFuncAddr shows each entry once with its own address, both
// families, and removes what it accepts.
func TestAddrMapDeleteFuncAddr(t *testing.T) {
	m := NewAddrMap[int]()
	addrs := []string{"10.0.0.1", "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0", "::", "192.0.2.7"}
	for i, s := range addrs {
		m.Set(netip.MustParseAddr(s), i)
	}
	seen := map[netip.Addr]int{}
	m.DeleteFuncAddr(func(a netip.Addr, v int) bool {
		seen[a] = v
		return v%2 == 0
	})
	for i, s := range addrs {
		a := netip.MustParseAddr(s)
		if v, ok := seen[a]; !ok || v != i {
			t.Fatalf("%s: shown as %d, %v; want %d", s, v, ok, i)
		}
		if _, ok := m.Get(a); ok != (i%2 == 1) {
			t.Fatalf("%s (value %d): still held %v", s, i, ok)
		}
	}
	if len(seen) != len(addrs) || m.Len() != 3 {
		t.Fatalf("shown %d entries, %d left", len(seen), m.Len())
	}
}
