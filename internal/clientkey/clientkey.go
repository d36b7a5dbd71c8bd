// Package clientkey derives the key under which the per-client defenses count a client: the
// anonymous rate limit, the threat scorer's history, the block list, the login throttle per
// address and the rate-limit escalation. The server resolves the client's exact address (the
// socket peer, or Fly-Client-IP from a trusted proxy); audit records, incidents, honeypot
// triggers and logs keep that exact address as evidence of who it was, and every limit uses the
// key derived from it here.
//
// An IPv4 client is its address. An IPv6 client is the /64 that holds its address: the /64 is
// the smallest block an ISP or a cloud provider assigns to one customer (RFC 6177 and RFC 7421:
// a subnet is a /64, a site gets a /48 to /56), and its owner picks the low 64 bits at will
// (SLAAC privacy addresses change them daily; a server can bind millions of them). Counting
// per /128 would give one client 2^64 fresh rate-limit buckets, scorer histories and block
// list entries, and let it fill the block list until real attackers could no longer be blocked.
// Counting per /64 treats a subscriber as one client, as IPv4 treats one address, which may
// also be shared (NAT); counting a wider prefix would lump unrelated customers together.
package clientkey

import "net/netip"

// IPv6Bits is the length of the prefix that identifies an IPv6 client.
const IPv6Bits = 64

// Prefix returns the addresses that count as the same client as a: a alone (a /32) for IPv4 and
// for an IPv4-mapped IPv6 address, which is unmapped; its /64 for any other IPv6 address. The
// zone of a scoped address is dropped. The zero Addr gives the zero Prefix.
func Prefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(IPv6Bits) // cannot fail: a is a valid IPv6 address and 64 <= 128
	return p
}

// Of returns the key of the client at a, as text: the address for IPv4 ("203.0.113.9", the
// same text as a.String(), so IPv4 keys are what they always were) and for an IPv4-mapped IPv6
// address ("::ffff:203.0.113.9" gives "203.0.113.9"); the /64 in prefix notation for IPv6
// ("2001:db8:1:2::7" gives "2001:db8:1:2::/64"). The zero Addr gives "". It allocates the text:
// callers on the request path compute it once per address and keep it.
func Of(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return Prefix(a).String()
}

// FromString is Of for the text of an address, for callers handed an address as a string (the
// login throttle, the block list). A key is returned as it is: an IPv6 prefix of IPv6Bits bits
// is returned in its canonical form ("2001:db8:1:2:0:0:0:0/64" and "2001:db8:1:2::5/64" give
// "2001:db8:1:2::/64"). Any other text (not an address, a prefix of another length) is returned
// unchanged, so that a caller keeps counting it under some key.
func FromString(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return Of(a)
	}
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == IPv6Bits {
		return p.Masked().String()
	}
	return s
}
