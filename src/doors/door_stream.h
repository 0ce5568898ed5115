/*
 * door_stream - the stream-client core of every socket door: listeners, accept (paused when out
 * of descriptors), a cap on clients shared fairly between users, framing by the door, one
 * request at a time per client and in order, bounded input and output, long replies produced as
 * the client reads them, idle and unfinished-message timeouts, and per-client fairness. A door
 * is a codec over it (door_stream_codec); the ACM and control sockets are two such codecs.
 *
 * Slots: max_clients in all, reserved_root of them for uid 0 (root's connections fill those
 * first). When the door is full, a newcomer takes the slot of the user with the most
 * connections - its least recently active one, idle ones first - if that user then still holds
 * more than the newcomer and closing it makes room for the newcomer; otherwise it is turned
 * away. One user can hold every slot only while nobody else wants one.
 *
 * Callbacks may run while a client is in any state; the core frees a client only from its own
 * event handlers, never inside a codec callback, so ds_*() calls are safe anywhere.
 */
#ifndef LOCALSA_DOORS_DOOR_STREAM_H
#define LOCALSA_DOORS_DOOR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct quota;
struct ds_client;
struct door_stream;

#define DS_UID_NONE ((uid_t)-1)	/* a TCP client: no SO_PEERCRED */

struct door_stream_codec {
	/*
	 * The length of the first whole message in buf[0..len): > 0; 0 while more bytes are
	 * needed; < 0 when the stream cannot be framed (the codec may queue an error reply; the
	 * client closes once its output is flushed). len never exceeds in_max: a frame must fit.
	 */
	ssize_t (*frame)(struct ds_client *c, const uint8_t *buf, size_t len);
	/*
	 * Serves one message (len bytes; the codec may modify them during the call). Replies with
	 * ds_reply(), or parks (ds_park) and calls ds_resume() once the answer is queued, from
	 * inside this call or later. The next message is served only after that.
	 */
	void (*dispatch)(struct ds_client *c, uint8_t *msg, size_t len);
	/*
	 * Optional: input ended (eof) or stalled past partial_ms (timeout) inside a message; buf
	 * holds its len bytes. The codec may queue a last reply; the client then closes.
	 */
	void (*unfinished)(struct ds_client *c, const uint8_t *buf, size_t len, bool timeout);
	/* Optional: more of a long reply begun with ds_produce(), called while the unsent output
	 * is below out_high. Returns true once the reply is complete. */
	bool (*produce)(struct ds_client *c);
	/* Optional: the client goes away; cancel what it waits for: after this, nothing of the
	 * codec may refer to c. */
	void (*closing)(struct ds_client *c);
};

struct door_stream_opts {
	const char *name;		/* for the log: "control", "ACM" */
	const struct door_stream_codec *codec;
	void *door;			/* ds_door() */
	size_t state_size;		/* per-client codec state, zeroed: ds_state() */
	size_t in_max;			/* the longest message */
	size_t out_high;		/* unsent bytes above which a client is not read or served */
	size_t out_max;			/* hard cap of unsent bytes: out_high + the longest reply */
	unsigned max_clients;
	unsigned reserved_root;		/* of max_clients, slots only uid 0 may take */
	unsigned idle_ms;		/* no request, input or output this long: close; 0: never */
	unsigned partial_ms;		/* a message begun this long ago unfinished, or a last reply
					 * unread this long: close */
	unsigned batch;			/* messages per client per turn before others; 0: 16 */
	uint32_t tuple_burst;		/* new cache tuples per user: ds_quota() */
	uint32_t tuple_per_s;
	const void *busy_msg;		/* sent to a client turned away (may be NULL) */
	size_t busy_len;
};

struct door_stream_stats {
	uint64_t clients_now, clients_total;
	uint64_t rejected;		/* turned away: the door was full */
	uint64_t evicted;		/* closed to give a slot to a user with fewer */
	uint64_t idle_closed;		/* closed by the idle timeout */
	uint64_t stalled;		/* closed: a message or the last reply went unfinished */
	uint64_t accept_pauses;		/* accept failed (out of descriptors): paused */
};

int door_stream_new(struct loop *loop, const struct door_stream_opts *opts,
		    struct door_stream **out);
/* Serves clients accepted on fd, a listening socket the core now owns (closes). tcp: no
 * credentials (DS_UID_NONE), TCP_NODELAY. */
int door_stream_listen(struct door_stream *ds, int fd, bool tcp);
/* Serves a unix socket at path (door_listen_unix(): never a live service's; systemd's if it
 * passed one, then *inherited). A socket file the core made is removed when the door goes. */
int door_stream_listen_unix(struct door_stream *ds, const char *path, mode_t mode, int backlog,
			    bool *inherited);
/* Closes every client (closing() first) and listener, removes its socket file. Accepts NULL. */
void door_stream_free(struct door_stream *ds);
void door_stream_stats(const struct door_stream *ds, struct door_stream_stats *out);

/* --- for codecs ----------------------------------------------------------- */

void *ds_door(const struct ds_client *c);
void *ds_state(struct ds_client *c);
/* The peer's uid (SO_PEERCRED), DS_UID_NONE for TCP. */
uid_t ds_uid(const struct ds_client *c);
/* The peer's quota of new cache tuples, shared by every connection of its user. */
struct quota *ds_quota(struct ds_client *c);
/* Queues reply bytes. -E2BIG past out_max (nothing queued). */
int ds_reply(struct ds_client *c, const void *buf, size_t len);
/* Bytes queued and not yet sent. */
size_t ds_unsent(const struct ds_client *c);
/* The current request is answered later: no other is served meanwhile. */
void ds_park(struct ds_client *c);
/* The parked request's answer is queued: serve the next (from any context). */
void ds_resume(struct ds_client *c);
/* The current request's reply goes on through codec->produce() as the client reads. */
void ds_produce(struct ds_client *c);
/* Close once the queued output is sent (or unread for partial_ms); no more requests. */
void ds_close_after_reply(struct ds_client *c);

#endif
