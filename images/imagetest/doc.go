// Package imagetest boots the appliance disk image under qemu (software
// emulation, UEFI firmware) and checks it as an engineer would use it: the
// console, containment through its network ports, a power cut, and that a
// rebuild gives the same bytes. Its tests run from make image-test and
// never change the image they are given: each boots its own copy.
package imagetest
