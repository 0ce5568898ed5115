/*
 * spread - see spread.h.
 */
#include "fabric/spread.h"

/* Inputs beyond these give a window at the cap anyway; clamping keeps products in 64 bits. */
#define SPREAD_MAX_PORTS (UINT64_C(1) << 20)
#define SPREAD_MAX_RECORDS (UINT64_C(1) << 24)

uint64_t spread_window_ms(const struct spread_opts *o, uint64_t ports, uint64_t records)
{
	uint64_t w;

	if (!o->sa_rate || !ports)
		return 0;
	if (ports > SPREAD_MAX_PORTS)
		ports = SPREAD_MAX_PORTS;
	if (records > SPREAD_MAX_RECORDS)
		records = SPREAD_MAX_RECORDS;
	w = ports * (records + SPREAD_QUERY_RECORDS) * 1000 / o->sa_rate;
	return w < o->max_ms ? w : o->max_ms;
}

uint64_t spread_moment_ms(const struct spread_opts *o, uint64_t ports, uint64_t rank,
			  uint64_t records, uint64_t rnd)
{
	uint64_t w = spread_window_ms(o, ports, records), half_slot;

	if (!w)
		return 0;
	if (ports > SPREAD_MAX_PORTS)
		ports = SPREAD_MAX_PORTS;
	if (rank >= ports)
		return rnd % w;
	half_slot = w / ports / 2;
	return rank * w / ports + (half_slot ? rnd % half_slot : 0);
}

uint64_t spread_periodic_ms(const struct spread_opts *o, uint64_t period_ms, uint64_t wall_ms,
			    uint64_t ports, uint64_t rank, uint64_t records, uint64_t rnd)
{
	uint64_t offset, at;

	if (!period_ms)
		return 0;
	offset = spread_moment_ms(o, ports, rank, records, rnd) % period_ms;
	at = wall_ms - wall_ms % period_ms + offset;	/* this period's moment */
	if (at <= wall_ms)
		at += period_ms;
	return at - wall_ms;
}

uint64_t spread_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
