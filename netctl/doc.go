// Package netctl contains hosts from the appliance, agentlessly, through
// netlink: tc filters on the ports of a Linux bridge (bridge mode), policy
// rules (router mode), or taking a whole link down (port mode).
//
// netctl is declarative. The caller holds the desired set of isolation
// policies and hands all of it to [Controller.Set], which applies the
// difference idempotently, reads the kernel state back to verify it, and
// returns a [Report] of every change for the caller to journal.
// [Controller.Verify] reports drift without changing anything. What
// Firebreak installed is recognised in the kernel by markers (tc
// priorities, rule priorities and protocol, a link alias; see [Markers]),
// so a restarted daemon adopts its own state instead of re-adding it.
//
// Time-based decisions (TTL expiry, commit-confirm rollback) are pure
// functions of a given time ([Evaluate]); safety checks ([Check]) are pure
// functions of facts the caller supplies.
//
// netctl must never journal, log-and-return, start goroutines of its own,
// or touch kernel objects outside its markers, except the bridge, its ports
// and the sink link it is configured to manage.
package netctl
