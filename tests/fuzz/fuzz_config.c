/*
 * fuzz_config.c - localsad's config file: the input is the file (any bytes: NUL, CR, long lines,
 * numbers that overflow), read by config_load_file() from a memfd as the daemon reads its file;
 * then the port and receiver lists it names, as the daemon reads them at start and at reload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"
#include "fuzz.h"

static void quiet(void *arg, const char *path, unsigned line, bool error, const char *msg)
{
	(void)arg;
	(void)path;
	(void)line;
	(void)error;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_port ports[CONFIG_PORTS_MAX];
	union ibv_gid *gids = NULL;
	struct config c;
	char path[64], msg[256];
	size_t n = 0;
	bool all;
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_defaults(&c);
	if (config_load_file(&c, path, quiet, NULL, NULL) == 0) {
		(void)config_ports(&c, ports, &n, msg, sizeof(msg));
		if (config_targets(&c, &all, &gids, &n, msg, sizeof(msg)) == 0)
			free(gids);
	}
	close(fd);
	return 0;
}
