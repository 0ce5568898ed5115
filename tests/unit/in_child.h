/*
 * in_child.h - runs a test step in a child process with an alarm, so that a step that hangs (a
 * FIFO opened for reading) or crashes (a heap overflow under ASan) fails its check instead of
 * stopping the whole test program.
 */
#ifndef LOCALSA_TEST_IN_CHILD_H
#define LOCALSA_TEST_IN_CHILD_H

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* fn's return value as the child's exit status, or 128 + the signal that ended it. */
static inline int in_child(int (*fn)(const void *), const void *arg, unsigned timeout_s)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		alarm(timeout_s);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
