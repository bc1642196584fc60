// Command gofloor is the floor of a Go program's start, for `make bench`
// (issue 18: `kahook check tcp` against bash's /dev/tcp). Without an
// argument it exits at once: the Go runtime's own start and exit. With
// IP:PORT it connects through net.Dialer (5 s timeout) and exits 0, or 1
// when the connect fails: the least a Go TCP check can do. Test tooling,
// not shipped.
package main

import (
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	c, err := net.DialTimeout("tcp", os.Args[1], 5*time.Second)
	if err != nil {
		os.Exit(1)
	}
	_ = c.Close()
}
