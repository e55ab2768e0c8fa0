/*
 * infile — see include/infile.h.
 */
#include "infile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *infile_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a plain file";
}

/* 0 for a regular file; otherwise -1 with the reason in why. */
static int infile_judge(const struct stat *st, char *why, size_t whylen)
{
	if (S_ISREG(st->st_mode))
		return 0;
	snprintf(why, whylen, "not a regular file: %s", infile_kind(st->st_mode));
	return -1;
}

FILE *infile_open(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (infile_judge(&st, why, whylen) < 0) {
		close(fd);
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	FILE *f = fdopen(fd, "rb");
	if (f == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
	}
	return f;
}

int infile_check(const char *path, char *why, size_t whylen)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	return infile_judge(&st, why, whylen);
}
