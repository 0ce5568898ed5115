/* ctl_proto - see ctl_proto.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/bytes.h"
#include "wire/ctl_proto.h"

int ctl_parse(char *line, struct ctl_request *req)
{
	char *save = NULL, *w;

	memset(req, 0, sizeof(*req));
	req->cmd = strtok_r(line, " \t", &save);
	if (!req->cmd)
		return -EINVAL;
	while ((w = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(w, '=');

		if (!eq || eq == w || req->n_args == CTL_MAX_ARGS)
			return -EINVAL;
		*eq = '\0';
		req->args[req->n_args].key = w;
		req->args[req->n_args].val = eq + 1;
		req->n_args++;
	}
	return 0;
}

const char *ctl_arg(const struct ctl_request *req, const char *key)
{
	for (size_t i = 0; i < req->n_args; i++)
		if (!strcmp(req->args[i].key, key))
			return req->args[i].val;
	return NULL;
}

int ctl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void ctl_hex_encode(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = buf;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

int ctl_hex_decode(const char *hex, void *buf, size_t len)
{
	unsigned char *b = buf;

	if (strlen(hex) != 2 * len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int hi = wire_hex_digit(hex[2 * i]), lo = wire_hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
