// Package cases is the case model: the state of one incident-response case
// as a pure projection of its journal, and the validation of every command
// that would change it.
//
// A Case is built by applying committed journal entries in order with
// Apply; replaying the same entries always gives the same Case. A command
// (Open, Note, SetPhase, Classify, ...) checks a request against the current
// state and returns a Change, the entry type and payload to append. The
// caller appends it to the journal and then applies the committed entry; the
// Case never changes on its own.
//
// The package must never do I/O other than parse a reader it is handed
// (ParseAssetsCSV), never read a clock (every time comes from an entry or
// an argument), and never change a Case except through Apply. Policy (which
// phase may follow which, what a closed case accepts) lives in the command
// constructors; Apply enforces only what it needs to stay consistent, so an
// old journal still replays after the policy changes.
package cases
