package config

import "fmt"

// Summary counts what a config holds, for `config check`.
type Summary struct {
	Path           string   `json:"path"`
	Instances      int      `json:"instances"`
	VIPs           int      `json:"vips"`
	VirtualServers int      `json:"virtual_servers"`
	RealServers    int      `json:"real_servers"`
	SorryServers   int      `json:"sorry_servers"`
	Checks         int      `json:"checks"`
	Warnings       []string `json:"warnings,omitempty"`
	Problems       int      `json:"problems,omitempty"`
}

// Summarize counts a config and lists what is legal but probably wrong.
func Summarize(c *Config) Summary {
	s := Summary{Path: c.Path, Instances: len(c.Instances), VirtualServers: len(c.VirtualServers), Problems: c.ProblemCount()}
	for _, w := range c.Warnings {
		s.Warnings = append(s.Warnings, w.String())
	}
	for _, in := range c.Instances {
		s.VIPs += len(in.VIPs)
	}
	for _, vs := range c.VirtualServers {
		s.RealServers += len(vs.RealServers)
		if vs.SorryServer != nil {
			s.SorryServers++
		}
		for _, rs := range vs.RealServers {
			s.Checks += len(rs.Checks)
			if len(rs.OtherChecks) > 0 {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: real_server %s: %v are keepalived checkers kahook sync does not run", rs.Pos, rs.Endpoint(), rs.OtherChecks))
			}
		}
		if len(c.Instances) > 0 && vs.Instance == "" {
			why := "its address is no instance's VIP"
			switch {
			case vs.Group != "":
				why = "no instance's VIP or fwmark is in the group"
			case vs.FWMark != 0:
				why = fmt.Sprintf("no instance lists 'fwmark %d'", vs.FWMark)
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: virtual_server %s belongs to no instance (%s): `ipvs apply` loads it, no transition does", vs.Pos, vs.Name(), why))
		}
	}
	return s
}
