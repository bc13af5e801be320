//go:build !linux

package pcapio

import "os"

// mapFile maps files on Linux only; elsewhere they are read.
func mapFile(*os.File) *mapped { return nil }
