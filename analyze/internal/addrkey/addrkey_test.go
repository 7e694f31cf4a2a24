package addrkey

import (
	"net/netip"
	"testing"
)

func TestPairMapOrderedIPv4AndIPv6(t *testing.T) {
	m := NewPairMap[int]()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	x, y := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	m.Set(a, b, 1)
	m.Set(x, y, 2)
	m.Set(a, y, 3) // mixed families go to the 16-byte keys
	if v, ok := m.Get(a, b); !ok || v != 1 {
		t.Fatal("IPv4 pair")
	}
	if _, ok := m.Get(b, a); ok {
		t.Fatal("pairs are ordered")
	}
	if v, ok := m.Get(x, y); !ok || v != 2 {
		t.Fatal("IPv6 pair")
	}
	if v, ok := m.Get(a, y); !ok || v != 3 {
		t.Fatal("mixed pair")
	}
	if Of(a) == Of(netip.MustParseAddr("::ffff:10.0.0.2")) || Of(b) != Of(netip.MustParseAddr("::ffff:10.0.0.2")) {
		t.Fatal("keys are the 16-byte form")
	}
	m.Clear()
	if _, ok := m.Get(a, b); ok {
		t.Fatal("Clear")
	}
}

func TestPairMapPutReportsNewPairs(t *testing.T) {
	m := NewPairMap[int]()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	x := netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		a, b  netip.Addr
		v     int
		added bool
	}{{a, b, 1, true}, {a, b, 2, false}, {b, a, 3, true}, {a, x, 4, true}, {a, x, 5, false}} {
		if got := m.Put(tc.a, tc.b, tc.v); got != tc.added {
			t.Errorf("Put(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.added)
		}
		if v, ok := m.Get(tc.a, tc.b); !ok || v != tc.v {
			t.Errorf("Get(%v, %v) = %d, %v after Put %d", tc.a, tc.b, v, ok, tc.v)
		}
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
