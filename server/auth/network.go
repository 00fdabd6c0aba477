package auth

import (
	"net/netip"
)

// network names the client network a per-IP limit counts: the address
// masked to IPv4Prefix or IPv6Prefix bits (by default the IPv4 address
// itself, and the /64 of an IPv6 one, since any host gets a whole /64).
// IPv4-mapped IPv6 addresses count as IPv4. Something that is not an
// address (a test double, a unix socket) is its own network.
func (s *Service) network(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "raw:" + ip
	}
	addr = addr.Unmap().WithZone("")
	bits := s.cfg.IPv6Prefix
	if addr.Is4() {
		bits = s.cfg.IPv4Prefix
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "raw:" + ip
	}
	return p.String()
}
