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
	"strings"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on (comma-separated for several)")
	name := flag.String("name", "", "name to answer with (default: host name)")
	flag.Parse()
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
