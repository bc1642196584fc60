package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kahook/kahook/config"
	"github.com/kahook/kahook/ipvs"
	"github.com/kahook/kahook/state"
)

// failingApplyIPVS plans as fakeIPVS does and fails every apply.
type failingApplyIPVS struct{ fakeIPVS }

func (f failingApplyIPVS) ApplyLoad(context.Context, *ipvs.LoadPlan, []*config.VirtualServer) (int, error) {
	return 0, errors.New("setsockopt: no IPVS")
}

// outcomeEngine is an engine over fakes with a state dir of its own; log
// is where its lines go.
func outcomeEngine(t *testing.T, ipvsImpl IPVS, dryRun bool, log *bytes.Buffer) (*Engine, *config.Instance) {
	t.Helper()
	in := &config.Instance{Name: "VI_1", Interface: "eth0",
		VIPs:   []config.VIP{{Prefix: netip.MustParsePrefix("10.9.0.100/32"), Dev: "lo"}},
		Master: config.Actions{VIP: true, Sysctl: config.RoleDirector, IPVS: config.IPVSLoad}}
	cfg := &config.Config{Instances: []*config.Instance{in},
		VirtualServers: []*config.VirtualServer{{Instance: "VI_1", Addr: netip.MustParseAddrPort("10.9.0.100:80")}}}
	j := &journal{}
	dir := filepath.Join(t.TempDir(), "state") // created root-only by the engine
	return &Engine{Cfg: cfg, VIPs: fakeVIPs{j}, Sysctl: fakeSysctls{j}, IPVS: ipvsImpl,
		Announce: fakeAnnouncer{j}, Log: slog.New(slog.NewTextHandler(log, nil)), DryRun: dryRun,
		Store: &state.Store{Dir: dir}}, in
}

// TestTransitionLogSaysWhatHappened: a transition whose IPVS step failed
// (exit 1) logs at error level that it failed and which step, never
// "transition applied"; one whose steps all succeeded logs "transition
// applied" with its changes; a dry run logs no "applied".
func TestTransitionLogSaysWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failing bool
		dryRun  bool
		want    []string
		notWant string
	}{
		{"every step applied", false, false, []string{`level=INFO msg="transition applied"`, "changes=4"}, "failed"},
		{"IPVS step failed", true, false, []string{`level=ERROR msg="transition failed: not every step applied"`, "failed_steps=ipvs-load changes=3"}, "transition applied"},
		{"dry run", false, true, nil, "applied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			var impl IPVS = fakeIPVS{j: &journal{}}
			if tc.failing {
				impl = failingApplyIPVS{fakeIPVS{j: &journal{}}}
			}
			e, _ := outcomeEngine(t, impl, tc.dryRun, &log)
			_, err := e.Handle(context.Background(), Event{Name: "VI_1", State: Master, Priority: 100, Key: state.NowEvent()})
			if (err != nil) != tc.failing {
				t.Errorf("err %v, want an error: %v", err, tc.failing)
			}
			got := log.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("log lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, tc.notWant) {
				t.Errorf("log has %q:\n%s", tc.notWant, got)
			}
		})
	}
}

// TestFIFODryRunCountsPlanned: a dry-run FIFO reader counts the events it
// handled as planned, none as applied.
func TestFIFODryRunCountsPlanned(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		var log bytes.Buffer
		e, _ := outcomeEngine(t, fakeIPVS{j: &journal{}}, dryRun, &log)
		st, err := ReadFIFO(context.Background(), strings.NewReader("INSTANCE \"VI_1\" MASTER 100\n"), e, e.Log, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := FIFOStats{Lines: 1, Applied: 1}
		if dryRun {
			want = FIFOStats{Lines: 1, Planned: 1}
		}
		if st != want {
			t.Errorf("dry run %v: %+v, want %+v", dryRun, st, want)
		}
	}
}
