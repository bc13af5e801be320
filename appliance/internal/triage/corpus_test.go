package triage_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/triage"
)

// collectScan collects a directory target and scans it.
func collectScan(t *testing.T, e *env, dir string) *triage.ScanResult {
	t.Helper()
	ctx := context.Background()
	tg, err := triage.Open(ctx, triage.Spec{Target: dir})
	require.NoError(t, err)
	_, err = e.svc.Collect(ctx, "alice", e.caseID, tg)
	require.NoError(t, tg.Close())
	require.NoError(t, err)
	res, err := e.svc.Scan(ctx, "alice", e.caseID, triage.Canonical(dir))
	require.NoError(t, err)
	return res
}

// TestTriageWebshellCorpus is the webshell module's detection rate on the
// shared corpus of real webshells and its false positives on real
// WordPress and Tomcat files, per family, through the appliance's module
// host: the files are collected into the vault and scanned from there.
func TestTriageWebshellCorpus(t *testing.T) {
	corpus := needTestdata(t, "webshells")
	f, err := os.Open(filepath.Join(corpus, "labels.csv"))
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	// The shells are live attack tools: copied into a private temporary
	// directory, never under a served web root.
	dir := filepath.Join(t.TempDir(), "webroot")
	label, family := map[string]string{}, map[string]string{}
	for _, r := range rows[1:] {
		copyFile(t, filepath.Join(corpus, r[0]), dir, r[0], 0o644)
		label["/"+r[0]], family["/"+r[0]] = r[1], r[2]
	}
	e := newEnv(t)
	res := collectScan(t, e, dir)
	flagged := map[string]bool{}
	for _, fd := range res.Findings {
		if fd.Module == "webshell" {
			flagged[fd.Path] = true
		}
	}
	type tally struct {
		label  string
		n, hit int
	}
	fams := map[string]*tally{}
	var mal, malHit, ben, fp int
	for p, l := range label {
		fam := family[p]
		if fams[fam] == nil {
			fams[fam] = &tally{label: l}
		}
		fams[fam].n++
		if flagged[p] {
			fams[fam].hit++
		}
		switch {
		case l == "malicious":
			mal++
			if flagged[p] {
				malHit++
			} else {
				t.Logf("missed: %s", p)
			}
		default:
			ben++
			if flagged[p] {
				fp++
				t.Logf("false positive: %s", p)
			}
		}
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "\n%-26s %-9s %s\n", "family", "label", "flagged")
	for _, n := range names {
		fmt.Fprintf(&tbl, "%-26s %-9s %d/%d\n", n, fams[n].label, fams[n].hit, fams[n].n)
	}
	fmt.Fprintf(&tbl, "malicious detected: %d/%d (%.1f%%); benign flagged: %d/%d", malHit, mal, 100*float64(malHit)/float64(mal), fp, ben)
	t.Log(tbl.String())
	assert.GreaterOrEqual(t, malHit*100, mal*95, "detection below 95%%")
	assert.LessOrEqual(t, fp, 1, "more than one false positive")
}

// TestTriageLogs finds the password guessing in the OpenSSH and Linux
// syslog samples, the logins in a real wtmp, and the scanner runs in the
// access logs.
func TestTriageLogs(t *testing.T) {
	logs := needTestdata(t, "logs")
	dir := filepath.Join(t.TempDir(), "host")
	write(t, dir, "etc/hostname", "LabSZ\n", 0o644)
	copyFile(t, filepath.Join(logs, "loghub/OpenSSH_2k.log"), dir, "var/log/auth.log", 0o640)
	copyFile(t, filepath.Join(logs, "loghub/Linux_2k.log"), dir, "var/log/secure", 0o640)
	copyFile(t, filepath.Join(logs, "velociraptor/wtmp.1"), dir, "var/log/wtmp.1", 0o664)
	copyFile(t, filepath.Join(logs, "velociraptor/access.log"), dir, "var/log/apache2/access.log", 0o640)
	copyFile(t, filepath.Join(logs, "apache-http-logs-scanners/acunetix.txt"), dir, "var/log/apache2/access.log.1", 0o640)
	copyFile(t, filepath.Join(logs, "apache-http-logs-scanners/netsparker.txt"), dir, "var/log/apache2/access.log.2", 0o640)
	copyFile(t, filepath.Join(logs, "apache-http-logs-scanners/w3af.txt"), dir, "var/log/apache2/access.log.3", 0o640)
	e := newEnv(t)
	res := collectScan(t, e, dir)
	t.Logf("delivered %d auth-log lines and login records, %d web requests", res.Lines, res.Requests)
	count := map[string]int{}
	srcs := map[string]bool{}
	for _, f := range res.Findings {
		count[f.Module+" "+f.Path]++
		if f.Module == "authlog" || f.Module == "weblog" {
			t.Logf("%-8s %-28s %s", f.Module, f.Path, f.Signature)
		}
		srcs[f.Module+" "+f.Src] = true
	}
	for k, n := range count {
		t.Logf("%3d findings: %s", n, k)
	}
	for _, want := range []string{
		"authlog 183.62.140.253", // OpenSSH sample: 286 failed passwords
		"authlog 187.141.143.180",
		"weblog 192.168.4.25",  // Acunetix
		"weblog 192.168.4.164", // Netsparker
		"weblog 192.168.4.163", // w3af
		"weblog 170.238.36.21", // masscan, in the internet-facing log
	} {
		assert.True(t, srcs[want], "not found: %s", want)
	}
	assert.GreaterOrEqual(t, count["authlog /var/log/auth.log"], 5, "guessing sources in the OpenSSH sample")
	assert.Positive(t, count["authlog /var/log/secure"], "guessing in the Linux syslog sample (pam_unix)")
	assert.Greater(t, res.Requests, 8000)
}
