package cli

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// freeAddr is a loopback address nobody listens on, for an omsd child
// process to bind. It is picked below the kernel's ephemeral range
// (32768-60999 here): a port the kernel hands out for ":0" comes from
// that range, which every outgoing connection of the parallel test
// packages also draws from, and one took such a port between its check
// and the child's bind (bind: address already in use) in CI.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use
		}
		_ = ln.Close()
		return addr
	}
	t.Fatal("no free loopback port in 20000-31999 after 100 tries")
	return ""
}
