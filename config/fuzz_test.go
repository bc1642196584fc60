package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text through the lexer, the tree builder and
// the typed model: none may panic, and an accepted config must hold the
// invariants the rest of kahook relies on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(classicConfig))
	f.Add([]byte("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 { weight 2 }\n}\n"))
	f.Add([]byte("$A=1\n@x virtual_server fwmark $A {\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.conf", data, Options{ConfigID: "x"})
		if err != nil {
			if !IsConfigError(err) {
				t.Fatalf("error without position: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, vs := range cfg.VirtualServers {
			if (vs.FWMark == 0 && vs.Group == "" && vs.Protocol == "") || vs.LBAlgo == "" || vs.LBKind == "" || len(vs.RealServers) == 0 {
				t.Fatalf("virtual server without defaults: %+v", vs)
			}
			for _, rs := range vs.RealServers {
				if rs.Weight < 0 || rs.Weight > MaxWeight || !rs.Addr.IsValid() {
					t.Fatalf("bad real server: %+v", rs)
				}
			}
		}
		for _, in := range cfg.Instances {
			if in.Interface == "" {
				t.Fatalf("instance without interface: %+v", in)
			}
		}
	})
}
