// Command labweb is the lab's real server: it answers every HTTP request
// with its own name, so a client can tell which server it reached. Used
// by the tests and `make demo`; it is not shipped.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on (comma-separated for several)")
	name := flag.String("name", "", "name to answer with (default: host name)")
	hold := flag.String("hold", "", "client mode: connect to HOST:PORT, hold the connection until SIGTERM, then reset it")
	probe := flag.String("probe", "", "client mode: GET this URL every -interval until SIGTERM, one line per request")
	interval := flag.Duration("interval", 20*time.Millisecond, "probe interval")
	timeout := flag.Duration("timeout", 200*time.Millisecond, "probe request timeout")
	keep := flag.String("keep", "", "client mode: open -conns keep-alive HTTP connections to HOST:PORT, GET / on each every -interval until SIGTERM, one line per answer; a connection that fails is never reopened")
	conns := flag.Int("conns", 20, "connections of -keep")
	flag.Parse()
	if *keep != "" {
		keepLoop(*keep, *conns, *interval, *timeout)
		return
	}
	if *hold != "" {
		holdConn(*hold)
		return
	}
	if *probe != "" {
		probeLoop(*probe, *interval, *timeout)
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

// probeLoop prints "UNIXNANO NAME" for each answer and "UNIXNANO -" for
// each failure: the lab reads the longest run of failures as the outage
// the client saw. A new connection per request, like a fresh client.
func probeLoop(url string, interval, timeout time.Duration) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		start := time.Now()
		name := "-"
		if resp, err := client.Get(url); err == nil {
			buf := make([]byte, 64)
			n, _ := resp.Body.Read(buf)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				name = strings.TrimSpace(string(buf[:n]))
			}
		}
		fmt.Printf("%d %s\n", start.UnixNano(), name)
		select {
		case <-sig:
			return
		case <-tick.C:
		}
	}
}

// keepLoop holds n HTTP/1.1 keep-alive connections and prints
// "UNIXNANO CONN NAME" for each answer and "UNIXNANO CONN - ERROR" when a
// connection fails; a failed connection is never reopened, so the lab
// counts which of the original connections survive a failover. Each
// request may take up to timeout (TCP retransmits across the failover).
func keepLoop(addr string, n int, interval, timeout time.Duration) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format, args...)
	}
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			say("%d %d - %v\n", time.Now().UnixNano(), i, err)
			continue
		}
		go func() {
			r := bufio.NewReader(c)
			for {
				c.SetDeadline(time.Now().Add(timeout))
				resp, err := func() (*http.Response, error) {
					if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
						return nil, err
					}
					return http.ReadResponse(r, nil)
				}()
				if err != nil {
					say("%d %d - %v\n", time.Now().UnixNano(), i, err)
					c.Close()
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					say("%d %d - status %d %v\n", time.Now().UnixNano(), i, resp.StatusCode, err)
					c.Close()
					return
				}
				say("%d %d %s\n", time.Now().UnixNano(), i, strings.TrimSpace(string(body)))
				time.Sleep(interval)
			}
		}()
	}
	<-sig
}
