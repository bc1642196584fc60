package ipvs

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

// TestDecodeManagedAgreesWithJSON (issue 18): the managed-services file
// read without reflection means what encoding/json reads in it. Files
// saveManaged writes are read by the fast path; for any other text the
// fast path either gives json.Unmarshal's entries or declines (and
// loadManaged then uses json.Unmarshal).
func TestDecodeManagedAgreesWithJSON(t *testing.T) {
	written := [][]managedEntry{
		{},
		{{Key: ServiceKey{Family: 4, Protocol: ProtoTCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Owner: "VI_1"}},
		{
			{Key: ServiceKey{FWMark: 4294967295, Family: 6}},
			{Key: ServiceKey{Family: 6, Protocol: ProtoUDP, Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 65535}, Owner: "a b"},
			{Key: ServiceKey{Family: 4, Protocol: ProtoSCTP, Addr: netip.MustParseAddr("192.0.2.1")}, Owner: "VI_2"},
			{Key: ServiceKey{FWMark: 1, Family: 4}, Owner: ""},
		},
	}
	var inputs []string
	for _, list := range written {
		indented, err := json.MarshalIndent(list, "", " ") // as saveManaged
		if err != nil {
			t.Fatal(err)
		}
		t.Run("written/"+string(indented), func(t *testing.T) {
			got, ok := decodeManaged(indented)
			if !ok {
				t.Fatalf("the fast path declines a file saveManaged writes:\n%s", indented)
			}
			if !reflect.DeepEqual(got, list) {
				t.Fatalf("got %+v, want %+v", got, list)
			}
		})
		compact, _ := json.Marshal(list)
		inputs = append(inputs, string(indented), string(compact))
	}
	inputs = append(inputs,
		`null`, `[]`, ` [ ] `, `[] x`, `[`, `[{}]`, `[{},]`, `[null]`, `{}`, `"x"`, ``,
		`[{"owner":"x","key":{"port":80,"addr":"10.0.0.1","family":4}}]`,
		`[{"key":{"family":4,"family":6}}]`,
		`[{"Key":{"Family":4}}]`,
		`[{"key":{"family":4},"extra":1}]`,
		`[{"key":{"family":-4}}]`,
		`[{"key":{"family":04}}]`,
		`[{"key":{"family":0}}]`,
		`[{"key":{"family":4.0}}]`,
		`[{"key":{"family":4e0}}]`,
		`[{"key":{"port":65536}}]`,
		`[{"key":{"port":65535}}]`,
		`[{"key":{"fwmark":4294967296}}]`,
		`[{"key":{"protocol":"6"}}]`,
		`[{"key":{"addr":""}}]`,
		`[{"key":{"addr":"10.0.0.256"}}]`,
		`[{"key":{"addr":"::ffff:10.0.0.1"}}]`,
		`[{"key":{"addr":null}}]`,
		`[{"key":null,"owner":null}]`,
		`[{"owner":"a\"b"}]`,
		`[{"owner":"a\u0041"}]`,
		"[{\"owner\":\"caf\xc3\xa9\"}]",
		"[{\"owner\":\"\xff\"}]",
		"[{\"owner\":\"a\tb\"}]",
		"[\r\n\t{\"owner\" : \"x\" } ]",
	)
	check := func(t *testing.T, in string) {
		t.Helper()
		got, ok := decodeManaged([]byte(in))
		if !ok {
			return // loadManaged uses json.Unmarshal
		}
		var want []managedEntry
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%q: the fast path reads %+v, encoding/json refuses it: %v", in, got, err)
		}
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: the fast path reads %+v, encoding/json %+v", in, got, want)
		}
	}
	for _, in := range inputs {
		t.Run("text/"+in, func(t *testing.T) { check(t, in) })
	}
	t.Run("mutated", func(t *testing.T) {
		// Written files with bytes replaced, inserted or deleted.
		r := rand.New(rand.NewPCG(18, 2))
		alphabet := []byte(" \t\n{}[]:,\"\\-+.eE0123456789abcdefx%")
		for range 20000 {
			b := []byte(inputs[r.IntN(len(inputs))])
			for range 1 + r.IntN(3) {
				i := 0
				if len(b) > 0 {
					i = r.IntN(len(b))
				}
				c := alphabet[r.IntN(len(alphabet))]
				switch r.IntN(3) {
				case 0:
					if len(b) > 0 {
						b[i] = c
					}
				case 1:
					b = append(b[:i], append([]byte{c}, b[i:]...)...)
				default:
					if len(b) > 0 {
						b = append(b[:i], b[i+1:]...)
					}
				}
			}
			check(t, string(b))
		}
	})
}
