// Package triage is host triage and eradication: it collects a
// compromised host's files (a disk mounted on the box, a triage archive, or
// a live Linux host over SSH) into the evidence vault with their original
// metadata, volatile data first; runs the host detection modules over what
// it collected; asks the cleanup modules for a plan; and applies, one
// approved step at a time, the changes an engineer approved, journaling
// each with before and after hashes so that it can be undone byte for
// byte.
//
// It never changes a target before the original is in the vault, never
// applies a step an engineer did not approve, never follows a symbolic link
// or a ".." out of a target (every path goes through os.OpenRoot), never
// writes a file in place (a new file is renamed over the old one, so each
// file is either untouched or fully changed), and never logs a credential.
package triage
