package lab

import (
	"strings"
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var answers []Answer
	for ms := 0; ms < 2000; ms += 20 {
		srv := []string{"rs1", "rs2"}[ms/20%2]
		if ms >= 800 && ms < 1200 {
			srv = "" // the outage
		}
		if ms == 1300 {
			srv = ""
		}
		answers = append(answers, Answer{At: at(ms), Server: srv})
	}
	samples := []Sample{{At: at(0), Director: "a"}, {At: at(900), Director: ""}, {At: at(1200), Director: "b"}}
	marks := []Mark{{At: at(700), Text: "kill a"}, {At: at(1200), Text: "b MASTER"}, {At: at(1250), Text: "GARP"}}
	got := Timeline(at(0), at(2000), 100*time.Millisecond, answers, samples, marks)
	want := strings.Join([]string{
		"time      |0s       |1s",
		"director  aaaaaaaaa???bbbbbbbb",
		"answers   ########xxxx#!######",
		"                 ^kill a",
		"                      ^b MASTER",
		"                      ^GARP",
		"",
	}, "\n")
	if got != want {
		t.Errorf("timeline:\n%s\nwant:\n%s", got, want)
	}
	if got := Timeline(at(0), at(0), time.Second, nil, nil, nil); got != "" {
		t.Errorf("empty window: %q", got)
	}
}

func TestSnapshotTable(t *testing.T) {
	s := Snapshot{
		ARP:       []string{"a"},
		Neighbour: "a",
		VIP:       map[string]bool{"a": true, "b": false},
		IPVS:      map[string]bool{"a": true, "b": false},
		Sysctls:   map[string]string{"a": "arp_ignore=0 arp_announce=2", "b": "arp_ignore=0 arp_announce=2"},
		State:     map[string]string{"a": "MASTER", "b": "BACKUP"},
	}
	want := strings.Join([]string{
		"node   state    VIP  IPVS  answers ARP   sysctls (effective on eth0)",
		"a      MASTER   yes  yes   yes           arp_ignore=0 arp_announce=2",
		"b      BACKUP   no   no    no            arp_ignore=0 arp_announce=2",
		"client's neighbour entry for " + VIP + " -> a",
	}, "\n")
	if got := s.Table([]string{"a", "b"}); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(s.Table([]string{"a", "b"}), "map[") {
		t.Error("the table prints a Go map")
	}
}
