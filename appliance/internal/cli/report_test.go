package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The report of a case worked through the CLI, in Chinese and English,
// carries every section filled from the case, with hostile text inert.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	defer d.Close()
	id, _ := buildCase(t, dir)
	if td := sharedTestdataOrEmpty(); td != "" {
		mustFB(t, dir, "analyze", "--quiet", "--case", id, "--eve", os.DevNull, filepath.Join(td, "pcap", "ssh-hassh.pcap"))
	}
	for _, tt := range []struct {
		lang     string
		sections []string
	}{
		{"zh", []string{"网络安全事件应急响应报告", "一、事件概况", "二、接收请求", "三、事件确认与定级", "四、处置过程", "五、事件抑制", "六、证据清单", "七、流量分析", "八、服务时限", "九、备注与任务", "十、记录完整性", "Ⅲ级", "王芳"}},
		{"en", []string{"Incident response report", "1. Summary", "2. Request for help", "3. Confirmation and grading", "4. Course of the response", "5. Containment", "6. Evidence", "7. Traffic analysis", "8. Service times", "9. Notes and tasks", "10. Integrity of this record", "Level III", "Web server defaced, webshell suspected"}},
	} {
		html := mustFB(t, dir, "report", id, "--lang", tt.lang)
		for _, s := range tt.sections {
			assert.Contains(t, html, s, "%s report", tt.lang)
		}
		assert.NotContains(t, html, "<script>alert(1)</script>", "text from the case is escaped")
		assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
		assert.Contains(t, html, "collect /var/log/auth.log", "tasks are in it")
	}
	code, _, errs := fb(t, dir, "report", id, "--lang", "fr")
	assert.Equal(t, ExitFail, code)
	assert.Contains(t, errs, "lang must be zh or en")

	// As a PDF, turned into PNG pages to be looked at.
	for _, tool := range []string{"chromium", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed; the PDF is not rendered", tool)
		}
	}
	out := os.Getenv("FIREBREAK_ARTEFACTS")
	if out == "" {
		out = t.TempDir()
	}
	for _, lang := range []string{"zh", "en"} {
		pdf := filepath.Join(out, "report-"+lang+".pdf")
		os.Remove(pdf)
		mustFB(t, dir, "report", id, "--lang", lang, "--out", pdf)
		png := filepath.Join(out, "report-"+lang)
		b, err := exec.Command("pdftoppm", "-png", "-r", "60", pdf, png).CombinedOutput()
		require.NoError(t, err, "%s", b)
		pages, _ := filepath.Glob(png + "*.png")
		assert.NotEmpty(t, pages)
		txt, err := exec.Command("pdftotext", pdf, "-").Output()
		if err == nil {
			assert.Contains(t, strings.Join(strings.Fields(string(txt)), ""), map[string]string{"zh": "事件概况", "en": "Summary"}[lang])
		}
	}
}

func sharedTestdataOrEmpty() string {
	dir := filepath.Join("..", "..", "..", "..", "shared", "testdata")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
