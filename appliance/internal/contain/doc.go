// Package contain is the appliance's containment service: it keeps the
// desired set of isolations, applies it to the kernel through netctl,
// expires isolations on their TTL, rolls back unconfirmed ones at their
// commit-confirm deadline, and repairs drift, journaling every change in
// the case journal of the isolation it concerns.
//
// The desired set is a projection of the journal: an isolation is in force
// from its isolation.applied entry until its isolation.released, .expired
// or .rolled_back entry, so a restarted daemon rebuilds it by replaying the
// journals and adopts what the kernel already holds. The safety facts
// (gateways, the appliance's own addresses, later the capture's DNS and
// DHCP servers) come from the box itself and from [Facts] sources.
//
// contain never changes the kernel except through netctl, never keeps an
// isolation in force that its journal does not record, and never applies an
// isolation that netctl.Check refuses unless the engineer forced it — and
// then the journal says so.
package contain
