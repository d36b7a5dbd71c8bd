package clientkey

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	for _, c := range []struct {
		name, addr, key, prefix string
	}{
		{"IPv4 is per address", "203.0.113.9", "203.0.113.9", "203.0.113.9/32"},
		{"IPv4 neighbour is another client", "203.0.113.10", "203.0.113.10", "203.0.113.10/32"},
		{"IPv4-mapped IPv6 is its IPv4 address", "::ffff:203.0.113.9", "203.0.113.9", "203.0.113.9/32"},
		{"IPv6 is its /64", "2001:db8:1:2::1", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"IPv6 rotated inside the /64", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"IPv6 next /64 is another client", "2001:db8:1:3::1", "2001:db8:1:3::/64", "2001:db8:1:3::/64"},
		{"IPv6 zone is dropped", "fe80::1%eth0", "fe80::/64", "fe80::/64"},
		{"IPv6 loopback", "::1", "::/64", "::/64"},
		{"IPv6 with IPv4 suffix not mapped", "64:ff9b::203.0.113.9", "64:ff9b::/64", "64:ff9b::/64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := netip.MustParseAddr(c.addr)
			if got := Of(a); got != c.key {
				t.Errorf("Of(%s) = %q, want %q", c.addr, got, c.key)
			}
			if got := Prefix(a).String(); got != c.prefix {
				t.Errorf("Prefix(%s) = %q, want %q", c.addr, got, c.prefix)
			}
			if !Prefix(a).Contains(a.Unmap().WithZone("")) {
				t.Errorf("Prefix(%s) does not contain the address", c.addr)
			}
			if got := FromString(c.addr); got != c.key {
				t.Errorf("FromString(%q) = %q, want %q", c.addr, got, c.key)
			}
			if got := FromString(c.key); got != c.key {
				t.Errorf("FromString(key %q) = %q: a key must map to itself", c.key, got)
			}
		})
	}
}

func TestOfIPv4UnchangedText(t *testing.T) {
	// IPv4 keys are byte for byte the address text they were before IPv6 clients were keyed by
	// prefix: rate-limit keys, block list entries and login throttle keys stored by earlier
	// versions keep meaning the same client.
	for _, s := range []string{"0.0.0.0", "10.0.0.1", "127.0.0.1", "198.51.100.255", "255.255.255.255"} {
		a := netip.MustParseAddr(s)
		if got := Of(a); got != a.String() {
			t.Errorf("Of(%s) = %q", s, got)
		}
	}
}

func TestOfZero(t *testing.T) {
	if got := Of(netip.Addr{}); got != "" {
		t.Errorf("Of(zero) = %q, want empty", got)
	}
	if got := Prefix(netip.Addr{}); got.IsValid() {
		t.Errorf("Prefix(zero) = %v, want the zero prefix", got)
	}
}

func TestFromString(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"canonical /64", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"long form /64", "2001:0db8:0001:0002:0000:0000:0000:0000/64", "2001:db8:1:2::/64"},
		{"unmasked /64", "2001:db8:1:2::5/64", "2001:db8:1:2::/64"},
		{"other prefix length kept", "2001:db8::/48", "2001:db8::/48"},
		{"IPv4 prefix kept", "203.0.113.0/24", "203.0.113.0/24"},
		{"not an address", "unknown", "unknown"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FromString(c.in); got != c.want {
				t.Errorf("FromString(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func ExampleOf() {
	for _, s := range []string{"203.0.113.9", "::ffff:203.0.113.9", "2001:db8:1:2::1", "2001:db8:1:2::7"} {
		fmt.Println(s, "->", Of(netip.MustParseAddr(s)))
	}
	// Output:
	// 203.0.113.9 -> 203.0.113.9
	// ::ffff:203.0.113.9 -> 203.0.113.9
	// 2001:db8:1:2::1 -> 2001:db8:1:2::/64
	// 2001:db8:1:2::7 -> 2001:db8:1:2::/64
}
