/*
 * door_listen - listening sockets for the doors: a unix stream socket that never steals a live
 * service's path and can come from systemd socket activation, and a TCP socket on loopback.
 * Every descriptor returned is non-blocking and close-on-exec.
 */
#ifndef LOCALSA_DOORS_DOOR_LISTEN_H
#define LOCALSA_DOORS_DOOR_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A listening unix socket at path. If systemd passed one bound to path (LISTEN_PID is this
 * process, LISTEN_FDS counts from fd 3), that one is used and *bound is false. Otherwise a stale
 * socket file (nothing accepts on it) is replaced, a new socket is bound with mode, and *bound is
 * true: the caller unlinks path when done. -EADDRINUSE when something listens on path, -EEXIST
 * when path is not a socket, -ENAMETOOLONG, other negative errno.
 */
int door_listen_unix(const char *path, mode_t mode, int backlog, int *fd, bool *bound);

/*
 * Creates the missing directories above path (a socket's), each with mode and, unless group is
 * (gid_t)-1, that group: /run/localsa outside systemd. Existing directories are left as they are.
 */
int door_listen_make_dir(const char *path, mode_t mode, gid_t group);
/* Gives the socket file at path the group group (its mode then decides what the group may do). */
int door_listen_chgrp(const char *path, gid_t group);

/* A listening TCP socket on 127.0.0.1:port (SO_REUSEADDR). */
int door_listen_tcp_loopback(uint16_t port, int backlog, int *fd);

#endif
