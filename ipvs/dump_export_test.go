package ipvs

// SetDumpRecvLen makes the dump reads ask for n bytes until restore is
// called; it serves the VM test of the re-dump after a reply that did
// not fit (package ipvs_test).
func SetDumpRecvLen(n int) (restore func()) {
	old := dumpRecvLen
	dumpRecvLen = n
	return func() { dumpRecvLen = old }
}
