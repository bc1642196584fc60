// Package pool owns the health of an instance's real servers between
// `kahook sync` passes: debouncing check results (rise/fall), keepalived's
// quorum with hysteresis and sorry server, dynamic weights, draining a
// failed server before deleting it, and maintenance files. The decisions
// are pure functions that say why; Pass runs the checks and applies the
// result to IPVS.
package pool

import (
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// Observation is what one pass saw of a real server.
type Observation struct {
	Checked     bool // false: no result this pass (deadline), counters unchanged
	Healthy     bool
	Weight      int // check.Unchanged or a dynamic weight
	Reason      string
	Maintenance bool
}

// Debounce is rise/fall across passes (keepalived's retry happens inside
// a pass, in the checker).
type Debounce struct {
	Rise, Fall int
}

// Event names a change of a server.
type Event string

const (
	EventNone  Event = ""
	EventUp    Event = "up"
	EventDown  Event = "down"
	EventMaint Event = "maintenance"
	EventBack  Event = "maintenance-end"
)

// Observe updates a server's state with one observation. A server seen
// for the first time starts up, unless keepalived would start it down
// (an alpha checker). It returns the event the observation caused.
func Observe(s *state.ServerState, rs *config.RealServer, obs Observation, d Debounce, now time.Time) Event {
	if !s.Seen {
		s.Seen = true
		s.Up = !ipvs.StartsDown(rs)
		s.Weight = check.Unchanged
		s.LastChange = now
	}
	ev := EventNone
	if obs.Maintenance != s.Maintenance {
		s.Maintenance = obs.Maintenance
		s.LastChange = now
		ev = EventBack
		if obs.Maintenance {
			ev = EventMaint
		}
	}
	if !obs.Checked {
		return ev
	}
	s.LastReason = obs.Reason
	if obs.Healthy {
		s.Fall = 0
		// misc_dynamic: exit 0 puts the configured weight back.
		s.Weight = obs.Weight
		if !s.Up {
			s.Rise++
			if s.Rise >= max(d.Rise, 1) {
				s.Up, s.Rise, s.LastChange = true, 0, now
				ev = EventUp
			}
		}
		return ev
	}
	s.Rise = 0
	if s.Up {
		s.Fall++
		if s.Fall >= max(d.Fall, 1) {
			s.Up, s.Fall, s.LastChange = false, 0, now
			ev = EventDown
		}
	}
	return ev
}

// EffectiveWeight is the weight a serving server gets: its dynamic weight
// when a check set one, else the configured one.
func EffectiveWeight(s *state.ServerState, rs *config.RealServer) int {
	if s != nil && s.Weight >= 0 {
		return s.Weight
	}
	return rs.Weight
}

// Serving reports whether a server takes new connections.
func Serving(s *state.ServerState) bool { return s != nil && s.Up && !s.Maintenance }

// QuorumUp is keepalived's update_quorum_state: with no previous state
// the pool is up when the live weight reaches quorum+hysteresis; once up
// it goes down when the weight is 0 or below quorum-hysteresis; once down
// it comes up at quorum+hysteresis.
func QuorumUp(prev *bool, sum, quorum, hysteresis int) bool {
	if prev == nil || !*prev {
		return sum >= quorum+hysteresis
	}
	return sum != 0 && sum >= quorum-hysteresis
}

// Dest is what the kernel holds for a real server, summed over the
// services of its virtual server (a group has several).
type Dest struct {
	Present bool
	Weight  int
	Conns   int // ActiveConn + InActConn
}

// Placement is where a real server goes in the table, and why.
type Placement struct {
	In     bool
	Weight int
	Reason string
	// Drain marks a server kept at weight 0 for its connections.
	Drain bool
}

// Place decides a real server's destination: serving at its weight; a
// failed server with inhibit_on_failure at weight 0; otherwise drained
// (weight 0 while it still has connections, as kube-proxy does) and then
// deleted once its connections reach 0 or drainTimeout has passed since
// the drain began.
func Place(s *state.ServerState, rs *config.RealServer, cur Dest, drainTimeout time.Duration, now time.Time) Placement {
	if Serving(s) {
		s.DrainSince = time.Time{}
		return Placement{In: true, Weight: EffectiveWeight(s, rs), Reason: "healthy"}
	}
	why := "check failed"
	if s != nil && s.Maintenance {
		why = "maintenance"
	}
	if rs.InhibitOnFailure && !(s != nil && s.Maintenance) {
		return Placement{In: true, Weight: 0, Reason: why + ": inhibit_on_failure"}
	}
	if !cur.Present {
		s.DrainSince = time.Time{}
		return Placement{In: false, Reason: why}
	}
	if drainTimeout <= 0 {
		return Placement{In: false, Reason: why + ": removed (no drain)"}
	}
	if cur.Weight > 0 || s.DrainSince.IsZero() {
		if s.DrainSince.IsZero() {
			s.DrainSince = now
		}
		return Placement{In: true, Weight: 0, Drain: true, Reason: why + ": draining"}
	}
	if cur.Conns == 0 {
		s.DrainSince = time.Time{}
		return Placement{In: false, Reason: why + ": drained (no connections left)"}
	}
	if now.Sub(s.DrainSince) >= drainTimeout {
		s.DrainSince = time.Time{}
		return Placement{In: false, Reason: why + ": drain timeout"}
	}
	return Placement{In: true, Weight: 0, Drain: true, Reason: why + ": draining"}
}
