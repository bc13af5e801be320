package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// Folders and files of the bundle's modules and report.
const (
	ModulesDir    = "modules"                 // modules/<name>-<version>/{module.wasm,manifest.json,signature.json}
	ModulesReadMe = "modules/README.txt"      // which module each analysis ran, and whether its binary is here
	ModuleKeyFile = "modules/signing-key.pem" // the public key the modules are signed with
	ReportDir     = "report"                  // the incident report, in each language and format
)

// ModuleFile is a module whose binary the bundle holds.
type ModuleFile struct {
	cases.ModuleUsed
	Dir  string // modules/<name>-<version>
	Size int64  // of module.wasm
}

type namedFile struct {
	name string
	data []byte
}

// moduleFiles picks, among in.Modules, the exact binaries (by SHA-256) the
// case's analyses ran, and lays them out under modules/. A module whose
// binary the appliance no longer has is named in the README, not faked.
func moduleFiles(c *cases.Case, in Input) ([]ModuleFile, []namedFile) {
	byHash := map[string]*modhost.Package{}
	for _, p := range in.Modules {
		sum := sha256.Sum256(p.Wasm)
		byHash[hex.EncodeToString(sum[:])] = p
	}
	var used []cases.ModuleUsed
	seen := map[string]bool{}
	for _, a := range c.Analyses {
		for _, m := range a.Modules {
			if !seen[m.SHA256] {
				seen[m.SHA256] = true
				used = append(used, m)
			}
		}
	}
	if len(used) == 0 {
		return nil, nil
	}
	sort.Slice(used, func(i, j int) bool { return used[i].Name+used[i].Version < used[j].Name+used[j].Version })
	var mods []ModuleFile
	var files []namedFile
	var readme bytes.Buffer
	readme.WriteString("The detection modules the case's analyses ran, by the SHA-256 of their WebAssembly binary.\n" +
		"`firebreak evidence reproduce <bundle>` runs them again over the bundle's captures.\n" +
		"案件分析所用的检测模块(按 WebAssembly 文件的 SHA-256)。可用 firebreak evidence reproduce 复现分析结果。\n\n")
	for _, m := range used {
		p := byHash[m.SHA256]
		if p == nil {
			fmt.Fprintf(&readme, "%s %s sha256 %s signer %s: NOT INCLUDED, this appliance no longer has that binary\n", m.Name, m.Version, m.SHA256, m.Signer)
			continue
		}
		dir := ModulesDir + "/" + safeName(m.Name+"-"+m.Version)
		mods = append(mods, ModuleFile{ModuleUsed: m, Dir: dir, Size: int64(len(p.Wasm))})
		files = append(files, namedFile{dir + "/module.wasm", p.Wasm}, namedFile{dir + "/manifest.json", p.Manifest},
			namedFile{dir + "/signature.json", p.Signature})
		fmt.Fprintf(&readme, "%s %s sha256 %s signer %s: %s/\n", m.Name, m.Version, m.SHA256, m.Signer, dir)
	}
	files = append(files, namedFile{ModulesReadMe, readme.Bytes()})
	if len(in.ModuleKey) > 0 && len(mods) > 0 {
		files = append(files, namedFile{ModuleKeyFile, in.ModuleKey})
	}
	return mods, files
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
