/*
 * snap_writer - publishes the cache as the shared-memory snapshot (cache/snap_format.h) that
 * liblocalsa reads: one writer, localsad's loop thread, with no lock against its readers. The
 * daemon's side only: liblocalsa never links it.
 *
 * The name is never left free while the writer lives: a new object (at start, or when the cache
 * outgrows the old one) is built complete under a temporary name and then renamed over the old
 * one, so a reader opening the name finds either publication, and if the new object cannot be
 * made (/dev/shm full: anyone can fill it) the old one stays named and served.
 */
#ifndef LOCALSA_CACHE_SNAP_WRITER_H
#define LOCALSA_CACHE_SNAP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/pr_cache.h"
#include "cache/snap_format.h"
#include "cache/snap_reader.h"

struct snap_writer;

struct snap_writer_opts {
	const char *name;		/* "/name": one slash, first; at most NAME_MAX bytes */
	mode_t socket_mode;		/* of the control socket: who may connect may read */
	union ibv_gid port_gid;
	uint16_t port_lid;
	const char *control_socket;	/* may be NULL */
	size_t min_half_size;		/* bytes; 0: 1 MiB */
};

struct snap_writer_stats {
	uint64_t publications;		/* this writer's ... */
	uint64_t patches, rebuilds;	/* ... of which patched by the changes, rebuilt whole */
	uint64_t last_changes;		/* destinations the last publication patched (0: rebuilt) */
	uint64_t publication;		/* the counter readers see */
	uint64_t object_size;
	uint64_t half_used;		/* bytes of the last publication's layout */
	uint64_t records, groups;
	uint32_t object_gen;
	uint32_t recreations;		/* objects created to grow */
	enum snap_state state;
};

/*
 * The object's mode: owner read-write; group and others may read if they may use the socket
 * (any bit of theirs in socket_mode). An object of the same name left by a dead daemon is
 * replaced (its readers see REPLACED); one held by a live writer gives -EADDRINUSE.
 * Publishes an empty snapshot. Errors: -EINVAL (name), -ENOSPC (/dev/shm full), -EPERM (the
 * name is another user's), -errno.
 */
int snap_writer_open(const struct snap_writer_opts *o, struct snap_writer **out);
/*
 * Bring the inactive half up to the cache and make it the active one. O(changes) when the half
 * was last written from the same cache and its change journal still holds what changed since
 * (keys of the last two publications); otherwise, and when a region of the half fills up, the
 * half is rebuilt whole, O(paths). A writer publishes one cache: pass another and it rebuilds.
 * A cache that no longer fits moves to a new object twice its size. On error the previous
 * publication stays named and served (-ENOSPC, -EFBIG: no room for a new object; -ENOMEM;
 * -EOVERFLOW: the cache broke its own counts).
 */
int snap_writer_publish(struct snap_writer *w, const struct pr_cache *c, uint32_t generation);
/* SNAP_LIVE or SNAP_HOLD (readers ask the daemon instead); other values: -EINVAL. */
int snap_writer_set_state(struct snap_writer *w, enum snap_state s);
void snap_writer_stats(const struct snap_writer *w, struct snap_writer_stats *out);
/* Marks the object STOPPED, releases its memory and unlinks the name. Accepts NULL. */
void snap_writer_close(struct snap_writer *w);
/*
 * A reader's view of the writer's own mapping, for threads of the writer's process (tests:
 * ThreadSanitizer sees races only through one mapping). Valid until the writer moves to a new
 * object (stats.recreations changes) or closes; snap_map_close() on it unmaps nothing.
 */
void snap_writer_map(const struct snap_writer *w, struct snap_map *m);

#endif
