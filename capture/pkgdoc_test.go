package capture

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPackageDocs checks that every package of the analyser says what it is
// for and what it must never do.
func TestPackageDocs(t *testing.T) {
	for _, dir := range []string{".", "internal/pcapio", "internal/decode", "internal/flow", "internal/reasm",
		"internal/engine", "internal/eve", "internal/testutil", "internal/app/dns", "internal/app/http",
		"internal/app/tls", "internal/app/ssh", "internal/app/dhcp", "internal/app/smb"} {
		t.Run(dir, func(t *testing.T) {
			pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.FromSlash(dir), nil, parser.ParseComments|parser.PackageClauseOnly)
			require.NoError(t, err)
			var doc string
			for name, p := range pkgs {
				if strings.HasSuffix(name, "_test") {
					continue
				}
				for _, f := range p.Files {
					if f.Doc != nil {
						doc += f.Doc.Text()
					}
				}
			}
			require.NotEmpty(t, doc, "package %s has no doc comment", dir)
			assert.Contains(t, doc, "never", "package %s doc must say what it must never do", dir)
		})
	}
}
