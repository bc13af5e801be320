// Command fbinit is process 1 of the Firebreak appliance image: it brings the
// box up and keeps firebreak serve running. All of it is in package boot;
// main must never hold logic of its own.
package main

import "github.com/firebreak-ir/firebreak/images/internal/boot"

func main() { boot.Main() }
