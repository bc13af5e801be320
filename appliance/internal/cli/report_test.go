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
		{"zh", []string{"网络安全事件应急响应报告", "一、文档控制", "二、事件概况", "三、接收请求与事件现象", "四、事件确认与定级", "五、处置过程", "六、事件抑制与清除",
			"七、证据提取与固定", "八、分析与攻击还原", "九、入侵原因分析", "十、处置结果与影响", "十一、加固建议", "十二、报告与通报", "十三、服务时限", "十四、局限性说明",
			"附录B 备注与任务", "附录C 记录完整性", "Ⅲ级", "王芳"}},
		{"en", []string{"Incident response report", "1. Document control", "2. Summary", "3. Request for help", "4. Confirmation and grading", "5. Course of the response",
			"6. Containment", "7. Evidence", "8. Analysis and attack reconstruction", "9. Root cause", "10. Results and impact", "11. Recommendations",
			"12. Notifications", "13. Service times", "14. Limitations", "B. Notes and tasks", "C. Integrity of this record", "Level III", "Web server defaced, webshell suspected"}},
	} {
		html := mustFB(t, dir, "report", id, "--lang", tt.lang)
		for _, s := range tt.sections {
			assert.Contains(t, html, s, "%s report", tt.lang)
		}
		assert.NotContains(t, html, "<script>alert(1)</script>", "text from the case is escaped")
		assert.Contains(t, html, "&lt;script&gt;alert(1)&lt;/script&gt;")
		assert.Contains(t, html, "collect /var/log/auth.log", "tasks are in it")
	}
	md := mustFB(t, dir, "report", id, "--lang", "en", "--format", "md")
	assert.Contains(t, md, "## 14. Limitations")
	assert.Contains(t, md, "&lt;script&gt;", "Markdown escapes the case's text too")
	code, _, errs := fb(t, dir, "report", id, "--format", "docx")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errs, "--format must be html, md or pdf")
	code, _, errs = fb(t, dir, "report", id, "--lang", "fr")
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
			assert.Contains(t, strings.Join(strings.Fields(string(txt)), ""), map[string]string{"zh": "局限性说明", "en": "Limitations"}[lang])
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
