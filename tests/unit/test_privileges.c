/*
 * Unit tests for src/privileges.c: account specs resolve as chown(1) reads
 * them, and a drop is for good.  The drops run in a child process (the
 * test runner must keep its own account); they need root and are skipped
 * without it.
 */
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "privileges.h"

static void test_lookup(void **state)
{
	(void)state;
	struct privileges_account a;
	const struct passwd *nobody = getpwnam("nobody");
	if (!nobody)
		skip();
	uid_t nobody_uid = nobody->pw_uid;
	gid_t nobody_gid = nobody->pw_gid;

	assert_null(privileges_lookup("nobody", &a));
	assert_int_equal(a.uid, nobody_uid);
	assert_int_equal(a.gid, nobody_gid); /* the primary group */
	assert_null(privileges_lookup("nobody:0", &a));
	assert_int_equal(a.uid, nobody_uid);
	assert_int_equal(a.gid, 0);
	assert_null(privileges_lookup("root:root", &a));
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	char number[32]; /* nobody's uid as a number: its account, so its primary group */
	snprintf(number, sizeof number, "%u", (unsigned)nobody_uid);
	assert_null(privileges_lookup(number, &a));
	assert_int_equal(a.uid, nobody_uid);
	assert_int_equal(a.gid, nobody_gid);
	assert_null(privileges_lookup("4000000:4000001", &a)); /* numbers without accounts */
	assert_int_equal(a.uid, 4000000);
	assert_int_equal(a.gid, 4000001);

	assert_string_equal(privileges_lookup("no-such-account-here", &a), "no such user");
	assert_string_equal(privileges_lookup("nobody:no-such-group-here", &a), "no such group");
	assert_string_equal(privileges_lookup("", &a), "empty user name");
	assert_string_equal(privileges_lookup(":0", &a), "empty user name");
	assert_string_equal(privileges_lookup("nobody:", &a), "empty group name");
	assert_string_equal(privileges_lookup("4000000", &a),
	                    "a numeric user without an account needs a group (USER:GROUP)");
	assert_string_equal(privileges_lookup("12a", &a), "no such user");
}

/* Runs fn in a child; returns its exit status (0: every check held). */
static int in_child(int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* As root: drop to nobody; every id is nobody's, the group list is only
 * nobody's group, root cannot be taken back, and a second drop to the same
 * account is a no-op while one to another account needs root. */
static int child_drop(void)
{
	char err[256];
	const struct passwd *pw = getpwnam("nobody");
	if (!pw)
		return 10;
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	struct privileges_account nobody, root;
	if (privileges_lookup("nobody", &nobody) || privileges_lookup("root", &root))
		return 10;
	if (privileges_drop(&nobody, "nobody", err, sizeof err) != 0)
		return 11;
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) || r != uid || e != uid || s != uid)
		return 12;
	if (getresgid(&rg, &eg, &sg) || rg != gid || eg != gid || sg != gid)
		return 13;
	gid_t groups[8];
	int n = getgroups(8, groups);
	if (n != 1 || groups[0] != gid)
		return 14;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 15;
	if (privileges_drop(&nobody, "nobody", err, sizeof err) != 0) /* already that account */
		return 16;
	if (privileges_drop(&root, "root", err, sizeof err) != -1 || !strstr(err, "switching account needs root"))
		return 17;
	/* The refused switch changed nothing. */
	if (getresuid(&r, &e, &s) || r != uid || e != uid || s != uid || getgroups(8, groups) != 1)
		return 18;
	return 0;
}

static void test_drop(void **state)
{
	(void)state;
	if (geteuid() != 0 || !getpwnam("nobody"))
		skip();
	assert_int_equal(in_child(child_drop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
