//go:build !wasip1

package main

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func run(t testing.TB, lines []string) []sdk.Alert {
	t.Helper()
	sdk.Test.Reset()
	a := newAuth()
	if err := a.Init(nil); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	for _, l := range lines {
		b.Begin(sdk.Header{Kind: sdk.KindAuthLog})
		b.Str(sdk.FieldLine, l)
		b.Str(sdk.FieldSource, "/var/log/auth.log")
		b.End()
	}
	if err := a.Batch(b.Batch()); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	return sdk.Test.Alerts
}

func TestAuthlogGuessingThenSuccess(t *testing.T) {
	var lines []string
	for i := 0; i < 12; i++ {
		lines = append(lines, "Nov 23 03:10:"+string(rune('1'+i%9))+"0 web01 sshd[900]: Failed password for root from 203.0.113.9 port 4000"+string(rune('0'+i%10))+" ssh2")
	}
	lines = append(lines, "Nov 23 03:11:30 web01 sshd[901]: Accepted password for root from 203.0.113.9 port 40100 ssh2")
	lines = append(lines, "Nov 23 03:12:00 web01 sshd[902]: Failed password for alice from 198.51.100.2 port 1 ssh2") // one failure: nothing
	alerts := run(t, lines)
	var sids []uint32
	for _, a := range alerts {
		sids = append(sids, a.SignatureID)
		t.Log(a.Signature)
	}
	if len(sids) != 2 || sids[0] != sidSuccess || sids[1] != sidBruteForce {
		t.Fatalf("signature IDs %v, want success then guessing", sids)
	}
}

// Failed logins from btmp count as guessing.
func TestAuthlogBtmp(t *testing.T) {
	var lines []string
	for range 10 {
		lines = append(lines, "btmp failed admin ssh:notty 203.0.113.4")
	}
	alerts := run(t, lines)
	if len(alerts) != 1 || alerts[0].SignatureID != sidBruteForce {
		t.Fatalf("alerts %+v, want the guessing", alerts)
	}
}

func TestAuthlogNewAddress(t *testing.T) {
	alerts := run(t, []string{
		"Nov 23 03:11:30 web01 sshd[1]: Accepted publickey for bob from 10.0.0.5 port 1 ssh2: ED25519 SHA256:x",
		"Nov 23 04:11:30 web01 sshd[2]: Accepted publickey for bob from 10.0.0.5 port 2 ssh2: ED25519 SHA256:x",
		"wtmp login bob pts/3 198.51.100.77",
	})
	if len(alerts) != 1 || alerts[0].SignatureID != sidNewAddr {
		t.Fatalf("alerts %+v, want one new-address login", alerts)
	}
}

// TestAuthlogOpenSSHSample finds the password guessing in loghub's
// OpenSSH sample: 183.62.140.253 alone failed 286 times.
func TestAuthlogOpenSSHSample(t *testing.T) {
	f, err := os.Open("../../../shared/testdata/logs/loghub/OpenSSH_2k.log")
	if err != nil {
		t.Skipf("shared log samples not found: %v", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	alerts := run(t, lines)
	found := false
	for _, a := range alerts {
		t.Log(a.Signature)
		if strings.Contains(a.Signature, "from 183.62.140.253:") {
			found = true
		}
	}
	t.Logf("%d guessing sources in %d lines", len(alerts), len(lines))
	if !found || len(alerts) < 3 {
		t.Fatalf("the guessing from 183.62.140.253 was not found (%d alerts)", len(alerts))
	}
}

func FuzzAuthlogParse(f *testing.F) {
	for _, s := range []string{
		"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
		"Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
		"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
		"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
		"2026-11-23T03:11:30.123456+00:00 web01 sshd[1]: Accepted publickey for bob from 10.0.0.5 port 1 ssh2",
		"wtmp login mic pts/9 192.168.1.2",
		"btmp failed root ssh:notty 203.0.113.4",
		"Failed password for  from  from ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := parse(line, 0)
		if !ok {
			return
		}
		if e.kind != kindNone && e.addr == "" {
			t.Fatalf("parsed %q without an address", line)
		}
		if strings.Contains(e.addr, " ") {
			t.Fatalf("address %q holds a space", e.addr)
		}
	})
}
