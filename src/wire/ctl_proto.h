/*
 * ctl_proto - the control socket's wire format: the one codec that localsad's control server,
 * liblocalsa, the localsa CLI and the benchmarks use; nothing else formats or parses a control
 * line. Pure: no I/O, no allocation, no globals.
 *
 * A request is one line: a command word, then key=value words, separated by blanks. A reply is
 * "OK <n>\n" and n lines, or one "ERR <CODE> <message>\n" line. PathRecords travel as 128 hex
 * digits (the 64 wire bytes). Error codes map to negative errno values and to the CLI's exit
 * status through one table (ctl_err_*).
 */
#ifndef LOCALSA_WIRE_CTL_PROTO_H
#define LOCALSA_WIRE_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/sa.h>

#define CTL_MAX_LINE 4096	/* a request line, newline included */
#define CTL_MAX_ARGS 16
#define CTL_RECORD_HEX 128	/* hex digits of one PathRecord */

/* --- requests --- */

struct ctl_kv {
	const char *key;
	const char *val;
};

struct ctl_request {
	char *cmd;
	struct ctl_kv args[CTL_MAX_ARGS];
	size_t n_args;
};

/*
 * Splits line (modified in place; no newline, a trailing '\r' is dropped) into a request.
 * -EINVAL for an empty line, a word without '=' or with an empty key, or more than
 * CTL_MAX_ARGS arguments. The request points into line.
 */
int ctl_parse(char *line, struct ctl_request *req);
/* Only key=value words (a reply line such as "removed=3" or a dump line); same rules. */
int ctl_parse_kv(char *line, struct ctl_kv *args, size_t max, size_t *n);
/* The value of the first argument named key, or NULL. */
const char *ctl_arg(const struct ctl_request *req, const char *key);
const char *ctl_kv_get(const struct ctl_kv *args, size_t n, const char *key);
/* Strict unsigned parse: decimal or 0x-hex, whole string, <= max. -EINVAL, -ERANGE. */
int ctl_parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * Writes "cmd key=value ...\n" and a NUL into buf. Returns the line's length (newline included,
 * NUL not), -E2BIG when it needs more than cap or CTL_MAX_LINE bytes, -EINVAL for an empty word,
 * a key holding '=' or a word holding a blank, a newline or '\r'.
 */
int ctl_request_encode(char *buf, size_t cap, const char *cmd, const struct ctl_kv *args,
		       size_t n);

/* "key=value key=value\n": a reply line such as "shm=/localsa" or "removed=3". As
 * ctl_request_encode(); -EINVAL for no argument. */
int ctl_kv_encode(char *buf, size_t cap, const struct ctl_kv *args, size_t n);

/* The `path` command's arguments, as the client sends them and the server reads them. */
enum ctl_path_has {
	CTL_PATH_SGID = 1 << 0,
	CTL_PATH_DGID = 1 << 1,
	CTL_PATH_DLID = 1 << 2,
	CTL_PATH_PKEY = 1 << 3,
	CTL_PATH_SERVICE_ID = 1 << 4,
	CTL_PATH_QOS_CLASS = 1 << 5,
	CTL_PATH_SL = 1 << 6,
	CTL_PATH_TCLASS = 1 << 7,
	CTL_PATH_SA = 1 << 8,		/* sa=1: skip the cache, ask the SA */
};

struct ctl_path_args {
	uint32_t has;			/* CTL_PATH_* */
	union ibv_gid sgid, dgid;
	uint64_t service_id;
	uint16_t dlid;			/* 1 .. 0xbfff */
	uint16_t pkey;
	uint16_t qos_class;		/* 0 .. 0xfff */
	uint8_t sl;			/* 0 .. 15 */
	uint8_t tclass;
};

/* "path sgid=.. dgid=.. dlid=N pkey=0x.. service_id=0x.. qos_class=N sl=N tclass=N sa=1\n"
 * with the arguments a->has names. Returns the length as ctl_request_encode(). */
int ctl_path_encode(const struct ctl_path_args *a, char *buf, size_t cap);
/*
 * The arguments of a parsed `path` request. On -EINVAL, why (when not NULL) gets the sentence
 * for the ERR EINVAL reply: an unknown argument, a number out of range, a GID that is none,
 * no destination, DLID 0. GIDs: any inet_pton(AF_INET6) form or a bare port GUID.
 */
int ctl_path_decode(const struct ctl_request *req, struct ctl_path_args *out, char *why,
		    size_t why_cap);

/* `port name=CA:N`: the port of that name, its GID and state, as one reply line
 * "ca=.. port=N gid=.. lid=N served=1" (the CLI's --port). The name "CA:N": a CA name (no
 * blank, '=' or ':'; shorter than ca_cap) and a port number 1-254. -EINVAL. */
int ctl_port_name_decode(const char *s, char *ca, size_t ca_cap, unsigned *port_num);

/* --- replies --- */

/*
 * Each writes one reply line and a NUL into buf and returns its length (newline included), or
 * -E2BIG when cap is too small:
 *   ctl_reply_ok      "OK <n>\n"
 *   ctl_reply_err     "ERR <CODE> <msg>\n": CODE from ctl_err_code(err); newlines and '\r' in
 *                     msg become blanks; a msg too long for buf is cut (the line stays whole)
 *   ctl_reply_record  128 hex digits and "\n" (cap >= CTL_RECORD_HEX + 2)
 */
int ctl_reply_ok(char *buf, size_t cap, uint64_t n);
int ctl_reply_err(char *buf, size_t cap, int err, const char *msg);
int ctl_reply_record(char *buf, size_t cap, const struct ibv_path_record *rec);

/*
 * An incremental reader of one reply: feed it the bytes as they arrive; it hands out the status
 * line, then each of the n lines, one per call, and stops at the end of the reply (bytes after
 * it belong to the next reply of a pipelined connection and are left unconsumed). Bounded: a
 * line longer than the caller's line buffer, a count above max_lines, a NUL byte or a malformed
 * status line is -EPROTO, after which the reader refuses everything.
 */
enum ctl_reply_event {
	CTL_REPLY_MORE,		/* no complete line yet: feed more */
	CTL_REPLY_STATUS,	/* the status line: ctl_reply_status() */
	CTL_REPLY_LINE,		/* one of the n lines, in line (NUL-terminated, no newline) */
};

struct ctl_reply {
	char *line;		/* the caller's buffer: the current line */
	size_t cap;		/* its size: lines of up to cap - 1 bytes */
	size_t len;
	uint64_t max_lines;
	uint64_t n, got;	/* lines announced, lines handed out */
	int status;		/* n, or the ERR code's negative errno */
	size_t msg;		/* ERR: offset of the message in line */
	uint8_t phase;
};

void ctl_reply_init(struct ctl_reply *r, char *line, size_t cap, uint64_t max_lines);
/*
 * Consumes bytes of buf[0..len) up to and including the first newline (or all of them when
 * there is none) and returns how many, with *ev saying what completed; 0 with CTL_REPLY_MORE
 * once the reply is done. -EPROTO as above.
 */
ssize_t ctl_reply_feed(struct ctl_reply *r, const char *buf, size_t len,
		       enum ctl_reply_event *ev);
/* After CTL_REPLY_STATUS: n >= 0 for "OK n", else the negative errno of the ERR code. */
static inline int ctl_reply_status(const struct ctl_reply *r) { return r->status; }
/* The ERR line's message ("" if none); valid until the next feed. */
static inline const char *ctl_reply_message(const struct ctl_reply *r) { return r->line + r->msg; }
/* The whole reply has been read (the ERR line, or "OK n" and its n lines). */
bool ctl_reply_done(const struct ctl_reply *r);

/* --- records and hex --- */

void ctl_hex_encode(const void *buf, size_t len, char *out); /* out: 2*len+1 */
int ctl_hex_decode(const char *hex, void *buf, size_t len);  /* exactly 2*len digits */
/* A record's 128 hex digits in s[0..len): 0 or -EINVAL (*rec written only on success). */
int ctl_record_decode(const char *s, size_t len, struct ibv_path_record *rec);

/*
 * A `dump` line: "tuple=N flags=0xF source=S source_lid=N generation=N age_s=N rec=HEX".
 * decode finds the record (the last word, rec=) and *meta_len, the length of what precedes it.
 */
struct ctl_dump_entry {
	uint16_t tuple;
	uint8_t flags;			/* the tuple's PR_TUPLE_* */
	const char *source;		/* "sa", "set", "cli" */
	uint16_t source_lid;
	uint32_t generation;
	uint64_t age_s;
	struct ibv_path_record rec;
};

int ctl_dump_encode(char *buf, size_t cap, const struct ctl_dump_entry *e);
int ctl_dump_decode(const char *line, struct ibv_path_record *rec, size_t *meta_len);

/* --- the error-code table --- */

/* The CLI's exit statuses. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAIL = 1,
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_NO_PATH = 3,
};

/*
 * CODE <-> negative errno: NO_PATH -ENOENT, TIMEOUT -ETIMEDOUT, SA_ERROR -EREMOTEIO, EINVAL,
 * EBUSY, EPERM, E2BIG, EIO. An errno without a code is sent as EIO; a code the reader does not
 * know (a newer daemon) reads as -EIO.
 */
const char *ctl_err_code(int err);
int ctl_err_from_code(const char *code, size_t len);
/* The CLI's exit status for a request that ended with err (0: CTL_EXIT_OK). */
int ctl_err_exit(int err);
/* The CLI's words for the SA's answers (NO_PATH, TIMEOUT, SA_ERROR); NULL for the others
 * (the caller says strerror(-err)). */
const char *ctl_err_text(int err);

#endif
