// Command labweb is the lab's real server: it answers every HTTP request
// with its own name, so a client can tell which server it reached. Used
// by the tests and `make demo`; it is not shipped.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on (comma-separated for several)")
	name := flag.String("name", "", "name to answer with (default: host name)")
	hold := flag.String("hold", "", "client mode: connect to HOST:PORT, hold the connection until SIGTERM, then reset it")
	flag.Parse()
	if *hold != "" {
		holdConn(*hold)
		return
	}
	if *name == "" {
		*name, _ = os.Hostname()
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", *name)
		fmt.Fprintln(w, *name)
	})
	addrs := strings.Split(*listen, ",")
	errs := make(chan error, len(addrs))
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- http.Serve(l, h) }()
	}
	log.Fatal(<-errs)
}

// holdConn keeps one TCP connection open and ends it with a reset
// (SO_LINGER 0), so IPVS forgets it in seconds rather than keeping it in
// TIME_WAIT for two minutes.
func holdConn(addr string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected", c.LocalAddr())
	<-sig
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}
