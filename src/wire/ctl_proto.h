/*
 * ctl_proto - the control socket's wire format, shared by localsad and the
 * localsa CLI. A request is one line: a command word, then key=value words.
 * A reply is "OK <n>\n" and n lines, or one "ERR <code> <message>\n" line.
 * PathRecords travel as 128 hex digits (the 64 wire bytes).
 */
#ifndef LOCALSA_WIRE_CTL_PROTO_H
#define LOCALSA_WIRE_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_LINE 4096
#define CTL_MAX_ARGS 16

struct ctl_kv {
	const char *key;
	const char *val;
};

struct ctl_request {
	char *cmd;
	struct ctl_kv args[CTL_MAX_ARGS];
	size_t n_args;
};

/* Splits line (modified in place, no newline) into a request. -EINVAL for an
 * empty line, a word without '=', or more than CTL_MAX_ARGS arguments. */
int ctl_parse(char *line, struct ctl_request *req);
const char *ctl_arg(const struct ctl_request *req, const char *key);
/* Strict unsigned parse: decimal or 0x-hex, whole string, <= max. */
int ctl_parse_u64(const char *s, uint64_t max, uint64_t *out);
void ctl_hex_encode(const void *buf, size_t len, char *out); /* out: 2*len+1 */
int ctl_hex_decode(const char *hex, void *buf, size_t len);  /* exactly 2*len digits */

#endif
