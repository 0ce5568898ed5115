/*
 * pr_push - the distribution protocol on top of standard SA MADs: a
 * distributor pushes each node's slice of the PathRecord table with
 * SubnAdmSet(PathRecord) (many records in one RMPP message: "SetTable"),
 * authenticated by the SM_Key in the SA header, and withdraws destinations
 * with SubnAdmDelete(PathRecord, mask SGID|DGID). The AttributeModifier of a
 * Set says how to apply it.
 */
#ifndef LOCALSA_WIRE_PR_PUSH_H
#define LOCALSA_WIRE_PR_PUSH_H

enum {
	/* The records are the sender's whole slice for their SGIDs: paths an
	 * earlier Set gave for those SGIDs and this one lacks are dropped. */
	PR_PUSH_FULL = 1u << 0,
	/* No records: the distributor is alive and the receiver is in sync. */
	PR_PUSH_HEARTBEAT = 1u << 1,
};

#endif
