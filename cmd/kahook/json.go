package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/kahook/kahook/check"
	"github.com/kahook/kahook/ipvs"
)

// The --json forms (README "JSON output", issue 17 item 2): values by
// name (protocol "TCP", forward "DR", flags by ipvsadm's names),
// durations in seconds as numbers, [] for an empty list, and a field that
// has no value is null or absent, never a sentinel like -1.

// serviceJSON is a virtual service. Address services have protocol,
// address and port; fwmark services have fwmark.
type serviceJSON struct {
	Protocol           string   `json:"protocol,omitempty"`
	Address            string   `json:"address,omitempty"`
	Port               uint16   `json:"port,omitempty"`
	FWMark             uint32   `json:"fwmark,omitempty"`
	Family             string   `json:"family"` // "inet" or "inet6"
	Scheduler          string   `json:"scheduler"`
	Flags              []string `json:"flags"`
	PersistenceTimeout uint32   `json:"persistence_timeout"`               // seconds; 0 unless "persistent"
	Granularity        string   `json:"persistence_granularity,omitempty"` // only when persistent
	PersistenceEngine  string   `json:"persistence_engine,omitempty"`
}

// destJSON is a destination (real server).
type destJSON struct {
	Address       string `json:"address"`
	Port          uint16 `json:"port"`
	Forward       string `json:"forward"` // DR, NAT, TUN, LOCAL
	Weight        int    `json:"weight"`
	UThreshold    uint32 `json:"uthreshold"`
	LThreshold    uint32 `json:"lthreshold"`
	ActiveConns   int    `json:"active_conns"`
	InactiveConns int    `json:"inactive_conns"`
	// Stats are the counters and rates (ipvs show only).
	Stats *ipvs.Stats `json:"stats,omitempty"`
}

// tableServiceJSON is a service of `ipvs show --json`.
type tableServiceJSON struct {
	serviceJSON
	Stats        *ipvs.Stats `json:"stats,omitempty"`
	Destinations []destJSON  `json:"destinations"`
}

// changeJSON is one IPVS change of `ipvs diff|apply|flush --json`.
type changeJSON struct {
	Op          string      `json:"op"`
	Service     serviceJSON `json:"service"`
	Destination *destJSON   `json:"destination,omitempty"`
	Reason      string      `json:"reason"`
}

func toServiceJSON(s ipvs.Service) serviceJSON {
	k := s.Key
	out := serviceJSON{FWMark: k.FWMark, Family: "inet", Scheduler: s.Sched, Flags: s.FlagNames()}
	if k.Family == 6 {
		out.Family = "inet6"
	}
	if k.FWMark == 0 {
		out.Protocol, out.Address, out.Port = ipvs.ProtoName(k.Protocol), k.Addr.String(), k.Port
	}
	if s.Flags&ipvs.FlagPersistent != 0 {
		out.PersistenceTimeout, out.Granularity, out.PersistenceEngine = s.Timeout, s.Granularity(), s.PEName
	}
	return out
}

func toDestJSON(d *ipvs.Dest) destJSON {
	return destJSON{Address: d.Key.Addr.String(), Port: d.Key.Port, Forward: ipvs.LBKind(d.Fwd), Weight: d.Weight,
		UThreshold: d.UThreshold, LThreshold: d.LThreshold, ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns}
}

func tableJSON(t ipvs.Table) []tableServiceJSON { return tableStatsJSON(t, ipvs.TableStats{}) }

// tableStatsJSON is `ipvs show --json`: with stats when they were read.
func tableStatsJSON(t ipvs.Table, stats ipvs.TableStats) []tableServiceJSON {
	out := []tableServiceJSON{}
	for _, k := range t.Keys() {
		s := tableServiceJSON{serviceJSON: toServiceJSON(t[k].Service), Destinations: []destJSON{}}
		if st, ok := stats.Services[k]; ok {
			s.Stats = &st
		}
		for _, d := range t[k].SortedDests() {
			dj := toDestJSON(d)
			if st, ok := stats.Dests[k][d.Key]; ok {
				dj.Stats = &st
			}
			s.Destinations = append(s.Destinations, dj)
		}
		out = append(out, s)
	}
	return out
}

func changesJSON(changes []ipvs.Change) []changeJSON {
	out := []changeJSON{}
	for _, c := range changes {
		j := changeJSON{Op: string(c.Op), Service: toServiceJSON(c.Service), Reason: c.Reason}
		if c.Dest != nil {
			d := toDestJSON(c.Dest)
			j.Destination = &d
		}
		out = append(out, j)
	}
	return out
}

// checkJSON is one health check's verdict.
type checkJSON struct {
	Check    string  `json:"check"`
	Healthy  bool    `json:"healthy"`
	Weight   *int    `json:"weight"` // null unless the check yields one (agent, HTTP --weight-from, misc_dynamic)
	Reason   string  `json:"reason"`
	Latency  float64 `json:"latency_seconds"`
	ExitCode int     `json:"exit_code"`
}

func toCheckJSON(name string, r check.Result, code int) checkJSON {
	out := checkJSON{Check: name, Healthy: r.Healthy, Reason: r.Reason, Latency: seconds64(r.Latency), ExitCode: code}
	if r.Weight != check.Unchanged {
		w := r.Weight
		out.Weight = &w
	}
	return out
}

func seconds64(d time.Duration) float64 { return d.Seconds() }

// emptyIfNil makes a nil list print as [] instead of null.
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// durationKeys are the config model's duration fields (time.Duration,
// nanoseconds in Go's encoding), printed in seconds by `config check
// --json`.
var durationKeys = map[string]bool{
	"garp_master_delay": true, "garp_master_refresh": true, "garp_interval": true,
	"persistence_timeout": true, "delay_loop": true, "connect_timeout": true,
	"delay_before_retry": true, "warmup": true, "misc_timeout": true,
}

// printJSONSeconds prints v as JSON with the values of durationKeys
// turned from nanoseconds into seconds, keeping the order of the fields.
func printJSONSeconds(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out bytes.Buffer
	if err := convertDurations(dec, &out, ""); err != nil {
		return err
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, out.Bytes(), "", "  "); err != nil {
		return err
	}
	ind.WriteByte('\n')
	_, err = w.Write(ind.Bytes())
	return err
}

// convertDurations copies one JSON value from dec to out; key is the
// object key the value belongs to.
func convertDurations(dec *json.Decoder, out *bytes.Buffer, key string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t != '{' && t != '[' {
			return fmt.Errorf("unexpected %v", t)
		}
		out.WriteString(t.String())
		for i := 0; dec.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			k := ""
			if t == '{' {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ = kt.(string)
				enc, _ := json.Marshal(k)
				out.Write(enc)
				out.WriteByte(':')
			}
			if err := convertDurations(dec, out, k); err != nil {
				return err
			}
		}
		end, err := dec.Token()
		if err != nil {
			return err
		}
		out.WriteString(end.(json.Delim).String())
	case json.Number:
		if !durationKeys[key] {
			out.WriteString(t.String())
			break
		}
		ns, err := t.Int64()
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		fmt.Fprint(out, time.Duration(ns).Seconds())
	default:
		enc, err := json.Marshal(t)
		if err != nil {
			return err
		}
		out.Write(enc)
	}
	return nil
}
