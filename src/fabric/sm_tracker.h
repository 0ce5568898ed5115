/*
 * sm_tracker - knows where the master SM (and so the SA) is. It reads this
 * port's PortInfo with a 0-hop directed-route SMP, answered by the local
 * SMA on hardware and simulator alike, every poll period and on demand (when
 * the SA stops answering). A changed MasterSMLID or port LID is reported.
 */
#ifndef LOCALSA_FABRIC_SM_TRACKER_H
#define LOCALSA_FABRIC_SM_TRACKER_H

#include <stdint.h>

struct json;
struct loop;
struct mad_port;
struct sm_tracker;

/* old_sm_lid -> new_sm_lid; the port's sm_lid and lid are already updated. */
typedef void (*sm_change_fn)(void *arg, uint16_t old_sm_lid, uint16_t new_sm_lid);

int sm_tracker_new(struct loop *loop, struct mad_port *port, unsigned poll_ms,
		   sm_change_fn fn, void *arg, struct sm_tracker **out);
void sm_tracker_free(struct sm_tracker *t);
/* Reads PortInfo now (unless a read is in flight); the answer comes through the port's
 * dispatcher, which hands this tracker every directed-route answer. */
void sm_tracker_check(struct sm_tracker *t);
/* Its member of the stats object: "sm_changes". */
void sm_tracker_stats_json(const struct sm_tracker *t, struct json *j);

#endif
