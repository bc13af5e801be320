//go:build !wasip1

package main

import (
	"os"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func deliver(t *testing.T, path, content string) []sdk.Alert {
	t.Helper()
	sdk.Test.Reset()
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindFile})
	b.Str(sdk.FieldPath, path)
	b.End()
	ev, _, _ := b.Batch().Next()
	if err := (&accounts{}).File(ev, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return sdk.Test.Alerts
}

func TestAccounts(t *testing.T) {
	for _, tc := range []struct {
		name, path, content string
		want                []uint32
	}{
		{"clean passwd", "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n", nil},
		{"second uid 0", "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n", []uint32{sidUID0}},
		{"system account with shell", "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/bin/sh\n", []uint32{sidSystemLogin}},
		{"duplicate uid", "/etc/passwd", "alice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/bash\n", []uint32{sidDupUID}},
		{"empty shadow", "/etc/shadow", "root:$6$abc$def:19000:0:99999:7:::\nguest::19000:0:99999:7:::\nlocked:!:19000::::::\n", []uint32{sidEmptyPass}},
		{"des hash", "/etc/shadow", "old:abCDefGHijKLm:19000:0:99999:7:::\n", []uint32{sidWeakHash}},
		{"sudoers", "/etc/sudoers.d/x", "%sudo ALL=(ALL:ALL) ALL\nbackup ALL=(ALL) NOPASSWD: ALL\n", []uint32{sidSudoers}},
		{"other file", "/etc/hosts", "toor:x:0:0::/root:/bin/bash\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := deliver(t, tc.path, tc.content)
			var got []uint32
			for _, a := range alerts {
				got = append(got, a.SignatureID)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v (%+v), want %v", got, alerts, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// The Velociraptor passwd fixture is an ordinary system: no findings.
func TestAccountsBenignFixture(t *testing.T) {
	b, err := os.ReadFile("../../../shared/testdata/hostfs/velociraptor-fixtures/etc/passwd")
	if err != nil {
		t.Skipf("shared hostfs fixtures not found: %v", err)
	}
	for _, a := range deliver(t, "/etc/passwd", string(b)) {
		t.Errorf("false positive on the benign fixture: %s", a.Signature)
	}
}
