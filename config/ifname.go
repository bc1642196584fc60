package config

import (
	"fmt"
	"strconv"
)

// IFNameSize is the kernel's IFNAMSIZ: an interface name is at most 15
// bytes plus the terminating NUL.
const IFNameSize = 16

// ValidIfName applies the Linux kernel's dev_valid_name (net/core/dev.c)
// to an interface name: 1..15 bytes, not "." or "..", and no '/', ':' or
// whitespace; kahook also refuses other control characters. Interface
// names become paths (/proc/sys/net/ipv4/conf/IFACE/...) and words on
// the wire and in logs, so a name the kernel could never have given an
// interface ("../../x") is refused where it is read (config `interface`,
// virtual_ipaddress `dev`, every --interface/--dev flag), never used.
func ValidIfName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) >= IFNameSize:
		return fmt.Errorf("interface name %s is %d bytes: Linux allows at most %d", strconv.Quote(name), len(name), IFNameSize-1)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not a valid Linux interface name", name)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/' || c == ':':
			return fmt.Errorf("interface name %s contains %q: not a valid Linux interface name", strconv.Quote(name), c)
		case c == ' ' || c < 0x20 || c == 0x7f:
			return fmt.Errorf("interface name %s contains whitespace or a control character: not a valid Linux interface name", strconv.Quote(name))
		}
	}
	return nil
}
