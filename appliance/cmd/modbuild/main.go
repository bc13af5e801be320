// Command modbuild builds the first-party modules for embedding in the
// firebreak binary (make modules): modbuild -key KEY -out DIR MODULESDIR.
// It is a build tool and must never be shipped on the appliance.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/modbuild"
)

func main() {
	key := flag.String("key", "bin/module-signing.key", "ed25519 signing key (PKCS#8 PEM); created if missing")
	out := flag.String("out", "appliance/internal/modhost/firstparty/wasm", "output directory")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: modbuild [-key FILE] [-out DIR] MODULESDIR")
		os.Exit(2)
	}
	k, err := modbuild.LoadOrCreateKey(*key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "modbuild:", err)
		os.Exit(1)
	}
	built, err := modbuild.FirstParty(context.Background(), flag.Arg(0), *out, k)
	if err != nil {
		fmt.Fprintln(os.Stderr, "modbuild:", err)
		os.Exit(1)
	}
	fmt.Printf("built and signed %d modules: %v\n", len(built), built)
}
