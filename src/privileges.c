/*
 * privileges — see privileges.h.  getpwnam_r / getgrnam_r with buffers on
 * the stack; a name that is all digits is taken as a number when no
 * account has that name (as chown(1) does).
 */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Enough for any sane passwd / group entry; a bigger one is "not found". */
#define PRIVILEGES_ENTRY_BUF 8192

static bool privileges_number(const char *text, unsigned long *out)
{
	if (!*text)
		return false;
	for (const char *p = text; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	unsigned long v = strtoul(text, NULL, 10);
	if (errno || v >= (unsigned long)(uid_t)-1)
		return false;
	*out = v;
	return true;
}

const char *privileges_lookup(const char *spec, struct privileges_account *out)
{
	char user[256], buf[PRIVILEGES_ENTRY_BUF];
	const char *colon = strchr(spec, ':');
	size_t user_len = colon ? (size_t)(colon - spec) : strlen(spec);
	if (user_len == 0)
		return "empty user name";
	if (user_len >= sizeof user)
		return "user name too long";
	memcpy(user, spec, user_len);
	user[user_len] = '\0';

	struct passwd pw, *pwp = NULL;
	unsigned long number;
	if (getpwnam_r(user, &pw, buf, sizeof buf, &pwp) == 0 && pwp) {
		out->uid = pw.pw_uid;
		out->gid = pw.pw_gid;
	} else if (privileges_number(user, &number)) {
		out->uid = (uid_t)number;
		/* A uid with an account takes its primary group; one without a
		 * passwd entry has none to take. */
		if (getpwuid_r(out->uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp)
			out->gid = pw.pw_gid;
		else if (!colon)
			return "a numeric user without an account needs a group (USER:GROUP)";
	} else {
		return "no such user";
	}
	if (!colon)
		return NULL;

	const char *group = colon + 1;
	if (!*group)
		return "empty group name";
	struct group gr, *grp = NULL;
	if (getgrnam_r(group, &gr, buf, sizeof buf, &grp) == 0 && grp)
		out->gid = gr.gr_gid;
	else if (privileges_number(group, &number))
		out->gid = (gid_t)number;
	else
		return "no such group";
	return NULL;
}

int privileges_drop(const struct privileges_account *account, const char *spec, char *err, size_t errlen)
{
	const struct privileges_account a = *account;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (getresuid(&ruid, &euid, &suid) == 0 && getresgid(&rgid, &egid, &sgid) == 0 && ruid == a.uid &&
	    euid == a.uid && suid == a.uid && rgid == a.gid && egid == a.gid && sgid == a.gid)
		return 0; /* started as that account already: nothing to give up */
	if (geteuid() != 0) {
		snprintf(err, errlen, "server.user '%s': switching account needs root (running as uid %u)",
		         spec, (unsigned)geteuid());
		return -1;
	}
	/* Supplementary groups first (they need root), then the gid (it needs
	 * root too), then the uid, after which nothing can be changed back. */
	if (setgroups(1, &a.gid) < 0 || setresgid(a.gid, a.gid, a.gid) < 0 ||
	    setresuid(a.uid, a.uid, a.uid) < 0) {
		snprintf(err, errlen, "server.user '%s': cannot switch to uid %u gid %u: %s", spec,
		         (unsigned)a.uid, (unsigned)a.gid, strerror(errno));
		return -1;
	}
	if (a.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "server.user '%s': root could be taken back after the switch", spec);
		return -1;
	}
	return 0;
}
