package pool

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/state"
)

func rsWith(weight int, alphaCheck, inhibit bool) *config.RealServer {
	rs := &config.RealServer{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: weight, InhibitOnFailure: inhibit}
	if alphaCheck {
		rs.Checks = []*config.Check{{Kind: config.CheckTCP, Alpha: true}}
	}
	return rs
}

var t0 = time.Unix(1_700_000_000, 0)

func healthy() Observation { return Observation{Checked: true, Healthy: true, Weight: check.Unchanged} }
func failing() Observation {
	return Observation{Checked: true, Healthy: false, Weight: check.Unchanged}
}

func TestObserveRiseFall(t *testing.T) {
	s := &state.ServerState{}
	rs := rsWith(3, false, false)
	d := Debounce{Rise: 2, Fall: 3}
	if ev := Observe(s, rs, healthy(), d, t0); ev != EventNone || !s.Up {
		t.Fatalf("a new server without alpha starts up: %v %+v", ev, s)
	}
	for i := 1; i <= 2; i++ {
		if ev := Observe(s, rs, failing(), d, t0); ev != EventNone || !s.Up {
			t.Fatalf("failure %d of fall 3 took it down: %+v", i, s)
		}
	}
	if ev := Observe(s, rs, failing(), d, t0); ev != EventDown || s.Up {
		t.Fatalf("third failure: %v %+v", ev, s)
	}
	Observe(s, rs, healthy(), d, t0)
	Observe(s, rs, failing(), d, t0) // a failure resets the rise count
	if Observe(s, rs, healthy(), d, t0); s.Up {
		t.Fatal("rise 2 counts consecutive passes only")
	}
	if ev := Observe(s, rs, healthy(), d, t0); ev != EventUp || !s.Up {
		t.Fatalf("second consecutive success: %v %+v", ev, s)
	}
	// A pass without a verdict changes nothing.
	before := *s
	if ev := Observe(s, rs, Observation{}, d, t0); ev != EventNone || *s != before {
		t.Errorf("no-verdict pass changed the server: %+v", s)
	}
}

func TestObserveAlphaAndDynamicWeight(t *testing.T) {
	s := &state.ServerState{}
	rs := rsWith(3, true, false)
	if Observe(s, rs, failing(), Debounce{}, t0); s.Up {
		t.Fatal("alpha: starts down and a failure keeps it down")
	}
	if ev := Observe(s, rs, Observation{Checked: true, Healthy: true, Weight: 40}, Debounce{}, t0); ev != EventUp || EffectiveWeight(s, rs) != 40 {
		t.Fatalf("first success with misc_dynamic weight 40: %v weight %d", ev, EffectiveWeight(s, rs))
	}
	Observe(s, rs, healthy(), Debounce{}, t0) // exit 0: configured weight again
	if w := EffectiveWeight(s, rs); w != 3 {
		t.Errorf("misc_dynamic exit 0 restores the configured weight, got %d", w)
	}
}

func TestQuorumHysteresis(t *testing.T) {
	up, down := true, false
	cases := []struct {
		prev *bool
		sum  int
		want bool
		why  string
	}{
		{nil, 5, true, "start: 5 >= 4+1"},
		{nil, 4, false, "start: 4 < 4+1"},
		{&up, 3, true, "up stays up down to quorum-hysteresis (3)"},
		{&up, 2, false, "up goes down below 3"},
		{&up, 0, false, "no live weight is down"},
		{&down, 4, false, "down stays down below quorum+hysteresis (5)"},
		{&down, 5, true, "down comes up at 5"},
	}
	for _, c := range cases {
		if got := QuorumUp(c.prev, c.sum, 4, 1); got != c.want {
			t.Errorf("%s: got %v", c.why, got)
		}
	}
}

func TestPlaceDrainThenDelete(t *testing.T) {
	rs := rsWith(3, false, false)
	s := &state.ServerState{Seen: true, Up: false, Weight: check.Unchanged}
	drain := time.Minute
	p := Place(s, rs, Dest{Present: true, Weight: 3, Conns: 2}, drain, t0)
	if !p.In || p.Weight != 0 || !p.Drain {
		t.Fatalf("failed server with connections: %+v", p)
	}
	p = Place(s, rs, Dest{Present: true, Weight: 0, Conns: 2}, drain, t0.Add(10*time.Second))
	if !p.In || p.Weight != 0 {
		t.Fatalf("still draining with connections: %+v", p)
	}
	p = Place(s, rs, Dest{Present: true, Weight: 0, Conns: 0}, drain, t0.Add(20*time.Second))
	if p.In {
		t.Fatalf("connections gone: must be deleted: %+v", p)
	}
	s.DrainSince = time.Time{}
	Place(s, rs, Dest{Present: true, Weight: 3, Conns: 5}, drain, t0)
	if p := Place(s, rs, Dest{Present: true, Conns: 5}, drain, t0.Add(drain)); p.In {
		t.Fatalf("drain timeout passed: must be deleted: %+v", p)
	}
	inhibit := rsWith(3, false, true)
	if p := Place(s, inhibit, Dest{}, drain, t0); !p.In || p.Weight != 0 {
		t.Errorf("inhibit_on_failure keeps the server at weight 0: %+v", p)
	}
	s.Up = true
	if p := Place(s, rs, Dest{}, drain, t0); !p.In || p.Weight != 3 {
		t.Errorf("healthy: %+v", p)
	}
	s.Maintenance = true
	if p := Place(s, inhibit, Dest{Present: true, Weight: 3, Conns: 1}, drain, t0); !p.In || p.Weight != 0 || !p.Drain {
		t.Errorf("maintenance drains even with inhibit_on_failure: %+v", p)
	}
}
