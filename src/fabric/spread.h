/*
 * spread - when to start a fetch that every node of the fabric makes for the same event (a
 * trap 64, nodes booted together reaching their periodic refresh, an SM that moved, the SA
 * back after an outage): the function that picks the moment, shared by the daemon and the
 * churn benchmark. Pure: no clock, no I/O, randomness from the caller.
 *
 * A node holding a table of P ports assumes up to P nodes react; each asks R records. To keep
 * the SA's work at `sa_rate` records per second whatever the fabric's size (a query costs the
 * SA about SPREAD_QUERY_RECORDS records more: OpenSM answers a Get in ~75 us and spends ~3 us
 * per record of a table), the reactions start over a window of P x (R + SPREAD_QUERY_RECORDS)
 * / sa_rate seconds, capped at max_ms. Each node takes its own slot of the window, numbered
 * by its rank among the table's ports (every node sees the same table, so ranks differ), at a
 * uniformly random point of the slot's first half: the load is even and no two nodes start in
 * the same half slot. A node that does not know its rank starts anywhere in the window.
 *
 * Periodic work keeps that place in every period: periods start at multiples of the period on
 * the wall clock, which the nodes of a cluster share (NTP), so nodes that booted together, or
 * at any time, still take their own slots.
 */
#ifndef LOCALSA_FABRIC_SPREAD_H
#define LOCALSA_FABRIC_SPREAD_H

#include <stdint.h>

enum { SPREAD_QUERY_RECORDS = 25 };

struct spread_opts {
	uint32_t sa_rate;   /* records per second all nodes' reactions aim at; 0: no spread */
	uint32_t max_ms;    /* the window's cap */
};

/* The window for fetches of `records` records by the nodes of a `ports`-port fabric, ms. */
uint64_t spread_window_ms(const struct spread_opts *o, uint64_t ports, uint64_t records);
/* This node's moment, ms from the event: slot `rank` (< ports; else anywhere), rnd uniform. */
uint64_t spread_moment_ms(const struct spread_opts *o, uint64_t ports, uint64_t rank,
			  uint64_t records, uint64_t rnd);
/* The next moment of periodic work, ms after wall_ms (ms of the wall clock): this node's
 * moment (spread_moment_ms, modulo the period) after the start of a period. */
uint64_t spread_periodic_ms(const struct spread_opts *o, uint64_t period_ms, uint64_t wall_ms,
			    uint64_t ports, uint64_t rank, uint64_t records, uint64_t rnd);
/* A uniform 64-bit number from *state (splitmix64): seed it with anything node-specific. */
uint64_t spread_random(uint64_t *state);

#endif
