/*
 * fuzz_ctl_proto.c - the control protocol codec as the server and the clients meet it: every
 * line of the input parsed as a request (the `path` arguments decoded, re-encoded and parsed
 * again: the same arguments must come back; a `port` name decoded within its bounds), and the whole input fed to the incremental reply
 * reader in pieces whose sizes the input chooses, the way a socket delivers them. Records,
 * dump lines and error codes on the way. Traps if the codec contradicts itself.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire/ctl_proto.h"

static void request_line(char *line)
{
	struct ctl_request req, again;
	struct ctl_path_args a, b;
	char enc[CTL_MAX_LINE + 1], why[256];
	int n;

	if (ctl_parse(line, &req) < 0)
		return;
	if (!strcmp(req.cmd, "port")) {	/* the CLI's --port: name=CA:N */
		const char *name = ctl_arg(&req, "name");
		char ca[64];
		unsigned num = 0;

		if (name && ctl_port_name_decode(name, ca, sizeof(ca), &num) == 0 &&
		    (!*ca || strlen(ca) >= sizeof(ca) || !num || num > 254 || strchr(ca, ':')))
			__builtin_trap();
		return;
	}
	if (strcmp(req.cmd, "path")) {
		n = ctl_request_encode(enc, sizeof(enc), req.cmd, req.args, req.n_args);
		if (n > 0 && (enc[n - 1] != '\n' || strlen(enc) != (size_t)n))
			__builtin_trap();
		return;
	}
	if (ctl_path_decode(&req, &a, why, sizeof(why)) < 0)
		return;
	n = ctl_path_encode(&a, enc, sizeof(enc));
	if (n <= 0)
		__builtin_trap();	/* every decoded request can be sent again */
	enc[n - 1] = '\0';
	if (ctl_parse(enc, &again) < 0 || ctl_path_decode(&again, &b, NULL, 0) < 0 ||
	    memcmp(&a, &b, sizeof(a)))
		__builtin_trap();
}

static void reply_stream(const uint8_t *data, size_t size)
{
	char line[512];
	struct ctl_reply r;
	size_t off = 0, step = size ? 1 + data[0] % 97 : 1;

	ctl_reply_init(&r, line, sizeof(line), 64);
	while (off < size && !ctl_reply_done(&r)) {
		size_t n = size - off < step ? size - off : step;
		enum ctl_reply_event ev;
		ssize_t k = ctl_reply_feed(&r, (const char *)data + off, n, &ev);

		if (k < 0)
			return;
		if ((size_t)k > n || strlen(line) >= sizeof(line))
			__builtin_trap();
		off += (size_t)k;
		if (ev == CTL_REPLY_LINE) {
			struct ibv_path_record rec;
			size_t meta;

			(void)ctl_record_decode(line, strlen(line), &rec);
			if (ctl_dump_decode(line, &rec, &meta) == 0 && meta > strlen(line))
				__builtin_trap();
		} else if (ev == CTL_REPLY_STATUS) {
			if (ctl_reply_status(&r) > 64)
				__builtin_trap();	/* the count bound */
			(void)ctl_err_exit(ctl_reply_status(&r));
			(void)ctl_err_text(ctl_reply_status(&r));
			(void)strlen(ctl_reply_message(&r));
		} else if (k == 0) {
			__builtin_trap();	/* MORE without taking a byte, before the end */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *save = NULL, *line;
	char out[256];

	if (!text)
		return 0;
	reply_stream(data, size);
	memcpy(text, data, size);
	text[size] = '\0';
	/* an ERR line of the server, whatever its message holds: one line */
	if (size) {
		int n = ctl_reply_err(out, sizeof(out), -(int)(data[0] % 140), text);

		if (n > 0 && (out[n - 1] != '\n' || memchr(out, '\n', (size_t)n - 1)))
			__builtin_trap();
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		request_line(line);
	free(text);
	return 0;
}
