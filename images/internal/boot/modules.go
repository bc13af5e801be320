package boot

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// modDB is what depmod wrote for the image's kernel: each module's file and
// dependencies (modules.dep) and the device patterns it drives
// (modules.alias).
type modDB struct {
	dir     string              // /lib/modules/VERSION
	deps    map[string][]string // module name → its file then its dependencies' files, load last to first
	aliases []modAlias
	loaded  map[string]bool // files loaded (or built in)
}

type modAlias struct{ pattern, module string }

// modName is the kernel's name for a module file: base name, no .ko, - as _.
func modName(file string) string {
	return strings.ReplaceAll(strings.TrimSuffix(path.Base(file), ".ko"), "-", "_")
}

func parseModulesDep(r io.Reader) (map[string][]string, error) {
	deps := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(file, ".ko") {
			return nil, fmt.Errorf("modules.dep: bad line %q", sc.Text())
		}
		deps[modName(file)] = append([]string{file}, strings.Fields(rest)...)
	}
	return deps, sc.Err()
}

func parseModulesAlias(r io.Reader) ([]modAlias, error) {
	var out []modAlias
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 || f[0] != "alias" {
			return nil, fmt.Errorf("modules.alias: bad line %q", sc.Text())
		}
		out = append(out, modAlias{pattern: f[1], module: modName(f[2])})
	}
	return out, sc.Err()
}

func openModDB(dir string) (*modDB, error) {
	db := &modDB{dir: dir, loaded: map[string]bool{}}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if db.deps, err = parseModulesDep(f); err != nil {
		return nil, err
	}
	a, err := os.Open(filepath.Join(dir, "modules.alias"))
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if db.aliases, err = parseModulesAlias(a); err != nil {
		return nil, err
	}
	return db, nil
}

// match returns the modules whose alias patterns match a device's modalias.
func (db *modDB) match(modalias string) []string {
	var out []string
	for _, a := range db.aliases {
		if ok, _ := path.Match(a.pattern, modalias); ok {
			out = append(out, a.module)
		}
	}
	return out
}

// load loads a module and, first, its dependencies. A module already in
// the kernel is not an error.
func (db *modDB) load(name string) error {
	files, ok := db.deps[modName(name)]
	if !ok {
		if builtin(name) {
			return nil
		}
		return fmt.Errorf("module %s: %w", name, ErrNoModule)
	}
	for i := len(files) - 1; i >= 0; i-- {
		file := files[i]
		if db.loaded[file] {
			continue
		}
		if err := finitModule(filepath.Join(db.dir, file)); err != nil {
			return fmt.Errorf("load %s: %w", modName(file), err)
		}
		db.loaded[file] = true
	}
	return nil
}

func builtin(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/module", modName(name)))
	return err == nil
}

func finitModule(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// coldplug loads the drivers of the devices present now, and reports how
// many modules it loaded. Loading a bus driver (virtio_pci) makes new
// devices appear, so callers repeat it until it loads nothing.
func (db *modDB) coldplug(logf func(string, ...any)) int {
	paths, _ := filepath.Glob("/sys/bus/*/devices/*/modalias")
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, m := range db.match(strings.TrimSpace(string(b))) {
			files := db.deps[m]
			if len(files) == 0 || db.loaded[files[0]] {
				continue
			}
			if err := db.load(m); err != nil {
				db.loaded[files[0]] = true // tried once; never retried in a loop
				logf("driver for %s: %v", path.Base(path.Dir(p)), err)
				continue
			}
			n++
		}
	}
	return n
}
