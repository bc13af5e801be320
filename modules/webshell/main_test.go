//go:build !wasip1

package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/sdk"
)

const testdata = "../../../shared/testdata/webshells"

func file(b *sdk.Builder, path string, size int) sdk.Event {
	b.Reset()
	b.Begin(sdk.Header{Kind: sdk.KindFile})
	b.Str(sdk.FieldPath, path)
	b.Uint(sdk.FieldSize, uint64(size))
	b.End()
	ev, _, _ := b.Batch().Next()
	return ev
}

func scan(t *testing.T, path string, content []byte) []sdk.Alert {
	t.Helper()
	sdk.Test.Reset()
	s := &shell{}
	if err := s.Init(nil); err != nil {
		t.Fatal(err)
	}
	var b sdk.Builder
	if err := s.File(file(&b, path, len(content)), content); err != nil {
		t.Fatal(err)
	}
	return sdk.Test.Alerts
}

func TestWebshellSmall(t *testing.T) {
	for _, tc := range []struct {
		path, content string
		want          uint32
	}{
		{"/var/www/html/x.php", `<?php @eval($_POST['pass']);?>`, sidRequestEval},
		{"/var/www/html/y.php", `<?php $a=base64_decode("YXNzZXJ0");$a($_POST['x']);?>`, sidFamily},
		{"/var/www/html/index.html", `<html><body><div style="display:none"><a href="http://casino.example/">casino</a></div></body></html>`, sidTampered},
		{"/var/www/html/ok.php", `<?php echo htmlspecialchars($_GET['q']); ?>`, 0},
		{"/var/www/html/notes.txt", `<?php eval($_POST['x']); ?>`, 0}, // not a web file
	} {
		t.Run(tc.path, func(t *testing.T) {
			alerts := scan(t, tc.path, []byte(tc.content))
			if tc.want == 0 {
				if len(alerts) != 0 {
					t.Fatalf("false positive: %s", alerts[0].Signature)
				}
				return
			}
			if len(alerts) != 1 || alerts[0].SignatureID != tc.want {
				t.Fatalf("alerts %+v, want one with signature ID %d", alerts, tc.want)
			}
		})
	}
}

// TestWebshellCorpus is the module's detection and false-positive rate on
// the shared webshell corpus, per family. The appliance's triage tests run
// the same corpus through the real host; this is the fast loop for tuning.
func TestWebshellCorpus(t *testing.T) {
	f, err := os.Open(filepath.Join(testdata, "labels.csv"))
	if err != nil {
		t.Skipf("shared webshell corpus not found at %s: %v", testdata, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ n, hit int }
	fam := map[string]*tally{}
	var mal, malHit, ben, fp int
	for _, r := range rows[1:] {
		path, label, family := r[0], r[1], r[2]
		b, err := os.ReadFile(filepath.Join(testdata, path))
		if err != nil {
			t.Fatal(err)
		}
		alerts := scan(t, "/var/www/"+path, b)
		if fam[family] == nil {
			fam[family] = &tally{}
		}
		fam[family].n++
		if len(alerts) > 0 {
			fam[family].hit++
		}
		if label == "malicious" {
			mal++
			if len(alerts) > 0 {
				malHit++
			} else {
				t.Logf("missed %s", path)
			}
		} else {
			ben++
			if len(alerts) > 0 {
				fp++
				t.Logf("false positive %s: %s %v", path, alerts[0].Signature, alerts[0].Metadata)
			}
		}
	}
	for name, c := range fam {
		t.Logf("%-28s %2d/%2d flagged", name, c.hit, c.n)
	}
	t.Logf("malicious: %d/%d detected; benign: %d/%d flagged", malHit, mal, fp, ben)
	if malHit*100 < mal*95 || fp > 1 {
		t.Errorf("detection %d/%d (want >= 95%%), false positives %d (want <= 1)", malHit, mal, fp)
	}
	_ = strings.ToLower
}

// A page changed weeks after the rest of its directory is reported for
// review; a directory updated as a whole is not.
func TestWebshellChangedUnlikeNeighbours(t *testing.T) {
	sdk.Test.Reset()
	s := &shell{}
	if err := s.Init(nil); err != nil {
		t.Fatal(err)
	}
	day := int64(24 * 3600 * 1e9)
	old := int64(1_700_000_000) * 1e9
	var b sdk.Builder
	deliverAt := func(path string, mtime int64) {
		b.Reset()
		b.Begin(sdk.Header{Kind: sdk.KindFile, Time: mtime})
		b.Str(sdk.FieldPath, path)
		b.Uint(sdk.FieldMTime, uint64(mtime))
		b.End()
		ev, _, _ := b.Batch().Next()
		if err := s.File(ev, []byte("<?php echo 'page'; ?>")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 8 {
		deliverAt(fmt.Sprintf("/var/www/html/page%d.php", i), old+int64(i)*3600e9)
		deliverAt(fmt.Sprintf("/var/www/shop/item%d.php", i), old+90*day) // all updated together
	}
	deliverAt("/var/www/html/404.php", old+60*day)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(sdk.Test.Alerts) != 1 || sdk.Test.Alerts[0].SignatureID != sidOutlier ||
		!strings.Contains(sdk.Test.Alerts[0].Signature, "/var/www/html/404.php changed 59 days after") {
		t.Fatalf("alerts %+v, want 404.php alone", sdk.Test.Alerts)
	}
}
