//go:build vm

package ipvs_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
)

// TestVMBatchedWriterLoadsWhatMobyLoads (issue 18): the batched writer
// (many requests per send) and moby/ipvs (one request per change) make
// the same tables from the same plans: varied configs (every scheduler
// and its flags, persistence with timeout and granularity, fwmark, IPv6,
// UDP/SCTP, NAT/DR/TUN, thresholds; the fixed keepalived regression
// cases and generated ones) loaded from empty, then changed (services
// updated and deleted, destinations added, updated and deleted), plus
// rules the kernel refuses. After each step `ipvsadm -Sn`, kahook's read
// of the table, and what each path reports done and refused (with the
// kernel's errors) must be the same.
func TestVMBatchedWriterLoadsWhatMobyLoads(t *testing.T) {
	seed := ipvs.DiffSeed(t)
	texts := map[string]string{}
	files, _ := filepath.Glob("testdata/keepalived-diff/*.conf")
	files = append(files, "testdata/all-features.conf")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts["fixed/"+filepath.Base(f)] = string(data)
	}
	// Eight generated configs whose table has two rules or more: a table
	// of one rule (one service, its only real server down at start) is
	// loaded by a single change, which never reaches the batched writer.
	for s, n := seed, 0; n < 8; s++ {
		text := ipvs.GenConfig(s)
		if rules(t, text) < 2 {
			continue
		}
		texts["seed/"+strconv.FormatInt(s, 10)] = text
		n++
	}
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse(name, []byte(text), config.Options{ConfigID: "batch"})
			if err != nil {
				t.Fatal(err)
			}
			first, err := ipvs.Desired(cfg.VirtualServers, cfg.Groups, ipvs.StartMembers)
			if err != nil {
				t.Fatal(err)
			}
			compareWriters(t, first, changed(first))
		})
	}
	t.Run("refused", func(t *testing.T) {
		compareWriters(t, refusing(), changed(refusing()))
	})
}

// compareWriters loads first and then second (deleting what second
// lacks) through both writers, each in a namespace of its own.
func compareWriters(t *testing.T, first, second ipvs.Table) {
	t.Helper()
	moby := loadSteps(t, false, first, second)
	batched := loadSteps(t, true, first, second)
	for i := range moby {
		m, b := moby[i], batched[i]
		if m.changes < 2 {
			t.Errorf("step %d: %d changes: the batched writer is not used", i, m.changes)
		}
		if m.rules != b.rules {
			t.Errorf("step %d: ipvsadm -Sn differs:\n--- moby/ipvs\n%s\n--- batched\n%s", i, m.rules, b.rules)
		}
		if !reflect.DeepEqual(m.table, b.table) {
			t.Errorf("step %d: the tables read back differ:\n--- moby/ipvs\n%s\n--- batched\n%s", i, list(m.table), list(b.table))
		}
		if m.report != b.report {
			t.Errorf("step %d: done/refused differ:\n--- moby/ipvs\n%s\n--- batched\n%s", i, m.report, b.report)
		}
	}
}

type stepResult struct {
	changes int
	rules   string
	table   ipvs.Table
	report  string
}

func loadSteps(t *testing.T, batched bool, tables ...ipvs.Table) []stepResult {
	l := newLVS(t)
	var out []stepResult
	var managed []ipvs.ServiceKey
	for _, want := range tables {
		var r stepResult
		err := l.Do(func() error {
			h, err := ipvs.Open()
			if err != nil {
				return err
			}
			defer h.Close()
			var k ipvs.Kernel = h.Handle // moby/ipvs, one request per change
			if batched {
				k = h
			}
			ctx := context.Background()
			cur, err := ipvs.Read(ctx, h)
			if err != nil {
				return err
			}
			changes := ipvs.Plan(want, cur, managed)
			r.changes = len(changes)
			done, refused, aerr := ipvs.Apply(ctx, k, changes)
			var b strings.Builder
			for _, c := range done {
				fmt.Fprintln(&b, "done", c)
			}
			for _, c := range refused {
				fmt.Fprintln(&b, "refused", c)
			}
			fmt.Fprintln(&b, "err", aerr)
			r.report = b.String()
			r.table, err = ipvs.Read(ctx, h)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r.rules = l.rules()
		out = append(out, r)
		managed = want.Keys() // in order, as PlanLoad sorts them
	}
	return out
}

func list(t ipvs.Table) string {
	var b strings.Builder
	ipvs.WriteList(&b, t)
	return b.String()
}

// changed is t with every third service left out, every other one's
// persistence changed, and per service its first destination left out,
// the others' weights and thresholds changed and a destination added.
func changed(t ipvs.Table) ipvs.Table {
	out := ipvs.Table{}
	for i, k := range t.Keys() {
		if i%3 == 2 {
			continue
		}
		e := t[k]
		s := e.Service
		if i%2 == 0 && s.Sched != "nosuch" {
			s.Flags |= ipvs.FlagPersistent
			s.Timeout += 17
			if s.Netmask == 0 {
				s.Netmask = 0xffffffff
				if k.Family == 6 {
					s.Netmask = 128
				}
			}
		}
		ne := &ipvs.Entry{Service: s, Dests: map[ipvs.DestKey]*ipvs.Dest{}}
		for j, d := range e.SortedDests() {
			if j == 0 {
				continue
			}
			c := *d
			c.Weight++
			if c.UThreshold != 0 {
				c.UThreshold++
			}
			ne.Dests[c.Key] = &c
		}
		add := netip.MustParseAddr("10.99.0.1")
		if k.Family == 6 {
			add = netip.MustParseAddr("2001:db8:99::1")
		}
		dk := ipvs.DestKey{Addr: add, Port: 8080}
		ne.Dests[dk] = &ipvs.Dest{Key: dk, Weight: 3, Fwd: ipvs.FwdRoute}
		out[k] = ne
	}
	return out
}

// refusing is a table whose every third rule the kernel refuses: a
// service with an unknown scheduler (its destinations then skipped) and
// destinations whose lower threshold exceeds the upper (ERANGE), among
// services and destinations it takes.
func refusing() ipvs.Table {
	t := ipvs.Table{}
	for i := range 12 {
		k := ipvs.ServiceKey{Family: 4, Protocol: ipvs.ProtoTCP, Addr: netip.AddrFrom4([4]byte{10, 70, 0, byte(i + 1)}), Port: 80}
		s := ipvs.Service{Key: k, Sched: "wrr", Netmask: 0xffffffff}
		if i%3 == 1 {
			s.Sched = "nosuch"
		}
		e := &ipvs.Entry{Service: s, Dests: map[ipvs.DestKey]*ipvs.Dest{}}
		for j := range 5 {
			dk := ipvs.DestKey{Addr: netip.AddrFrom4([4]byte{10, 71, byte(i), byte(j + 1)}), Port: 80}
			d := &ipvs.Dest{Key: dk, Weight: j + 1, Fwd: ipvs.FwdRoute}
			if j == 2 {
				d.UThreshold, d.LThreshold = 5, 9
			}
			e.Dests[dk] = d
		}
		t[k] = e
	}
	return t
}

// rules is how many services and destinations the table of a generated
// config holds at start.
func rules(t *testing.T, text string) int {
	t.Helper()
	cfg, err := config.Parse("gen", []byte(text), config.Options{ConfigID: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	table, err := ipvs.Desired(cfg.VirtualServers, cfg.Groups, ipvs.StartMembers)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range table {
		n += 1 + len(e.Dests)
	}
	return n
}
